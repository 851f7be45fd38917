import LCDBCore

/// A vector file (safetensors with a tensor per parameter, or one flat .npy
/// array) opened over a collection and read a piece at a time, in the
/// collection's flattening order: an import holds one piece, never the
/// vector (a 7B-parameter model's float32 gradient is 28 GB). Opening
/// checks every name and shape, so a wrong file fails before anything is
/// read or stored; reading counts the non-finite values of each tensor.
public final class VectorFileSource {
    private enum Layout {
        /// Each parameter's tensor and where its values go in the vector.
        case safetensors(SafetensorsFile, [(tensor: SafetensorsFile.Tensor, range: Range<Int>)])
        case npy(NPYFile.Layout)
    }

    public let path: String
    public let collection: LayerCollection
    private let layout: Layout
    private var scratch: [UInt8] = []
    private var nonFiniteCounts: [String: Int] = [:]
    private let tensorOrder: [String]

    /// The tensors (in file order of the collection) holding NaN or
    /// infinite values among those read so far, with their counts.
    public var nonFinite: [(tensor: String, count: Int)] {
        tensorOrder.compactMap { name in nonFiniteCounts[name].map { (name, $0) } }
    }

    public init(_ path: String, over collection: LayerCollection) throws {
        self.path = path
        self.collection = collection
        if path.lowercased().hasSuffix(".npy") {
            let layout = try NPYFile.layout(of: path)
            guard layout.shape == [collection.numel] else {
                throw InteropError(path, "a vector over this collection is one flat array of shape (\(collection.numel),); the file has \(layout.shape)")
            }
            guard layout.dtype.isFloatingPoint else {
                throw InteropError(path, "the array is \(layout.dtype.rawValue), not floating point")
            }
            self.layout = .npy(layout)
            tensorOrder = ["(array)"]
            return
        }
        let file = try SafetensorsFile.open(path) // the header only; values are read per piece
        var tensors: [(tensor: SafetensorsFile.Tensor, range: Range<Int>)] = []
        for (name, shape, range) in VectorFiles.tensorNames(collection) {
            // A Parameter layer exported by PyTorch may also be called `<layer>.weight`.
            guard let tensor = file.tensor(named: name) ?? file.tensor(named: name + ".weight") else {
                throw InteropError(path, "no tensor '\(name)' for layer '\(name.split(separator: ".").dropLast().joined(separator: "."))'; the file has \(file.tensors.prefix(5).map(\.name).joined(separator: ", "))\(file.tensors.count > 5 ? ", ..." : "")")
            }
            guard tensor.shape == shape else {
                throw InteropError(path, "tensor '\(tensor.name)' has shape \(tensor.shape), the collection expects \(shape)")
            }
            guard tensor.dtype.isFloatingPoint else {
                throw InteropError(path, "tensor '\(tensor.name)' is \(tensor.dtype.rawValue), not a floating-point tensor")
            }
            tensors.append((tensor, range))
        }
        layout = .safetensors(file, tensors)
        tensorOrder = tensors.map(\.tensor.name)
    }

    /// Values `offset ..< offset + count` of the vector (flattening order)
    /// decoded into `target`; non-finite values are counted.
    public func read<Scalar: BinaryFloatingPoint>(offset: Int, count: Int, into target: UnsafeMutablePointer<Scalar>) throws {
        let wanted = offset ..< offset + count
        switch layout {
        case .npy(let layout):
            try decode(wanted, of: layout.dtype, at: layout.dataOffset, bigEndian: layout.bigEndian, into: target)
            tally(target, count, tensor: "(array)")
        case .safetensors(let file, let tensors):
            // The tensors overlapping the range, in order (weight, then bias).
            for (tensor, range) in tensors where range.overlaps(wanted) {
                let part = max(range.lowerBound, wanted.lowerBound) ..< min(range.upperBound, wanted.upperBound)
                let destination = target + (part.lowerBound - offset)
                let elements = (part.lowerBound - range.lowerBound) ..< (part.upperBound - range.lowerBound)
                try file.withRawBytes(of: tensor, elements: elements, scratch: &scratch) { bytes in
                    TensorDType.decode(tensor.dtype, bytes, offset: 0, count: part.count, into: destination)
                }
                tally(destination, part.count, tensor: tensor.name)
            }
        }
    }

    /// Reads `elements` of a flat array at `dataOffset` through the reused scratch.
    private func decode<Scalar: BinaryFloatingPoint>(_ elements: Range<Int>, of dtype: TensorDType, at dataOffset: Int,
                                                     bigEndian: Bool, into target: UnsafeMutablePointer<Scalar>) throws {
        let byteCount = elements.count * dtype.size
        guard byteCount > 0 else { return }
        if scratch.count < byteCount { scratch = [UInt8](repeating: 0, count: byteCount) }
        try scratch.withUnsafeMutableBytes { buffer in
            try FileRegion.read(path, offset: dataOffset + elements.lowerBound * dtype.size, count: byteCount, into: buffer.baseAddress!)
            TensorDType.decode(dtype, UnsafeRawBufferPointer(rebasing: buffer[0 ..< byteCount]), offset: 0, count: elements.count,
                               bigEndian: bigEndian, into: target)
        }
    }

    /// Counts the non-finite values among `count` just decoded for `tensor`.
    private func tally<Scalar: BinaryFloatingPoint>(_ values: UnsafeMutablePointer<Scalar>, _ count: Int, tensor: String) {
        var bad = 0
        for index in 0 ..< count where !values[index].isFinite { bad += 1 }
        if bad > 0 { nonFiniteCounts[tensor, default: 0] += bad }
    }
}
