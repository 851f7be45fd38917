import COpenBLAS
import Foundation

/// `c I + Jᵀ S J` over a whole layer collection: a matrix that spans layers
/// (not block-diagonal), kept through the `n x numel` factor `J`.
/// NNGeometry's `PMatLowRank` is `Jᵀ J` (c = 0, S = I) with `J = G / √n`, the
/// per-example gradients as rows. Damping and inversion keep this form
/// (Woodbury), so `solve`, `inv`, `logdet` and the spectrum are exact and cost
/// `n x n` work through the Gram matrix `K = J Jᵀ`, never `numel x numel`.
/// (NNGeometry's low-rank solve drops the null space of J; here the damped
/// inverse acts on it as `1 / (c + regul)`, which is what the matrix does.)
public struct LowRankMatrix: WholeMatrix {
    public let collection: LayerCollection
    /// J, `n x numel`: in memory, or streamed a panel of columns at a time
    /// from a file or the database when it is larger than memory allows.
    public let factor: any LowRankFactor
    /// S, `n x n` symmetric; nil is `coreScale I` (kept as one number: `2 * F`
    /// of 10,000 examples would otherwise hold an 800 MB identity).
    public let core: Matrix64?
    public let coreScale: Double
    /// c.
    public let shift: Double

    public init(collection: LayerCollection, factor: any LowRankFactor, core: Matrix64? = nil, coreScale: Double = 1, shift: Double = 0) throws(CoreError) {
        guard factor.layerBounds == collection.offsets + [collection.numel] else {
            throw CoreError(.invalidSize, "a low-rank factor of \(factor.columns) columns over a collection of \(collection.numel) parameters")
        }
        guard factor.rows > 0 else { throw CoreError(.invalidArgument, "a low-rank factor needs at least one row") }
        if let core, core.rows != factor.rows || core.columns != factor.rows {
            throw CoreError(.invalidSize, "a low-rank core of \(core.rows) x \(core.columns) for a factor of \(factor.rows) rows")
        }
        self.collection = collection
        self.factor = factor
        self.core = core
        self.coreScale = core == nil ? coreScale : 1
        self.shift = shift
    }

    /// From J in memory (`n x numel`, row-major).
    public init(collection: LayerCollection, factor: Matrix64, core: Matrix64? = nil, coreScale: Double = 1, shift: Double = 0) throws(CoreError) {
        guard factor.columns == collection.numel else {
            throw CoreError(.invalidSize, "a low-rank factor of \(factor.columns) columns over a collection of \(collection.numel) parameters")
        }
        try self.init(collection: collection, factor: InMemoryFactor(rows: factor.rows, layerBounds: collection.offsets + [collection.numel], values: factor.values),
                      core: core, coreScale: coreScale, shift: shift)
    }

    public var representation: String { "lowrank" }
    public var kindName: String { "low-rank" }

    /// n: the factor's rows (examples).
    public var rank: Int { factor.rows }
    public var numel: Int { collection.numel }

    /// The bytes of float64 it holds in memory: J when it is there, else one
    /// panel of it; and the core.
    public var byteCount: Double {
        let j = factor.isInMemory ? factor.byteCount : Double(rank * LowRankPanels.width(rows: rank)) * 8
        return j + 8 * (Double(core?.values.count ?? 1) + 1)
    }

    // MARK: Passes over J

    /// J v (n values).
    private func project(_ v: [Double]) throws(CoreError) -> [Double] {
        try gramAndProjection(of: v, gram: false).projection
    }

