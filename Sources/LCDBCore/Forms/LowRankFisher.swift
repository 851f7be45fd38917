/// The empirical Fisher kept as its factor: `F = Jᵀ J` with `J = G / √n`,
/// the per-example gradients as rows (weighted: row `i` is `√(w_i / Σ w) g_i`),
/// NNGeometry's `PMatLowRank`. Filled a slab of examples and a run of
/// columns at a time; the factor (`n x numel` float64) is the one large
/// state: held in memory when small, else spilled to a temporary file and
/// streamed from it by every later operation (`SpilledFactor`).
public struct LowRankFisher {
    public let collection: LayerCollection
    public let examples: Int
    /// J's rows as added, in memory; nil when they go to `spilled`.
    private var factor: [Double]?
    /// J on disk, when it is larger than `LowRankPanels.inMemoryLimit`.
    private let spilled: SpilledFactor?
    private var totalWeight = 0.0
    private var filled = 0
    private var scratch: [Double] = []

    /// `spillDirectory`: where J goes when it is larger than `memoryLimit`
    /// bytes (the database's folder).
    public init(collection: LayerCollection, examples: Int, spillDirectory: String,
                memoryLimit: Double = LowRankPanels.inMemoryLimit) throws(CoreError) {
        guard examples > 0 else { throw CoreError(.invalidArgument, "no examples were read") }
        self.collection = collection
        self.examples = examples
        let bytes = Double(examples) * Double(collection.numel) * 8
        if bytes <= memoryLimit {
            try MemoryBudget.require(bytes * 1.1, for: "the low-rank factor J (\(examples) examples x \(collection.numel) parameters, float64)")
            factor = [Double](repeating: 0, count: examples * collection.numel)
            spilled = nil
        } else {
            factor = nil
            spilled = try SpilledFactor(rows: examples, layerBounds: collection.offsets + [collection.numel], directory: spillDirectory)
        }
    }

    /// Adds examples `first ..< first + rows` of layer `position`, columns
    /// `columns` of it: `slab` is `rows x columns.count`, row-major.
    public mutating func add(first: Int, rows: Int, position: Int, columns: Range<Int>, slab: [Double], weights: ArraySlice<Double>? = nil) throws(CoreError) {
        let numel = collection.numel, width = columns.count
        let offset = collection.offsets[position] + columns.lowerBound
        if position == 0, columns.lowerBound == 0 {
            filled += rows
            totalWeight += weights.map { $0.reduce(0, +) } ?? Double(rows)
        }
        let roots = weights.map { $0.map { $0.squareRoot() } }
        if let spilled {
            if let roots {
                scratch.removeAll(keepingCapacity: true)
                for row in 0 ..< rows { for k in 0 ..< width { scratch.append(roots[row] * slab[row * width + k]) } }
                try scratch.withUnsafeBufferPointer { (values) throws(CoreError) in
                    try spilled.write(rows: first ..< first + rows, columns: offset ..< offset + width, from: values.baseAddress!)
                }
            } else {
                try slab.withUnsafeBufferPointer { (values) throws(CoreError) in
                    try spilled.write(rows: first ..< first + rows, columns: offset ..< offset + width, from: values.baseAddress!)
                }
            }
            return
        }
        factor!.withUnsafeMutableBufferPointer { j in
            for row in 0 ..< rows {
                let root = roots?[row] ?? 1
                let target = (first + row) * numel + offset
                for k in 0 ..< width { j[target + k] = root * slab[row * width + k] }
            }
        }
    }

    /// `Jᵀ J` over the examples seen (all of them: the count was known).
    public mutating func result() throws(CoreError) -> LowRankMatrix {
        guard filled == examples, totalWeight > 0 else {
            throw CoreError(.invalidArgument, "read \(filled) of \(examples) examples, total weight \(totalWeight)")
        }
        let scale = 1 / totalWeight.squareRoot()
        if let spilled {
            spilled.finish(scale: scale)
            return try LowRankMatrix(collection: collection, factor: spilled)
        }
        var values = factor!
        factor = nil
        for index in values.indices { values[index] *= scale }
        return try LowRankMatrix(collection: collection, factor: Matrix64(rows: examples, columns: collection.numel, values: values))
    }
}
