import COpenBLAS

/// KFAC factors from layer statistics, accumulated a slab of examples at a
/// time (`dsyrk` into one triangle): for a Linear or Conv layer with inputs
/// `a` (a one appended when it has a bias: `ã`) and output gradients `g`,
/// over `n` examples with `S` positions each (1 without a positions axis):
///
/// - `expand` (the default; Eschenhagen et al., 2023, K-FAC-expand): every
///   position is an example of the weight-sharing layer,
///   `A = (1 / (n S)) Σ_{n,s} ã ãᵀ`, `G = (1 / n) Σ_{n,s} g gᵀ`;
/// - `reduce` (K-FAC-reduce): positions are averaged on the input side and
///   summed on the output side first, `ā_n = (1/S) Σ_s ã_{n,s}`,
///   `ĝ_n = Σ_s g_{n,s}`, then `A = (1/n) Σ_n ā ā ᵀ`, `G = (1/n) Σ_n ĝ ĝᵀ`.
///
/// Without positions both are `A = mean(ã ãᵀ)`, `G = mean(g gᵀ)`. An
/// Embedding's inputs are token indices: `A` is diagonal, the count of each
/// token over the `n S` positions divided by `n S` (expand; reduce would make
/// it a dense `num_embeddings²` matrix and is refused), `G` as above.
/// Layers of other kinds get no statistics: their blocks are `0 I` here,
/// to be replaced with `mixed(K, D)` by blocks built otherwise.
public struct KFACStatistics {
    public enum Convention: String, CaseIterable, Sendable { case expand, reduce }

    public let collection: LayerCollection
    public let convention: Convention
    private var aSums: [[Double]]
    private var gSums: [[Double]]
    private var examples: [Int]
    private var positions: [Int]

    /// `only`: the layers this builder accumulates (the others get no
    /// memory): builders over disjoint layers run side by side, then `take`
    /// combines them.
    public init(collection: LayerCollection, convention: Convention, only: Set<Int>? = nil) throws(CoreError) {
        self.collection = collection
        self.convention = convention
        var bytes = 0.0
        var aSums: [[Double]] = [], gSums: [[Double]] = []
        for (position, entry) in collection.entries.enumerated() {
            guard only?.contains(position) ?? true, let geometry = try? KroneckerGeometry(entry.layer, name: entry.name) else {
                aSums.append([])
                gSums.append([])
                continue
            }
            if entry.layer.kind == .embedding {
                // A on the left, diagonal (token counts); G on the right.
                bytes += (Double(geometry.rows) + Double(geometry.columns * geometry.columns)) * 8
                aSums.append([Double](repeating: 0, count: geometry.rows))
                gSums.append([Double](repeating: 0, count: geometry.columns * geometry.columns))
                continue
            }
            bytes += (Double(geometry.columns * geometry.columns) + Double(geometry.rows * geometry.rows)) * 8
            aSums.append([Double](repeating: 0, count: geometry.columns * geometry.columns))
            gSums.append([Double](repeating: 0, count: geometry.rows * geometry.rows))
        }
        try MemoryBudget.require(bytes, for: "the Kronecker factors of \(collection.count) layers")
        self.aSums = aSums
        self.gSums = gSums
        examples = [Int](repeating: 0, count: collection.count)
        positions = [Int](repeating: 1, count: collection.count)
    }

