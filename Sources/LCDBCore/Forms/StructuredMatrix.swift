/// A block-diagonal matrix whose blocks each have a form (`BlockForm`):
/// diag, kfac, ekfac, identity or dense, mixed freely per layer. Held in
/// memory as float64 (structured forms are megabytes where the dense blocks
/// would be terabytes); every operation goes block by block through the
/// forms' own methods.
public struct StructuredMatrix: Sendable {
    public let collection: LayerCollection
    public let blocks: [any BlockForm]

    public init(collection: LayerCollection, blocks: [any BlockForm]) throws(CoreError) {
        guard blocks.count == collection.count else {
            throw CoreError(.invalidSize, "\(blocks.count) blocks for a collection of \(collection.count) layers")
        }
        for (entry, block) in zip(collection.entries, blocks) where block.side != entry.layer.numel {
            throw CoreError(.invalidSize, "block '\(entry.name)' has side \(block.side); the layer has \(entry.layer.numel) parameters")
        }
        self.collection = collection
        self.blocks = blocks
    }

    /// The form's name when every block has it (`blockdiag` for all dense), `mixed` otherwise.
    public var representation: String { Self.representation(of: blocks.map(\.kind)) }

    /// The representation of a matrix whose blocks have these forms.
    public static func representation(of kinds: [FormKind]) -> String {
        let kinds = Set(kinds)
        guard kinds.count == 1, let kind = kinds.first else { return kinds.isEmpty ? "blockdiag" : "mixed" }
        return kind == .dense ? "blockdiag" : kind.rawValue
    }

    public func storedBytes(_ dtype: DType) -> Int { blocks.reduce(0) { $0 + $1.storedBytes(dtype) } }

    /// Applies `body` to each block with its layer's values of `x`, on all
    /// cores (`mapBlocks`), and assembles the results into a vector over
    /// this collection.
    private func blockwise(_ x: ParameterVector<Double>, _ operation: String, costs: [Int],
                           _ body: @escaping @Sendable (Int, [Double]) throws(CoreError) -> [Double]) throws -> ParameterVector<Double> {
        guard x.collection == collection else {
            throw CoreError(.mismatchedCollections, "\(operation): the vector is not over the matrix's collection")
        }
        let collection = collection
        let pieces = try mapBlocks(costs: costs) { index throws(CoreError) in
            try body(index, Array(x.values[collection.range(at: index)]))
        }
        return try ParameterVector(collection: collection, values: pieces.flatMap { $0 })
    }

    /// `body(index)` for every block, on all cores (`BlockScheduler.map`: a
    /// block costing more than a core's share alone with OpenBLAS's threads,
    /// the rest side by side, one per core). GPT-2's KFAC solve decomposes
    /// 97 factors: two at a time, each on one core, beats one at a time on
    /// both (LAPACK's tridiagonal reduction gains little from a thread).
    func mapBlocks<T: Sendable>(costs: [Int], _ body: @escaping @Sendable (Int) throws(CoreError) -> T) throws(CoreError) -> [T] {
        try BlockScheduler.map(costs: costs, body)
    }

    /// Relative costs of a product per block: side x the sum of its parts'
    /// widths (kfac: out x in x (out + in); dense: side^2; diag: side).
    var productCosts: [Int] {
        blocks.map { block in
            block.side * max(1, block.parts.reduce(0) { $0 + ($1.columns == 1 ? 1 : Int(Double($1.values.count).squareRoot())) })
        }
    }

    /// Relative costs of a decomposition per block: n^3 for each square
    /// part (an eigendecomposition or Cholesky factor), its size otherwise.
    var decompositionCosts: [Int] {
        blocks.map { Self.decompositionCost(side: $0.side, form: type(of: $0), parts: $0.parts.map { ($0.name, $0.shape) }) }
    }

    /// A block's decomposition cost from its parts' shapes (a stored matrix's
    /// blocks are scheduled by it before they are read, as in memory).
    public static func decompositionCost(side: Int, form: (any BlockForm.Type)?, parts: [(name: String, shape: [Int])]) -> Int {
        parts.reduce(side) { cost, part in
            let decomposed = form?.isDecomposed(part: part.name, shape: part.shape) ?? false
            return cost &+ (decomposed ? part.shape[0] &* part.shape[0] &* part.shape[0] : part.shape.reduce(1, &*))
        }
    }

