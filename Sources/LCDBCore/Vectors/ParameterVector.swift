/// A vector in parameter space over a layer collection (NNGeometry's PVector):
/// one flat array in the collection's flattening order, float32 or float64.
///
/// Arithmetic goes through OpenBLAS level-1 routines (axpy, scal, dot, nrm2,
/// asum, iamax). Dot products and norms are accumulated and returned in
/// Double, float32 ones too (dsdot), so they do not drift over long vectors.
public struct ParameterVector<Scalar: BLASScalar>: Equatable, Sendable {
    public let collection: LayerCollection
    public internal(set) var values: [Scalar]

    /// Wraps a flat array; its length must be the collection's numel.
    public init(collection: LayerCollection, values: [Scalar]) throws {
        guard values.count == collection.numel else {
            throw CoreError(.invalidSize,
                            "a vector over this collection needs \(collection.numel) values, got \(values.count)")
        }
        self.collection = collection
        self.values = values
    }

    init(unchecked collection: LayerCollection, values: [Scalar]) {
        precondition(values.count == collection.numel)
        self.collection = collection
        self.values = values
    }

    /// Refuses a vector over `collection` that memory cannot hold (`copies`
    /// of it at once), before anything is allocated.
    public static func requireMemory(over collection: LayerCollection, copies: Int = 1, _ what: String = "a vector") throws(CoreError) {
        let bytes = Double(collection.numel) * Double(MemoryLayout<Scalar>.size) * Double(copies)
        try MemoryBudget.require(bytes, for: "\(what) of \(collection.numel) \(Scalar.dtype.rawValue) values")
    }

    public static func filled(with value: Scalar, over collection: LayerCollection) -> ParameterVector {
        ParameterVector(unchecked: collection, values: [Scalar](repeating: value, count: collection.numel))
    }

    public static func zeros(over collection: LayerCollection) -> ParameterVector { filled(with: 0, over: collection) }

    public static func ones(over collection: LayerCollection) -> ParameterVector { filled(with: 1, over: collection) }

    /// Standard normal entries from `SeededGenerator(seed:)`, in flattening order.
    public static func random(over collection: LayerCollection, seed: UInt64) -> ParameterVector {
        var generator = SeededGenerator(seed: seed)
        var values = [Scalar](repeating: 0, count: collection.numel)
        for index in values.indices { values[index] = Scalar(generator.nextNormal()) }
        return ParameterVector(unchecked: collection, values: values)
    }

    public var dtype: DType { Scalar.dtype }
    public var count: Int { values.count }

    /// The same values in another precision (rounded to nearest when narrowing).
    /// The same vector when `Other` is `Scalar` (no copy); otherwise a `map`
    /// over concrete types (the generic `map` took 2 s over 11.7 million values).
    public func converted<Other: BLASScalar>(to _: Other.Type = Other.self) -> ParameterVector<Other> {
        if let same = self as? ParameterVector<Other> { return same }
        let converted: [Other] = if Scalar.self == Float.self && Other.self == Double.self {
            unsafeBitCast(unsafeBitCast(values, to: [Float].self).map(Double.init), to: [Other].self)
        } else if Scalar.self == Double.self && Other.self == Float.self {
            unsafeBitCast(unsafeBitCast(values, to: [Double].self).map(Float.init), to: [Other].self)
        } else {
            values.map { Other($0) }
        }
        return ParameterVector<Other>(unchecked: collection, values: converted)
    }

    /// The weight and bias of one layer, with PyTorch shapes.
    public func tensors(of layerName: String) throws -> (weight: Tensor<Scalar>, bias: Tensor<Scalar>?) {
        let position = try collection.requirePosition(of: layerName)
        let layer = collection.entries[position].layer
        let start = collection.offsets[position]
        let weightCount = layer.weightShape.reduce(1, *)
        let weight = Tensor(shape: layer.weightShape, values: Array(values[start ..< start + weightCount]))
        let bias = layer.biasShape.map {
            Tensor(shape: $0, values: Array(values[start + weightCount ..< start + layer.numel]))
        }
        return (weight, bias)
    }

    /// The part of this vector over `subset`, whose layers must be identical
    /// layers of this vector's collection (any order).
    public func restricted(to subset: LayerCollection) throws -> ParameterVector {
        var result = [Scalar]()
        result.reserveCapacity(subset.numel)
        for entry in subset.entries {
            let position = try collection.requirePosition(of: entry.name)
            guard collection.entries[position].layer == entry.layer else {
                throw CoreError(.mismatchedCollections,
                                "layer '\(entry.name)' is \(collection.entries[position].layer) here, not \(entry.layer)")
            }
            result.append(contentsOf: values[collection.range(at: position)])
        }
        return ParameterVector(unchecked: subset, values: result)
    }

    /// Hands BLAS the base address; does nothing for an empty vector.
    mutating func withMutableValues(_ body: (UnsafeMutablePointer<Scalar>) -> Void) {
        guard !values.isEmpty else { return }
        values.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
    }
}

/// A tensor copied out of a vector or matrix: a shape and row-major values.
public struct Tensor<Scalar: BLASScalar>: Equatable, Sendable {
    public let shape: [Int]
    public let values: [Scalar]
}

extension ParameterVector {
    /// f applied to every value, over the same collection.
    public func mapValues(_ f: (Scalar) -> Scalar) -> ParameterVector {
        ParameterVector(unchecked: collection, values: values.map(f))
    }
}