    /// Adds `rows` examples of layer `position`, each with `count` positions:
    /// `inputs` is `rows * count x in_eff`, `grads` `rows * count x out`.
    public mutating func add(position: Int, rows: Int, positions count: Int, inputs: [Double], grads: [Double]) throws(CoreError) {
        let geometry = try KroneckerGeometry(collection.entries[position].layer, name: collection.names[position])
        if collection.entries[position].layer.kind == .embedding {
            guard convention == .expand || count == 1 else {
                throw CoreError(.invalidArgument, "layer '\(collection.names[position])' is an Embedding over \(count) positions: the reduce convention would make its input factor a dense \(geometry.rows) x \(geometry.rows) matrix; use positions=expand")
            }
            examples[position] += rows
            positions[position] = count
            for index in inputs { aSums[position][Int(index)] += 1 }
            KFACStatistics.syrk(&gSums[position], grads, rows: rows * count, width: geometry.columns)
            return
        }
        let (width, out) = (geometry.columns, geometry.rows)
        let inEffective = geometry.biasColumn ? width - 1 : width
        examples[position] += rows
        positions[position] = count
        if convention == .expand || count == 1 {
            // [a 1]ᵀ[a 1] = [aᵀa, aᵀ1; 1ᵀa, m]: dsyrk on the inputs as read, and
            // their column sums for the bias row (no copy with a column of ones).
            let m = rows * count
            guard m > 0 else { return }
            KFACStatistics.syrk(&aSums[position], inputs, rows: m, width: inEffective, sumWidth: width)
            if geometry.biasColumn {
                aSums[position].withUnsafeMutableBufferPointer { c in
                    inputs.withUnsafeBufferPointer { a in
                        var sums = [Double](repeating: 0, count: inEffective)
                        for r in 0 ..< m {
                            for k in 0 ..< inEffective { sums[k] += a[r * inEffective + k] }
                        }
                        for k in 0 ..< inEffective { c[k * width + inEffective] += sums[k] }
                        c[inEffective * width + inEffective] += Double(m)
                    }
                }
            }
            KFACStatistics.syrk(&gSums[position], grads, rows: m, width: out)
            return
        }
        // ã: the inputs with a column of ones for the bias.
        var extended = [Double](repeating: 1, count: rows * count * width)
        for r in 0 ..< rows * count {
            for k in 0 ..< inEffective { extended[r * width + k] = inputs[r * inEffective + k] }
        }
        var (left, leftRows) = (extended, rows * count)
        var (right, rightRows) = (grads, rows * count)
        if convention == .reduce && count > 1 {
            left = [Double](repeating: 0, count: rows * width)
            right = [Double](repeating: 0, count: rows * out)
            for n in 0 ..< rows {
                for s in 0 ..< count {
                    for k in 0 ..< width { left[n * width + k] += extended[(n * count + s) * width + k] / Double(count) }
                    for k in 0 ..< out { right[n * out + k] += grads[(n * count + s) * out + k] }
                }
            }
            (leftRows, rightRows) = (rows, rows)
        }
        KFACStatistics.syrk(&aSums[position], left, rows: leftRows, width: width)
        KFACStatistics.syrk(&gSums[position], right, rows: rightRows, width: out)
    }

    /// Takes layers `layers`' sums from `other`, a builder over the same
    /// collection and files that accumulated those layers.
    public mutating func take(_ layers: Set<Int>, from other: KFACStatistics) {
        for position in layers {
            aSums[position] = other.aSums[position]
            gSums[position] = other.gSums[position]
            examples[position] = other.examples[position]
            positions[position] = other.positions[position]
        }
    }

    /// A layer's cost in one pass, for splitting layers between threads:
    /// the multiply-adds of its two factors per example and position.
    public static func cost(of layer: Layer) -> Double {
        guard let geometry = try? KroneckerGeometry(layer, name: "") else { return 0 }
        let a = layer.kind == .embedding ? 1 : Double(geometry.columns * geometry.columns)
        return a + Double(geometry.rows * geometry.rows) + Double(geometry.rows + geometry.columns)
    }

    /// A dense factor from an upper-triangle sum, mirrored and scaled.
    private func factorFromUpper(_ sum: [Double], _ side: Int, _ scale: Double) -> KroneckerFactor {
        var values = sum
        values.withUnsafeMutableBufferPointer { SquareMirror.copy($0.baseAddress!, side: side, from: .upper) }
        return .dense(Matrix64(rows: side, columns: side, values: values.map { $0 * scale }))
    }

    /// Runs a product on a factor of side `side`: on one thread below 256,
    /// where waking OpenBLAS's threads for each slab cost more than they
    /// gave (a third of a 64-wide KFAC build was spent yielding).
    private static func threadedForSize(_ side: Int, _ body: () -> Void) {
        if side < 256 { BlockScheduler.withSingleThreadedBLAS(body) } else { body() }
    }

