import Foundation
import LCDBCore

/// Parameter vectors to and from files.
///
/// safetensors: one tensor per parameter, `<layer>.weight` and `<layer>.bias`
/// with PyTorch shapes (a `Parameter` layer is the tensor `<layer>` itself),
/// so `safetensors.numpy.load_file` and `load_state_dict` read it back.
/// .npy: one flat array in the collection's flattening order.
public enum VectorFiles {
    /// Tensor names and shapes of a collection's parameters, in flattening order.
    public static func tensorNames(_ collection: LayerCollection) -> [(name: String, shape: [Int], range: Range<Int>)] {
        collection.namedParameters().map { ($0.name, $0.shape, $0.offset ..< $0.offset + $0.numel) }
    }

    /// Reads a vector over `collection` as `Scalar`, decoding each tensor
    /// straight into place; `nonFinite` counts NaN and infinite values per tensor.
    public static func read<Scalar: BLASScalar>(_ path: String, over collection: LayerCollection, as _: Scalar.Type)
        throws -> (vector: ParameterVector<Scalar>, nonFinite: [(tensor: String, count: Int)]) {
        let source = try VectorFileSource(path, over: collection)
        try ParameterVector<Scalar>.requireMemory(over: collection, "the vector in '\(path)'")
        var values = [Scalar](repeating: 0, count: collection.numel)
        try values.withUnsafeMutableBufferPointer { buffer in
            if let base = buffer.baseAddress { try source.read(offset: 0, count: buffer.count, into: base) }
        }
        return (try ParameterVector(collection: collection, values: values), source.nonFinite)
    }

    /// The same, as Doubles (exact).
    public static func read(_ path: String, over collection: LayerCollection) throws
        -> (values: [Double], nonFinite: [(tensor: String, count: Int)]) {
        let (vector, nonFinite) = try read(path, over: collection, as: Double.self)
        return (vector.values, nonFinite)
    }

    public static func write(_ vector: AnyParameterVector, to path: String) throws {
        try write(over: vector.collection, dtype: vector.dtype, to: path) { emit in
            switch vector {
            case .float32(let v): try v.values.withUnsafeBytes { try emit($0) }
            case .float64(let v): try v.values.withUnsafeBytes { try emit($0) }
            }
        }
    }

    /// Writes a vector over `collection` whose values (`dtype`, little-endian,
    /// flattening order) `values` passes to `emit` a piece at a time, in
    /// order: safetensors keeps each layer's tensors in that order, so the
    /// file's data is the vector's bytes as they are, after the header (a
    /// .npy file's too). The file is written beside its target and renamed
    /// into place when complete.
    public static func write(over collection: LayerCollection, dtype: DType, to path: String,
                             values: (_ emit: (UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        let tensorDType: TensorDType = dtype == .float32 ? .f32 : .f64
        let header: Data
        if path.lowercased().hasSuffix(".npy") {
            header = NPYFile.header(shape: [collection.numel], dtype: tensorDType)
        } else if path.lowercased().hasSuffix(".safetensors") {
            header = SafetensorsFile.header(for: tensorNames(collection).map { ($0.name, tensorDType, $0.shape) })
        } else {
            throw InteropError(path, "the file name must end in .safetensors or .npy")
        }
        let writer = try FileWriter(path)
        try writer.write(header)
        var written = 0
        try values { bytes in
            written += bytes.count
            try writer.write(bytes)
        }
        // The pieces must be the whole vector: a short write is a bug, not a file.
        guard written == collection.numel * tensorDType.size else {
            throw InteropError(path, "the vector's values came to \(written) bytes, not \(collection.numel * tensorDType.size); nothing was written")
        }
        try writer.close()
    }
}