    /// Refuses, before any block starts, decompositions whose working memory
    /// (about 4 n^2 values per square part: its copy, the eigenvectors and
    /// LAPACK's workspace) would not fit for the largest blocks that may run
    /// side by side, one per core.
    func requireDecompositionMemory(_ what: String) throws(CoreError) {
        let perBlock = blocks.map { block in
            block.parts.reduce(0.0) { $0 + (type(of: block).isDecomposed(part: $1.name, shape: $1.shape) ? 4 * Double($1.values.count) * 8 : 0) }
        }
        let largest = perBlock.sorted(by: >).prefix(BlockScheduler.cores).reduce(0, +)
        try MemoryBudget.require(largest, for: "\(what): decomposing \(min(BlockScheduler.cores, blocks.count)) blocks at a time")
    }

    public func product(with x: ParameterVector<Double>) throws -> ParameterVector<Double> {
        let blocks = blocks
        return try blockwise(x, "mv", costs: productCosts) { index, values throws(CoreError) in blocks[index].product(values) }
    }

    public func solve(_ x: ParameterVector<Double>, regularization: Double) throws -> ParameterVector<Double> {
        try requireDecompositionMemory("solve")
        let (blocks, names) = (blocks, collection.names)
        return try blockwise(x, "solve", costs: decompositionCosts) { index, values throws(CoreError) in
            try blocks[index].solve(values, regularization: regularization, layer: names[index])
        }
    }

    public func trace() -> Double { blocks.reduce(0) { $0 + $1.trace() } }

    public func frobeniusNorm() -> Double { Norms.combined(blocks.map { $0.frobeniusNorm() }) }

    public func diagonal() throws -> ParameterVector<Double> {
        try ParameterVector(collection: collection, values: blocks.flatMap { $0.diagonal() })
    }

    public func scaled(by alpha: Double) throws(CoreError) -> StructuredMatrix {
        try StructuredMatrix(collection: collection, blocks: blocks.map { $0.scaled(by: alpha) })
    }

    /// (M + regularization I)^-1, exact per form (kfac blocks become ekfac).
    public func inverse(regularization: Double) throws(CoreError) -> StructuredMatrix {
        try requireDecompositionMemory("inv")
        let (blocks, names) = (blocks, collection.names)
        let inverses = try mapBlocks(costs: decompositionCosts) { index throws(CoreError) -> any BlockForm in
            try blocks[index].inverse(regularization: regularization, layer: names[index])
        }
        return try StructuredMatrix(collection: collection, blocks: inverses)
    }

    /// Every kfac block as ekfac (exact: the factors' eigendecompositions).
    public func eigenforms() throws(CoreError) -> StructuredMatrix {
        try requireDecompositionMemory("the eigendecompositions")
        let (blocks, names) = (blocks, collection.names)
        let result = try mapBlocks(costs: decompositionCosts) { index throws(CoreError) -> any BlockForm in
            try (blocks[index] as? KFACForm)?.eigenform(layer: names[index]) ?? blocks[index]
        }
        return try StructuredMatrix(collection: collection, blocks: result)
    }

    /// The diag matrix with `vector` on its diagonal, over the vector's collection.
    public static func diagonal(_ vector: ParameterVector<Double>) throws(CoreError) -> StructuredMatrix {
        let collection = vector.collection
        return try StructuredMatrix(collection: collection, blocks: collection.entries.indices.map {
            DiagForm(values: Array(vector.values[collection.range(at: $0)]))
        })
    }

    /// The diagonal as a diag matrix.
    public func diagonalMatrix() throws(CoreError) -> StructuredMatrix {
        try StructuredMatrix(collection: collection, blocks: blocks.map { DiagForm(values: $0.diagonal()) })
    }

    /// The explicit dense blocks, refused before anything is built when they
    /// would not fit memory.
    public func denseBlocks() throws -> BlockDiagonalMatrix<Double> {
        let bytes = collection.entries.reduce(0.0) { $0 + Double($1.layer.numel) * Double($1.layer.numel) * 8 }
        try MemoryBudget.require(bytes, for: "the dense blocks of this matrix")
        var dense: [[Double]] = []
        for block in blocks {
            try Interruption.check()
            dense.append(block.dense().values)
        }
        return try BlockDiagonalMatrix(collection: collection, blocks: dense)
    }

    /// The same matrix with layers matching `take` from `other` (same collection).
    public func replacingBlocks(from other: StructuredMatrix, where take: (String) -> Bool) throws(CoreError) -> StructuredMatrix {
        guard other.collection == collection else {
            throw CoreError(.mismatchedCollections, "the matrices are over different collections; a mixed matrix takes its blocks from matrices over the same collection")
        }
        let blocks = collection.names.indices.map { take(collection.names[$0]) ? other.blocks[$0] : self.blocks[$0] }
        return try StructuredMatrix(collection: collection, blocks: blocks)
    }

