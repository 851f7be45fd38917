import COpenBLAS

/// The empirical Fisher `F = (1/n) Σ_n g_n g_nᵀ` of per-example gradients
/// (with per-example weights, the weighted mean `Σ w_n g_n g_nᵀ / Σ w_n`),
/// accumulated a slab of examples at a time (the gradients are never all in
/// memory): `diag` keeps `Σ g²` per parameter; `quasidiag` also keeps, for
/// each output of a layer with a bias, `Σ g_w[i, j] g_b[i]` (Ollivier's
/// quasi-diagonal, NNGeometry's `PMatQuasiDiag`; layers it does not fit get
/// their diagonal); `dense` keeps each layer's
/// block `Σ G_sᵀ G_s` over slabs `G_s` (`dsyrk` into one triangle, mirrored
/// at the end). The accumulators are the only large state, checked against
/// memory when the build starts.
public struct EmpiricalFisher {
    public enum Form: String, CaseIterable, Sendable { case diag, dense, quasidiag }

    public let collection: LayerCollection
    public let form: Form
    private var sums: [[Double]]
    public private(set) var examples = 0
    /// Σ w over the examples added (their count without weights).
    private var totalWeight = 0.0
    /// The layer whose rows count the examples: this builder's first.
    private let countingLayer: Int
    /// Layers whose sums are already the Fisher's block (`finish`).
    private var finished: Set<Int> = []
    /// Dense layers whose triangle holds a sum (the others' memory is not
    /// yet written).
    private var started: Set<Int> = []
    /// quasidiag: each layer's outputs and weights per output, nil for a
    /// layer kept as its diagonal; its sums are the diagonal's, then the cross terms'.
    private var quasi: [(outputs: Int, perOutput: Int, crossShape: [Int])?] = []

    /// `only`: the layers this builder accumulates (the others get no
    /// memory); builders over disjoint layers run side by side and `take`
    /// combines them.
    public init(collection: LayerCollection, form: Form, only: Set<Int>? = nil) throws(CoreError) {
        self.collection = collection
        self.form = form
        let kept = collection.entries.indices.map { only?.contains($0) ?? true }
        countingLayer = only?.min() ?? 0
        switch form {
        case .diag:
            sums = collection.entries.enumerated().map { kept[$0] ? [Double](repeating: 0, count: $1.layer.numel) : [] }
        case .quasidiag:
            let shapes = collection.entries.map { try? QuasiDiagForm.shape(of: $0.layer, name: $0.name) }
            quasi = shapes
            sums = collection.entries.enumerated().map { position, entry in
                kept[position] ? [Double](repeating: 0, count: entry.layer.numel + (shapes[position].map { $0.outputs * $0.perOutput } ?? 0)) : []
            }
        case .dense:
            let bytes = collection.entries.enumerated().reduce(0.0) { $0 + (kept[$1.offset] ? Double($1.element.layer.numel) * Double($1.element.layer.numel) * 8 : 0) }
            try MemoryBudget.require(bytes * 1.1, for: "the dense blocks of the Fisher (\(collection.count) layers)",
                                     advice: "; build the diag form, or a smaller collection")
            // Not zeroed: the first slab's dsyrk writes the triangle with
            // beta = 0 (saves writing gigabytes of zeros), and `finish`
            // mirrors it over the other.
            sums = collection.entries.enumerated().map { position, entry in
                guard kept[position] else { return [] }
                let count = entry.layer.numel * entry.layer.numel
                return HugePages.array(count: count, zeroed: false)
            }
        }
    }

    /// Takes layers `layers`' sums from `other`, a builder over the same
    /// collection and files that accumulated those layers, and its count of
    /// examples and their weight (every builder counts them all, on its
    /// first layer).
    public mutating func take(_ layers: Set<Int>, from other: EmpiricalFisher) {
        for position in layers {
            sums[position] = other.sums[position]
            if other.finished.contains(position) { finished.insert(position) }
            if other.started.contains(position) { started.insert(position) }
        }
        examples = other.examples
        totalWeight = other.totalWeight
    }

    /// Adds `rows` examples of layer `position`: `slab` is `rows x numel`,
    /// row-major, `weights` theirs (nil: 1 each). Every layer gets the same
    /// examples, so `examples` counts those added to this builder's first layer.
    public mutating func add(rows: Int, position: Int, slab: [Double], weights: ArraySlice<Double>? = nil) {
        let numel = collection.entries[position].layer.numel
        add(rows: rows, position: position, columns: 0 ..< numel, slab: slab, weights: weights)
    }