    /// sum += xᵀ x, upper triangle (row-major), x `rows x width`; the sum's
    /// rows are `sumWidth` long (wider when it has a bias row and column).
    private static func syrk(_ sum: inout [Double], _ x: [Double], rows: Int, width: Int, sumWidth: Int? = nil) {
        guard rows > 0, width > 0 else { return }
        sum.withUnsafeMutableBufferPointer { c in
            x.withUnsafeBufferPointer { a in
                threadedForSize(width) {
                    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, Int32(width), Int32(rows), 1, a.baseAddress!, Int32(width),
                                1, c.baseAddress!, Int32(sumWidth ?? width))
                }
            }
        }
    }

    /// The matrix: kfac blocks for the Linear and Conv layers, `0 I` for the others.
    public func result() throws(CoreError) -> StructuredMatrix {
        var blocks: [any BlockForm] = []
        for (position, entry) in collection.entries.enumerated() {
            guard let geometry = try? KroneckerGeometry(entry.layer, name: entry.name) else {
                blocks.append(IdentityForm(side: entry.layer.numel, scale: 0))
                continue
            }
            let n = Double(examples[position])
            guard n > 0 else { throw CoreError(.invalidArgument, "layer '\(entry.name)': no examples were read") }
            let s = Double(positions[position])
            if entry.layer.kind == .embedding {
                blocks.append(KFACForm(geometry: geometry, left: .diagonal(aSums[position].map { $0 / (n * s) }),
                                       right: factorFromUpper(gSums[position], geometry.columns, 1 / n)))
                continue
            }
            let aScale = convention == .expand ? 1 / (n * s) : 1 / n
            blocks.append(KFACForm(geometry: geometry, left: factorFromUpper(gSums[position], geometry.rows, 1 / n),
                                   right: factorFromUpper(aSums[position], geometry.columns, aScale)))
        }
        return try StructuredMatrix(collection: collection, blocks: blocks)
    }
}

/// EKFAC's exact per-example diagonal (NNGeometry's `update_diag`): with
/// the eigenbases `U_G`, `U_A` of the KFAC factors, `D = mean_n (U_Gᵀ M_n U_A)²`
/// element-wise, `M_n = Σ_s g_{n,s} ã_{n,s}ᵀ` the example's gradient of `V`
/// (its positions summed). A second pass over the same statistics.
public struct EKFACDiagonal {
    public let kfac: StructuredMatrix
    private var eigenforms: [EKFACForm?]
    private var sums: [[Double]]
    private var examples: [Int]

    /// `only`: the layers this builder accumulates (the others' factors are
    /// not decomposed); builders over disjoint layers run side by side and
    /// `take` combines them.
    public init(kfac: StructuredMatrix, only: Set<Int>? = nil) throws(CoreError) {
        self.kfac = kfac
        var eigenforms: [EKFACForm?] = []
        var sums: [[Double]] = []
        for (position, block) in kfac.blocks.enumerated() {
            if let block = block as? KFACForm, only?.contains(position) ?? true {
                let eigen = try block.eigenform(layer: kfac.collection.names[position])
                eigenforms.append(eigen)
                sums.append([Double](repeating: 0, count: eigen.geometry.rows * eigen.geometry.columns))
            } else {
                eigenforms.append(nil)
                sums.append([])
            }
        }
        self.eigenforms = eigenforms
        self.sums = sums
        examples = [Int](repeating: 0, count: kfac.blocks.count)
    }

    /// Takes layers `layers` from `other`, a builder over the same matrix
    /// and files that accumulated them.
    public mutating func take(_ layers: Set<Int>, from other: EKFACDiagonal) {
        for position in layers {
            eigenforms[position] = other.eigenforms[position]
            sums[position] = other.sums[position]
            examples[position] = other.examples[position]
        }
    }

