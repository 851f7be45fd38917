/// The empirical Fisher kept as its factor: `F = Jᵀ J` with `J = G / √n`,
/// the per-example gradients as rows (weighted: row `i` is `√(w_i / Σ w) g_i`),
/// NNGeometry's `PMatLowRank`. Filled a slab of examples and a run of
/// columns at a time; the factor (`n x numel` float64) is the one large state,
/// checked against memory when the build starts.
public struct LowRankFisher {
    public let collection: LayerCollection
    public let examples: Int
    private var factor: [Double]
    private var totalWeight = 0.0
    private var filled = 0

    public init(collection: LayerCollection, examples: Int) throws(CoreError) {
        guard examples > 0 else { throw CoreError(.invalidArgument, "no examples were read") }
        try MemoryBudget.require(Double(examples) * Double(collection.numel) * 8 * 1.1,
                                 for: "the low-rank factor J (\(examples) examples x \(collection.numel) parameters, float64)",
                                 advice: "; use fewer examples, a smaller collection, or form=diag")
        self.collection = collection
        self.examples = examples
        factor = [Double](repeating: 0, count: examples * collection.numel)
    }

    /// Adds examples `first ..< first + rows` of layer `position`, columns
    /// `columns` of it: `slab` is `rows x columns.count`, row-major.
    public mutating func add(first: Int, rows: Int, position: Int, columns: Range<Int>, slab: [Double], weights: ArraySlice<Double>? = nil) {
        let numel = collection.numel, width = columns.count
        let offset = collection.offsets[position] + columns.lowerBound
        if position == 0, columns.lowerBound == 0 {
            filled += rows
            totalWeight += weights.map { $0.reduce(0, +) } ?? Double(rows)
        }
        let roots = weights.map { $0.map { $0.squareRoot() } }
        factor.withUnsafeMutableBufferPointer { j in
            for row in 0 ..< rows {
                let root = roots?[row] ?? 1
                let target = (first + row) * numel + offset
                for k in 0 ..< width { j[target + k] = root * slab[row * width + k] }
            }
        }
    }

    /// `Jᵀ J` over the examples seen (all of them: the count was known).
    public func result() throws(CoreError) -> LowRankMatrix {
        guard filled == examples, totalWeight > 0 else {
            throw CoreError(.invalidArgument, "read \(filled) of \(examples) examples, total weight \(totalWeight)")
        }
        let scale = 1 / totalWeight.squareRoot()
        return try LowRankMatrix(collection: collection,
                                 factor: Matrix64(rows: examples, columns: collection.numel, values: factor.map { $0 * scale }))
    }
}