    /// Random SPD Kronecker factors for every Linear, Conv1d, Conv2d and
    /// Embedding layer (an Embedding's input factor diagonal, as for one-hot
    /// inputs), seeded and reproducible; layers of other kinds get a random
    /// SPD dense block (`BlockSource.randomSPD`), making the matrix mixed.
    /// A factor of size n has entries 2u - 1 off the diagonal and n + u on it
    /// (u uniform, seeded per layer and factor): diagonally dominant, so SPD.
    public static func randomKFAC(over collection: LayerCollection, seed: UInt64) throws(CoreError) -> StructuredMatrix {
        // Refused before anything is built: the factors (and dense blocks of other kinds) must fit.
        var bytes = 0.0
        for entry in collection.entries {
            if let geometry = try? KroneckerGeometry(entry.layer, name: entry.name) {
                // An Embedding's left factor is diagonal: `rows` values, not rows².
                let left = entry.layer.kind == .embedding ? Double(geometry.rows) : Double(geometry.rows) * Double(geometry.rows)
                bytes += (left + Double(geometry.columns) * Double(geometry.columns)) * 8
            } else {
                bytes += Double(entry.layer.numel) * Double(entry.layer.numel) * 8
            }
        }
        try MemoryBudget.require(bytes, for: "the random Kronecker factors and dense blocks of this collection")
        var blocks: [any BlockForm] = []
        for (position, entry) in collection.entries.enumerated() {
            func factor(_ n: Int, _ which: UInt64) -> [Double] {
                var values = [Double](repeating: 0, count: n * n)
                values.withUnsafeMutableBufferPointer {
                    BlockSource.randomSPD(seed: seed).fill(block: Int(1 << 20) + position * 2 + Int(which), side: n, rows: 0 ..< n, into: $0.baseAddress!)
                }
                return values
            }
            guard KroneckerGeometry.kinds.contains(entry.layer.kind) else {
                try MemoryBudget.require(Double(entry.layer.numel) * Double(entry.layer.numel) * 8, for: "the random dense block of layer '\(entry.name)'")
                let side = entry.layer.numel
                blocks.append(DenseForm(block: Matrix64(rows: side, columns: side, values: factor(side, 0))))
                continue
            }
            let geometry = try KroneckerGeometry(entry.layer, name: entry.name)
            let left: KroneckerFactor, right: KroneckerFactor
            if entry.layer.kind == .embedding {
                left = .diagonal((0 ..< geometry.rows).map {
                    1 + SeededGenerator.uniform(seed: seed, stream: UInt64(1 << 21 + position), index: UInt64($0))
                })
            } else {
                left = .dense(Matrix64(rows: geometry.rows, columns: geometry.rows, values: factor(geometry.rows, 0)))
            }
            right = .dense(Matrix64(rows: geometry.columns, columns: geometry.columns, values: factor(geometry.columns, 1)))
            blocks.append(KFACForm(geometry: geometry, left: left, right: right))
        }
        return try StructuredMatrix(collection: collection, blocks: blocks)
    }

    /// M + alpha N block by block when every block's sum has a form, else nil.
    public func adding(_ other: StructuredMatrix, scaledBy alpha: Double) throws(CoreError) -> StructuredMatrix? {
        guard other.collection == collection else { return nil }
        var sums: [any BlockForm] = []
        for (a, b) in zip(blocks, other.blocks) {
            guard let sum = BlockForms.sum(a, b, scaledBy: alpha) else { return nil }
            sums.append(sum)
        }
        return try StructuredMatrix(collection: collection, blocks: sums)
    }

    /// M + s I, exact for every form (kfac becomes ekfac).
    public func addingIdentity(_ scale: Double) throws(CoreError) -> StructuredMatrix {
        let identity = try StructuredMatrix(collection: collection,
                                            blocks: collection.entries.map { IdentityForm(side: $0.layer.numel, scale: scale) })
        guard let sum = try adding(identity, scaledBy: 1) else {
            preconditionFailure("every form is closed under adding the identity")
        }
        return sum
    }

    /// M N block by block when every product has a form, else nil.
    public func multiplying(_ other: StructuredMatrix) throws(CoreError) -> StructuredMatrix? {
        guard other.collection == collection else { return nil }
        var products: [any BlockForm] = []
        for (a, b) in zip(blocks, other.blocks) {
            guard let product = a.times(b) else { return nil }
            products.append(product)
        }
        return try StructuredMatrix(collection: collection, blocks: products)
    }

    /// The blocks of the layers of `subset` (layers of this collection).
    public func restricted(to subset: LayerCollection) throws(CoreError) -> StructuredMatrix {
        var kept: [any BlockForm] = []
        for name in subset.names {
            guard let index = collection.names.firstIndex(of: name) else {
                throw CoreError(.mismatchedCollections, "layer '\(name)' is not in the matrix's collection")
            }
            kept.append(blocks[index])
        }
        return try StructuredMatrix(collection: subset, blocks: kept)
    }
}