    /// Adds `rows` examples of layer `position` (as `KFACStatistics.add`).
    public mutating func add(position: Int, rows: Int, positions count: Int, inputs: [Double], grads: [Double]) {
        guard let eigen = eigenforms[position] else { return }
        if case .diagonal = eigen.leftBasis, case .dense(let uG) = eigen.rightBasis {
            // An Embedding: M_n = Σ_s e_{idx_s} g_sᵀ, rotated on the right only
            // (A is diagonal, its eigenbasis the identity): rows idx_s of M_n U_G.
            let dim = eigen.geometry.columns
            let rotated = Matrix64.product(Matrix64(rows: rows * count, columns: dim, values: grads), uG)
            for n in 0 ..< rows {
                var touched: [Int: [Double]] = [:]
                for s in 0 ..< count {
                    let r = n * count + s
                    let index = Int(inputs[r])
                    var row = touched[index] ?? [Double](repeating: 0, count: dim)
                    for k in 0 ..< dim { row[k] += rotated.values[r * dim + k] }
                    touched[index] = row
                }
                for (index, row) in touched {
                    for k in 0 ..< dim { sums[position][index * dim + k] += row[k] * row[k] }
                }
            }
            examples[position] += rows
            return
        }
        guard case .dense(let uG) = eigen.leftBasis, case .dense(let uA) = eigen.rightBasis else { return }
        let geometry = eigen.geometry
        let (width, out) = (geometry.columns, geometry.rows)
        let inEffective = geometry.biasColumn ? width - 1 : width
        var extended = Matrix64(rows: rows * count, columns: width, values: [Double](repeating: 1, count: rows * count * width))
        for r in 0 ..< rows * count {
            for k in 0 ..< inEffective { extended.values[r * width + k] = inputs[r * inEffective + k] }
        }
        // Rows rotated into the eigenbases: g U_G and ã U_A.
        var rotatedGrads = Matrix64.product(Matrix64(rows: rows * count, columns: out, values: grads), uG)
        var rotatedInputs = Matrix64.product(extended, uA)
        if count == 1 {
            // One position: M_n = (U_Gᵀ g_n)(U_Aᵀ ã_n)ᵀ, so (M_n)² element-wise is the
            // outer product of the squares, and their sum over the slab one product.
            for k in rotatedGrads.values.indices { rotatedGrads.values[k] *= rotatedGrads.values[k] }
            for k in rotatedInputs.values.indices { rotatedInputs.values[k] *= rotatedInputs.values[k] }
            let m = Matrix64.product(rotatedGrads, rotatedInputs, transposeA: true)
            for k in m.values.indices { sums[position][k] += m.values[k] }
            examples[position] += rows
            return
        }
        for n in 0 ..< rows {
            let g = Matrix64(rows: count, columns: out, values: Array(rotatedGrads.values[n * count * out ..< (n + 1) * count * out]))
            let a = Matrix64(rows: count, columns: width, values: Array(rotatedInputs.values[n * count * width ..< (n + 1) * count * width]))
            let m = Matrix64.product(g, a, transposeA: true)
            for k in m.values.indices { sums[position][k] += m.values[k] * m.values[k] }
        }
        examples[position] += rows
    }

    /// The ekfac matrix (other layers as in the kfac one).
    public func result() throws(CoreError) -> StructuredMatrix {
        var blocks: [any BlockForm] = []
        for (position, block) in kfac.blocks.enumerated() {
            guard let eigen = eigenforms[position] else {
                blocks.append(block)
                continue
            }
            let n = Double(examples[position])
            guard n > 0 else { throw CoreError(.invalidArgument, "layer '\(kfac.collection.names[position])': no examples were read") }
            blocks.append(EKFACForm(geometry: eigen.geometry, leftBasis: eigen.leftBasis, rightBasis: eigen.rightBasis,
                                    scaling: Matrix64(rows: eigen.geometry.rows, columns: eigen.geometry.columns, values: sums[position].map { $0 / n })))
        }
        return try StructuredMatrix(collection: kfac.collection, blocks: blocks)
    }
}