    /// K = J Jᵀ and J v from one pass over J: `dsyrk` adds each panel's
    /// `P Pᵀ` to one triangle (half of `dgemm`'s work; the Gram matrix is most
    /// of a solve's time), mirrored at the end.
    private func gramAndProjection(of v: [Double]?, gram: Bool = true) throws(CoreError) -> (gram: Matrix64, projection: [Double]) {
        let n = rank
        if gram { try MemoryBudget.require(Double(n) * Double(n) * 8 * 3, for: "the \(n) x \(n) Gram matrix of the low-rank factor") }
        var k = [Double](repeating: 0, count: gram ? n * n : 0)
        var u = [Double](repeating: 0, count: v == nil ? 0 : n)
        try k.withUnsafeMutableBufferPointer { (target) throws(CoreError) in
            try u.withUnsafeMutableBufferPointer { (projection) throws(CoreError) in
                try factor.forEachPanel { (columns, panel, leading) throws(CoreError) in
                    if gram {
                        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, Int32(n), Int32(columns.count), 1,
                                    panel, Int32(leading), 1, target.baseAddress!, Int32(n))
                    }
                    if let v {
                        v.withUnsafeBufferPointer { x in
                            cblas_dgemv(CblasRowMajor, CblasNoTrans, Int32(n), Int32(columns.count), 1, panel, Int32(leading),
                                        x.baseAddress! + columns.lowerBound, 1, 1, projection.baseAddress!, 1)
                        }
                    }
                }
            }
            if gram { SquareMirror.copy(target.baseAddress!, side: n, from: .upper) }
        }
        return (Matrix64(rows: gram ? n : 0, columns: gram ? n : 0, values: k), u)
    }

    /// Jᵀ u added to `target` times `alpha`.
    private func lift(_ u: [Double], alpha: Double, into target: inout [Double]) throws(CoreError) {
        let n = rank
        try target.withUnsafeMutableBufferPointer { (result) throws(CoreError) in
            try u.withUnsafeBufferPointer { (x) throws(CoreError) in
                try factor.forEachPanel { (columns, panel, leading) throws(CoreError) in
                    cblas_dgemv(CblasRowMajor, CblasTrans, Int32(n), Int32(columns.count), alpha, panel, Int32(leading),
                                x.baseAddress!, 1, 1, result.baseAddress! + columns.lowerBound, 1)
                }
            }
        }
    }

    /// S P for a panel P (`n x width`, leading dimension `leading`), packed.
    private func coreTimes(panel: UnsafePointer<Double>, width: Int, leading: Int) -> [Double] {
        let n = rank
        guard let core else {
            var result = [Double](repeating: 0, count: n * width)
            for a in 0 ..< n { for i in 0 ..< width { result[a * width + i] = coreScale * panel[a * leading + i] } }
            return result
        }
        return [Double](unsafeUninitializedCapacity: n * width) { target, count in
            core.values.withUnsafeBufferPointer { s in
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(width), Int32(n), 1, s.baseAddress!, Int32(n),
                            panel, Int32(leading), 0, target.baseAddress!, Int32(width))
            }
            count = n * width
        }
    }

    /// S x (x has n rows); a scalar core scales.
    private func coreTimes(_ x: Matrix64) -> Matrix64 {
        core.map { Matrix64.product($0, x) } ?? Matrix64(rows: x.rows, columns: x.columns, values: x.values.map { coreScale * $0 })
    }

    /// x S (x has n columns).
    private func timesCore(_ x: Matrix64) -> Matrix64 {
        core.map { Matrix64.product(x, $0) } ?? Matrix64(rows: x.rows, columns: x.columns, values: x.values.map { coreScale * $0 })
    }

    /// S u.
    private func applyCore(_ u: [Double]) -> [Double] {
        guard let core else { return coreScale == 1 ? u : u.map { coreScale * $0 } }
        return Matrix64.product(core, Matrix64(rows: u.count, columns: 1, values: u)).values
    }

    private func requireLength(_ v: [Double]) throws(CoreError) {
        guard v.count == numel else {
            throw CoreError(.invalidSize, "a vector of \(v.count) values for a matrix over \(numel) parameters")
        }
    }

    // MARK: Products

    /// M v = c v + Jᵀ S J v.
    public func product(_ v: [Double]) throws(CoreError) -> [Double] {
        try requireLength(v)
        var result = v.map { shift * $0 }
        try lift(applyCore(try project(v)), alpha: 1, into: &result)
        return result
    }

    /// vᵀ M v = c vᵀv + (Jv)ᵀ S (Jv).
    public func quadraticForm(_ v: [Double]) throws(CoreError) -> Double {
        try requireLength(v)
        let u = try project(v)
        return shift * v.reduce(0) { $0 + $1 * $1 } + zip(u, applyCore(u)).reduce(0) { $0 + $1.0 * $1.1 }
    }

    /// K = J Jᵀ (n x n, both triangles).
    public func gram() throws(CoreError) -> Matrix64 {
        try gramAndProjection(of: nil).gram
    }

    /// tr M = c numel + tr(S K); for S = s I, s times the sum of J's squares.
    public func trace() throws(CoreError) -> Double {
        let lowRank: Double
        if let core {
            let k = try gram()
            lowRank = zip(core.values, k.values).reduce(0) { $0 + $1.0 * $1.1 }
        } else {
            var squares = 0.0
            try factor.forEachPanel { (columns, panel, leading) throws(CoreError) in
                for a in 0 ..< rank { squares += cblas_ddot(Int32(columns.count), panel + a * leading, 1, panel + a * leading, 1) }
            }
            lowRank = coreScale * squares
        }
        return shift * Double(numel) + lowRank
    }

    /// ‖M‖_F = sqrt(c² numel + 2c tr(SK) + tr(SKSK)), from the Gram matrix.
    public func frobeniusNorm() throws(CoreError) -> Double {
        let k = try gram()
        let sk = coreTimes(k)
        var trSK = 0.0, trSKSK = 0.0
        for i in 0 ..< rank {
            trSK += sk[i, i]
            for j in 0 ..< rank { trSKSK += sk[i, j] * sk[j, i] }
        }
        return max(0, shift * shift * Double(numel) + 2 * shift * trSK + trSKSK).squareRoot()
    }

    /// The diagonal: `c + Σ_ab J_ai S_ab J_bi`, a panel of columns at a time.
    public func diagonal() throws(CoreError) -> [Double] {
        var result = [Double](repeating: shift, count: numel)
        let n = rank
        try factor.forEachPanel { (columns, panel, leading) throws(CoreError) in
            let width = columns.count
            if core == nil {
                for a in 0 ..< n {
                    for i in 0 ..< width { result[columns.lowerBound + i] += coreScale * panel[a * leading + i] * panel[a * leading + i] }
                }
                return
            }
            let mixed = coreTimes(panel: panel, width: width, leading: leading)
            for a in 0 ..< n {
                for i in 0 ..< width { result[columns.lowerBound + i] += panel[a * leading + i] * mixed[a * width + i] }
            }
        }
        return result
    }

    /// The columns of J that belong to layer `position` (`n x side`): what
    /// is stored and exported per layer.
    public func factorColumns(_ position: Int) throws(CoreError) -> Matrix64 {
        let range = collection.range(at: position)
        try MemoryBudget.require(Double(rank) * Double(range.count) * 8, for: "the \(rank) x \(range.count) factor of layer '\(collection.names[position])'")
        var columns = Matrix64(zeros: rank, range.count)
        try columns.values.withUnsafeMutableBufferPointer { (target) throws(CoreError) in
            try factor.read(rows: 0 ..< rank, columns: range, into: target.baseAddress!)
        }
        return columns
    }

    /// `Jᵀ S J + c I` restricted to `columns` (`side x side`, side =
    /// columns.count), a pair of panels at a time: for each panel P_i its
    /// `S P_i`, then every panel P_j's `P_jᵀ S P_i` in place.
    private func block(over columns: Range<Int>) throws(CoreError) -> Matrix64 {
        let side = columns.count, n = rank
        let panels = factor.panels.filter { $0.lowerBound >= columns.lowerBound && $0.upperBound <= columns.upperBound }
        var result = Matrix64(zeros: side, side)
        for outer in panels {
            let mixed = try factor.withPanel(outer) { (panel, leading) throws(CoreError) in
                coreTimes(panel: panel, width: outer.count, leading: leading)
            }
            try result.values.withUnsafeMutableBufferPointer { (target) throws(CoreError) in
                try factor.forEachPanel(among: panels) { (inner, panel, leading) throws(CoreError) in
                    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(inner.count), Int32(outer.count), Int32(n), 1,
                                panel, Int32(leading), mixed, Int32(outer.count), 0,
                                target.baseAddress! + (inner.lowerBound - columns.lowerBound) * side + outer.lowerBound - columns.lowerBound, Int32(side))
                }
            }
        }
        for i in 0 ..< side { result[i, i] += shift }
        return result
    }

    /// The diagonal block of layer `position`: `c I + J_lᵀ S J_l` (what a
    /// block-diagonal approximation keeps of this matrix).
    public func diagonalBlock(at position: Int) throws(CoreError) -> Matrix64 {
        let side = collection.entries[position].layer.numel
        try MemoryBudget.require(Double(side) * Double(side) * 8 * 2, for: "the \(side) x \(side) block of layer '\(collection.names[position])'")
        return try block(over: collection.range(at: position))
    }

    /// ⟨M, N⟩_F = tr(M N) for two low-rank matrices over the same layers,
    /// through the cross Gram matrix `X = J_M J_Nᵀ` (`n_M x n_N`), one pass
    /// over both factors' panels.
    public func frobeniusInner(_ other: LowRankMatrix) throws(CoreError) -> Double {
        guard other.factor.layerBounds == factor.layerBounds else { throw CoreError(.invalidSize, "low-rank matrices over \(numel) and \(other.numel) parameters") }
        let (n, m) = (rank, other.rank)
        try MemoryBudget.require(Double(n) * Double(m) * 8 * 3, for: "the \(n) x \(m) cross Gram matrix")
        var cross = Matrix64(zeros: n, m)
        try cross.values.withUnsafeMutableBufferPointer { (target) throws(CoreError) in
            try factor.forEachPanel { (columns, a, lda) throws(CoreError) in
                try other.factor.withPanel(columns) { (b, ldb) throws(CoreError) in
                    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(m), Int32(columns.count), 1,
                                a, Int32(lda), b, Int32(ldb), 1, target.baseAddress!, Int32(m))
                }
            }
        }
        let sx = coreTimes(cross)
        let tx = other.coreTimes(cross.transposed())
        // tr(S_M X S_N Xᵀ) = Σ_ij (S_M X)_ij (S_N Xᵀ)_ji
        var inner = 0.0
        for i in 0 ..< n { for j in 0 ..< m { inner += sx[i, j] * tx[j, i] } }
        let traceM = try trace() - shift * Double(numel), traceN = try other.trace() - other.shift * Double(numel)
        return shift * other.shift * Double(numel) + shift * traceN + other.shift * traceM + inner
    }

    // MARK: Forms kept

    /// alpha M.
    public func scaled(by alpha: Double) -> LowRankMatrix {
        let scaledCore = core.map { Matrix64(rows: rank, columns: rank, values: $0.values.map { $0 * alpha }) }
        return LowRankMatrix(unchecked: collection, factor, scaledCore, coreScale * alpha, shift * alpha)
    }

    /// M + s I.
    public func shifted(by s: Double) -> LowRankMatrix {
        LowRankMatrix(unchecked: collection, factor, core, coreScale, shift + s)
    }

    /// The shape checks hold already (the same factor).
    private init(unchecked collection: LayerCollection, _ factor: any LowRankFactor, _ core: Matrix64?, _ coreScale: Double, _ shift: Double) {
        self.collection = collection
        self.factor = factor
        self.core = core
        self.coreScale = core == nil ? coreScale : 1
        self.shift = shift
    }

    /// `c' I + K S` and its LU factors, c' = c + regul; a zero c' is refused
    /// (`Jᵀ S J` alone has rank at most n). With `v`, also J v from the same pass.
    private func woodburyFactors(_ regularization: Double, projecting v: [Double]? = nil) throws(CoreError) -> (c: Double, lu: [Double], pivots: [Int32], projection: [Double]) {
        let c = shift + regularization
        guard c != 0, c.isFinite else {
            throw CoreError(.invalidArgument, "a low-rank matrix plus \(Self.format(regularization)) I is singular or undefined: its identity part c + regul is \(Self.format(c)) (Jᵀ S J alone has rank at most \(rank) of \(numel)); give a non-zero regul")
        }
        let (k, projection) = try gramAndProjection(of: v)
        var t = timesCore(k)
        for i in 0 ..< rank { t[i, i] += c }
        var pivots = [Int32](repeating: 0, count: rank)
        let info = t.values.withUnsafeMutableBufferPointer { Double.getrf(Int32(rank), $0.baseAddress!, &pivots) }
        guard info == 0 else {
            throw CoreError(.singularBlock, "the low-rank matrix plus \(regularization) I is singular (the n x n system c I + K S has a zero pivot at \(info))")
        }
        return (c, t.values, pivots, projection)
    }

    /// (M + regul I)⁻¹ v = (v − Jᵀ S (c'I + K S)⁻¹ J v) / c'  (Woodbury): two
    /// passes over J, the first forming K and J v together.
    public func solve(_ v: [Double], regularization: Double) throws(CoreError) -> [Double] {
        try requireLength(v)
        var (c, lu, pivots, w) = try woodburyFactors(regularization, projecting: v)
        _ = lu.withUnsafeMutableBufferPointer { Double.getrs(Int32(rank), $0.baseAddress!, pivots, &w) }
        var result = v
        try lift(applyCore(w), alpha: -1, into: &result)
        return result.map { $0 / c }
    }

    /// (M + regul I)⁻¹ = c'⁻¹ I − c'⁻¹ Jᵀ S (c'I + K S)⁻¹ J: the same factor,
    /// a new core and shift.
    public func inverse(regularization: Double) throws(CoreError) -> LowRankMatrix {
        var (c, lu, pivots, _) = try woodburyFactors(regularization)
        let info = lu.withUnsafeMutableBufferPointer { Double.getri(Int32(rank), $0.baseAddress!, pivots) }
        guard info == 0 else { throw CoreError(.singularBlock, "the low-rank matrix plus \(regularization) I is singular") }
        let inverse = Matrix64(rows: rank, columns: rank, values: lu)
        var newCore = coreTimes(inverse)
        newCore.values = newCore.values.map { -$0 / c }
        // S (c'I + K S)⁻¹ is symmetric in exact arithmetic; keep it so.
        for i in 0 ..< rank {
            for j in i + 1 ..< rank {
                let mean = (newCore[i, j] + newCore[j, i]) / 2
                newCore[i, j] = mean
                newCore[j, i] = mean
            }
        }
        return LowRankMatrix(unchecked: collection, factor, newCore, 1, 1 / c)
    }

    // MARK: Spectrum

    /// Every eigenvalue: those of `Jᵀ S J`'s range, `c + eig(K^½ S K^½)`, and
    /// `c` for the rest (numel − n times when n < numel; when n > numel the
    /// n − numel values nearest zero are the rank's excess and dropped).
    public func spectrum() throws(CoreError) -> [BlockSpectrum] {
        let k = try gram()
        var lowRank: [Double]
        if let core {
            let (lambda, q) = try k.symmetricEigen()
            var root = q
            for j in 0 ..< rank {
                let scale = max(0, lambda[j]).squareRoot()
                for i in 0 ..< rank { root[i, j] *= scale }
            }
            let b = Matrix64.product(Matrix64.product(root, core, transposeA: true), root)
            lowRank = try b.symmetricEigenvalues()
        } else {
            lowRank = try k.symmetricEigenvalues().map { coreScale * $0 }
        }
        if rank > numel {
            lowRank = Array(lowRank.sorted { abs($0) > abs($1) }.prefix(numel))
        }
        var parts: [BlockSpectrum] = [.values(lowRank.map { $0 + shift })]
        if numel > rank { parts.append(.constant(shift, count: numel - rank)) }
        return parts
    }

    /// (M + regul I)^p for any real p, again as `c' I + Jᵀ S' J` with the same
    /// J: on the range of Jᵀ, with K = Q Λ Qᵀ (λ > 0 kept) and the core's
    /// eigenvectors there, `Λ^½ Qᵀ S Q Λ^½ = W β Wᵀ`, the eigenvectors of
    /// `Jᵀ S J` are the columns of `Jᵀ Q Λ^-½ W`; so `f(M) = f(c) I + Jᵀ T
    /// diag(f(c + β) − f(c)) Tᵀ J` with `T = Q Λ^-½ W`, f the power (domain
    /// checked: a fractional power of an indefinite matrix is an error).
    public func power(_ exponent: Double, regularization: Double) throws(CoreError) -> LowRankMatrix {
        let k = try gram()
        let (lambda, q) = try k.symmetricEigen()
        let largest = lambda.map(abs).max() ?? 0
        let kept = lambda.indices.filter { lambda[$0] > largest * Double(rank) * Double.ulpOfOne }
        let m = kept.count
        // Q Λ^-½ (n x m) and Λ^½ Qᵀ S Q Λ^½ (m x m).
        var scaledBasis = Matrix64(zeros: rank, m)
        for (j, index) in kept.enumerated() {
            let inverseRoot = 1 / lambda[index].squareRoot()
            for i in 0 ..< rank { scaledBasis[i, j] = q[i, index] * inverseRoot }
        }
        var rootBasis = scaledBasis
        for (j, index) in kept.enumerated() {
            for i in 0 ..< rank { rootBasis[i, j] = q[i, index] * lambda[index].squareRoot() }
        }
        let coreTimesRoot = coreTimes(rootBasis)
        var b = Matrix64.product(rootBasis, coreTimesRoot, transposeA: true)
        for i in 0 ..< m {
            for j in i + 1 ..< m {
                let mean = (b[i, j] + b[j, i]) / 2
                b[i, j] = mean
                b[j, i] = mean
            }
        }
        let (beta, w) = try b.symmetricEigen()
        let f = try EigenvalueFunction(exponent: exponent, regularization: regularization, layer: "the \(kindName) matrix",
                                       spectrum: .values(beta.map { $0 + shift } + [shift]))
        let base = try f(shift)
        let t = Matrix64.product(scaledBasis, w)
        var weighted = t
        for j in 0 ..< m {
            let gain = try f(shift + beta[j]) - base
            for i in 0 ..< rank { weighted[i, j] *= gain }
        }
        let newCore = Matrix64.product(weighted, t, transposeB: true)
        return LowRankMatrix(unchecked: collection, factor, newCore, 1, base)
    }

    /// log det(M + regul I), which must be positive definite.
    public func logDeterminant(regularization: Double) throws(CoreError) -> Double {
        let parts = try spectrum()
        let smallest = parts.compactMap(\.minimum).min() ?? 0
        guard smallest + regularization > 0 else {
            throw CoreError(.invalidArgument, "the low-rank matrix plus \(Self.format(regularization)) I is not positive definite (smallest eigenvalue \(smallest + regularization)); logdet needs it positive")
        }
        return parts.reduce(0) { $0 + $1.sum { log($0 + regularization) } }
    }

    /// `0`, `0.001`: a number as typed, not Swift's `0.0`.
    private static func format(_ x: Double) -> String {
        x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : "\(x)"
    }

    /// The whole `numel x numel` matrix (tests, and small models).
    public func dense() throws(CoreError) -> Matrix64 {
        try MemoryBudget.require(Double(numel) * Double(numel) * 8, for: "the low-rank matrix as one dense \(numel) x \(numel) matrix")
        return try block(over: 0 ..< numel)
    }
}
