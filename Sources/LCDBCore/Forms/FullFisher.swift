import COpenBLAS

/// The empirical Fisher over a whole collection, every entry: `Gᵀ G / n`
/// (`numel x numel`, NNGeometry's `PMatDense`), accumulated a slab of
/// examples at a time: each layer's slab is placed in the slab's row of all
/// parameters, and when the last layer is in, `dsyrk` adds the slab to one
/// triangle. The accumulator is the one large state, checked when the build
/// starts (a full matrix is for small models).
public struct FullFisher {
    public let collection: LayerCollection
    private var sum: [Double]
    private var slab: [Double] = []
    private var slabRows = 0
    private var totalWeight = 0.0
    private var examples = 0

    public init(collection: LayerCollection) throws(CoreError) {
        try FullMatrix.requireMemory(over: collection, copies: 1.2, for: "the full Fisher (\(collection.numel) x \(collection.numel), float64)")
        self.collection = collection
        sum = [Double](repeating: 0, count: collection.numel * collection.numel)
    }

    /// Adds `rows` examples of layer `position` (`slab` is `rows x numel of
    /// the layer`, whole rows); layers come in order for each slab.
    public mutating func add(rows: Int, position: Int, slab layerSlab: [Double], weights: ArraySlice<Double>? = nil) {
        let numel = collection.numel, side = collection.entries[position].layer.numel, offset = collection.offsets[position]
        if position == 0 {
            slabRows = rows
            if slab.count != rows * numel { slab = [Double](repeating: 0, count: rows * numel) }
            examples += rows
            totalWeight += weights.map { $0.reduce(0, +) } ?? Double(rows)
        }
        let roots = weights.map { $0.map { $0.squareRoot() } }
        slab.withUnsafeMutableBufferPointer { target in
            for row in 0 ..< rows {
                let root = roots?[row] ?? 1
                for k in 0 ..< side { target[row * numel + offset + k] = root * layerSlab[row * side + k] }
            }
        }
        guard position == collection.count - 1, slabRows > 0 else { return }
        sum.withUnsafeMutableBufferPointer { total in
            slab.withUnsafeBufferPointer { g in
                cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, Int32(numel), Int32(slabRows), 1,
                            g.baseAddress!, Int32(numel), 1, total.baseAddress!, Int32(numel))
            }
        }
    }

    /// The Fisher over the examples seen (the accumulator becomes it in place).
    public mutating func result() throws(CoreError) -> FullMatrix {
        guard examples > 0, totalWeight > 0 else { throw CoreError(.invalidArgument, "no examples were read") }
        let numel = collection.numel, scale = 1 / totalWeight
        var values = sum
        sum = []
        values.withUnsafeMutableBufferPointer { v in
            SquareMirror.copy(v.baseAddress!, side: numel, from: .upper)
            for k in v.indices { v[k] *= scale }
        }
        return try FullMatrix(collection: collection, matrix: Matrix64(rows: numel, columns: numel, values: values), knownSymmetric: true)
    }
}
