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
        var values = [Scalar](repeating: 0, count: collection.numel)
        var nonFinite: [(tensor: String, count: Int)] = []
        if path.lowercased().hasSuffix(".npy") {
            let layout = try NPYFile.layout(of: path)
            guard layout.shape == [collection.numel] else {
                throw InteropError(path, "a vector over this collection is one flat array of shape (\(collection.numel),); the file has \(layout.shape)")
            }
            // Decoded straight into Scalar: float32 data keeps its bits; counted after conversion.
            values = try NPYFile.values(layout, elements: 0 ..< collection.numel, path: path, as: Scalar.self)
            let bad = values.filter { !$0.isFinite }.count
            if bad > 0 { nonFinite.append(("(array)", bad)) }
            return (try ParameterVector(collection: collection, values: values), nonFinite)
        }
        let file = try SafetensorsFile.read(path)
        for (name, shape, range) in tensorNames(collection) {
            // A Parameter layer exported by PyTorch may also be called `<layer>.weight`.
            guard let tensor = file.tensor(named: name) ?? file.tensor(named: name + ".weight") else {
                throw InteropError(path, "no tensor '\(name)' for layer '\(name.split(separator: ".").dropLast().joined(separator: "."))'; the file has \(file.tensors.prefix(5).map(\.name).joined(separator: ", "))\(file.tensors.count > 5 ? ", ..." : "")")
            }
            guard tensor.shape == shape else {
                throw InteropError(path, "tensor '\(tensor.name)' has shape \(tensor.shape), the collection expects \(shape)")
            }
            try values.withUnsafeMutableBufferPointer { buffer in
                let target = buffer.baseAddress! + range.lowerBound
                try file.decode(tensor, into: target)
                var bad = 0
                for i in 0 ..< range.count where !target[i].isFinite { bad += 1 }
                if bad > 0 { nonFinite.append((tensor.name, bad)) }
            }
        }
        return (try ParameterVector(collection: collection, values: values), nonFinite)
    }

    /// The same, as Doubles (exact).
    public static func read(_ path: String, over collection: LayerCollection) throws
        -> (values: [Double], nonFinite: [(tensor: String, count: Int)]) {
        let (vector, nonFinite) = try read(path, over: collection, as: Double.self)
        return (vector.values, nonFinite)
    }

    public static func write(_ vector: AnyParameterVector, to path: String) throws {
        let collection = vector.collection
        if path.lowercased().hasSuffix(".npy") {
            let values: TensorValues = switch vector {
            case .float32(let v): .float32(v.values)
            case .float64(let v): .float64(v.values)
            }
            try NPYFile.write(shape: [collection.numel], values: values, to: path)
            return
        }
        guard path.lowercased().hasSuffix(".safetensors") else {
            throw InteropError(path, "the file name must end in .safetensors or .npy")
        }
        let tensors = tensorNames(collection).map { name, shape, range -> (name: String, shape: [Int], values: TensorValues) in
            switch vector {
            case .float32(let v): (name, shape, .float32(Array(v.values[range])))
            case .float64(let v): (name, shape, .float64(Array(v.values[range])))
            }
        }
        try SafetensorsFile.write(tensors, to: path)
    }
}