    /// The same for parameters `columns` of the layer only (diag: a layer too
    /// wide for one slab is added in runs of columns; the first run counts
    /// the examples). Dense blocks need whole rows.
    public mutating func add(rows: Int, position: Int, columns: Range<Int>, slab: [Double], weights: ArraySlice<Double>? = nil) {
        let numel = columns.count
        precondition(form == .diag || columns == 0 ..< collection.entries[position].layer.numel, "dense and quasidiag blocks need whole rows")
        if position == countingLayer, columns.lowerBound == 0 {
            examples += rows
            totalWeight += weights.map { $0.reduce(0, +) } ?? Double(rows)
        }
        guard numel > 0, rows > 0 else { return }
        var slab = slab
        if let weights {
            // w g gᵀ = (√w g)(√w g)ᵀ: each row scaled once, then the same sums.
            for (row, weight) in weights.enumerated() {
                let root = weight.squareRoot()
                for k in 0 ..< numel { slab[row * numel + k] *= root }
            }
        }
        switch form {
        case .diag:
            sums[position].withUnsafeMutableBufferPointer { total in
                let first = columns.lowerBound
                for row in 0 ..< rows {
                    for k in 0 ..< numel { total[first + k] += slab[row * numel + k] * slab[row * numel + k] }
                }
            }
        case .quasidiag:
            sums[position].withUnsafeMutableBufferPointer { total in
                for row in 0 ..< rows {
                    let g = row * numel
                    for k in 0 ..< numel { total[k] += slab[g + k] * slab[g + k] }
                    // Output i's weights (i r + j) with its bias (B r + i), after the diagonal.
                    guard let (outputs, r, _) = quasi[position] else { continue }
                    for i in 0 ..< outputs {
                        let bias = slab[g + outputs * r + i]
                        for j in 0 ..< r { total[numel + i * r + j] += slab[g + i * r + j] * bias }
                    }
                }
            }
        case .dense:
            let beta: Double = started.insert(position).inserted ? 0 : 1
            sums[position].withUnsafeMutableBufferPointer { total in
                slab.withUnsafeBufferPointer { g in
                    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, Int32(numel), Int32(rows), 1,
                                g.baseAddress!, Int32(numel), beta, total.baseAddress!, Int32(numel))
                }
            }
        }
    }

    /// Turns this builder's sums into the Fisher's blocks in place (mirrored
    /// and divided by the examples' weight) once every example was added:
    /// builders running side by side each finish their own layers on their
    /// own core, instead of `result` doing all of it on one.
    public mutating func finish() {
        guard examples > 0, totalWeight > 0 else { return }
        let scale = 1 / totalWeight
        for position in sums.indices where !sums[position].isEmpty && !finished.contains(position) {
            let numel = collection.entries[position].layer.numel
            if form == .dense && !started.contains(position) {
                // No slab reached this layer (a builder without examples): zeros.
                sums[position].withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
            }
            sums[position].withUnsafeMutableBufferPointer { values in
                if form == .dense { SquareMirror.copy(values.baseAddress!, side: numel, from: .upper) }
                cblas_dscal(Int32(values.count), scale, values.baseAddress!, 1)
            }
            finished.insert(position)
        }
    }

    /// Dense block `position` of the Fisher, moved out of this builder (a
    /// builder over that one layer hands its block on without a copy).
    public mutating func takeBlock(_ position: Int) throws(CoreError) -> [Double] {
        guard examples > 0, totalWeight > 0 else { throw CoreError(.invalidArgument, "no examples were read") }
        finish()
        defer { sums[position] = [] }
        return sums[position]
    }

    /// The Fisher: sums over the examples seen, divided by their number. The
    /// accumulators become the result in place (moved out, not copied: the
    /// dense blocks of a big model are gigabytes), so this is the last call.
    public mutating func result() throws(CoreError) -> StructuredMatrix {
        guard examples > 0, totalWeight > 0 else { throw CoreError(.invalidArgument, "no examples were read") }
        finish()
        var blocks: [any BlockForm] = []
        for position in sums.indices {
            let numel = collection.entries[position].layer.numel
            let block = sums[position]
            sums[position] = []
            switch form {
            case .diag: blocks.append(DiagForm(values: block))
            case .quasidiag:
                if let (outputs, perOutput, crossShape) = quasi[position] {
                    blocks.append(QuasiDiagForm(outputs: outputs, perOutput: perOutput, diagonal: Array(block[..<numel]),
                                                cross: Array(block[numel...]), crossShape: crossShape))
                } else {
                    blocks.append(DiagForm(values: block))
                }
            case .dense: blocks.append(DenseForm(block: Matrix64(rows: numel, columns: numel, values: block), knownSymmetric: true))
            }
        }
        return try StructuredMatrix(collection: collection, blocks: blocks)
    }
}
