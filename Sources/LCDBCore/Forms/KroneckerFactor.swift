/// One side of a Kronecker-factored block (KFAC's `A` or `G`, EKFAC's `U_A`
/// or `U_G`): a dense square matrix, or a diagonal one kept as its diagonal
/// (an Embedding's input factor is exactly diagonal, since its inputs are
/// one-hot: GPT-2's `wte` factor is 50,257 values, not a 20 GB matrix).
public enum KroneckerFactor: Equatable, Sendable {
    case dense(Matrix64)
    case diagonal([Double])

    public var size: Int {
        switch self {
        case .dense(let m): m.rows
        case .diagonal(let d): d.count
        }
    }

    public var isDiagonal: Bool { if case .diagonal = self { true } else { false } }

    /// The tensor shape it is stored and exported with: 2-D, or 1-D when diagonal.
    public var shape: [Int] { isDiagonal ? [size] : [size, size] }

    public var values: [Double] {
        switch self {
        case .dense(let m): m.values
        case .diagonal(let d): d
        }
    }

    /// From a stored or imported tensor: 1-D is diagonal, 2-D `n x n` dense.
    public init(shape: [Int], values: [Double]) {
        self = shape.count == 1 ? .diagonal(values) : .dense(Matrix64(rows: shape[0], columns: shape[1], values: values))
    }

    public var dense: Matrix64 {
        switch self {
        case .dense(let m): return m
        case .diagonal(let d):
            var m = Matrix64(zeros: d.count, d.count)
            for (i, value) in d.enumerated() { m[i, i] = value }
            return m
        }
    }

    public var trace: Double {
        switch self {
        case .dense(let m): m.trace
        case .diagonal(let d): d.reduce(0, +)
        }
    }

    public var frobeniusNorm: Double {
        switch self {
        case .dense(let m): m.frobeniusNorm
        case .diagonal(let d): Matrix64.norm(d)
        }
    }

    public var diagonalValues: [Double] {
        switch self {
        case .dense(let m): m.diagonal
        case .diagonal(let d): d
        }
    }

    /// self + alpha other, diagonal only when both are.
    public func plus(_ other: KroneckerFactor, scaledBy alpha: Double) -> KroneckerFactor {
        if case .diagonal(let a) = self, case .diagonal(let b) = other { return .diagonal(zip(a, b).map { $0 + alpha * $1 }) }
        let (a, b) = (dense, other.dense)
        return .dense(Matrix64(rows: a.rows, columns: a.columns, values: zip(a.values, b.values).map { $0 + alpha * $1 }))
    }

    public func scaled(by alpha: Double) -> KroneckerFactor {
        switch self {
        case .dense(let m): .dense(Matrix64(rows: m.rows, columns: m.columns, values: m.values.map { $0 * alpha }))
        case .diagonal(let d): .diagonal(d.map { $0 * alpha })
        }
    }

    /// F v (or Fᵀ v) for `v` of `size` rows.
    public func timesLeft(_ v: Matrix64, transposed: Bool = false) -> Matrix64 {
        switch self {
        case .dense(let m): return Matrix64.product(m, v, transposeA: transposed)
        case .diagonal(let d):
            var result = v
            for i in 0 ..< v.rows { for j in 0 ..< v.columns { result.values[i * v.columns + j] *= d[i] } }
            return result
        }
    }

    /// v F (or v Fᵀ) for `v` of `size` columns.
    public func timesRight(_ v: Matrix64, transposed: Bool = false) -> Matrix64 {
        switch self {
        case .dense(let m): return Matrix64.product(v, m, transposeB: transposed)
        case .diagonal(let d):
            var result = v
            for i in 0 ..< v.rows { for j in 0 ..< v.columns { result.values[i * v.columns + j] *= d[j] } }
            return result
        }
    }

    /// Eigenvalues and an orthonormal eigenbasis (a diagonal factor's is the
    /// identity, kept diagonal: a vector of ones).
    public func eigen() throws(CoreError) -> (values: [Double], basis: KroneckerFactor) {
        switch self {
        case .dense(let m):
            let (values, vectors) = try m.symmetricEigen()
            return (values, .dense(vectors))
        case .diagonal(let d):
            return (d, .diagonal([Double](repeating: 1, count: d.count)))
        }
    }

    /// Eigenvalues ascending, without the basis (a diagonal factor's are its values).
    public func eigenvalues() throws(CoreError) -> [Double] {
        switch self {
        case .dense(let m): try m.symmetricEigenvalues()
        case .diagonal(let d): d
        }
    }

    /// Refuses a factor that is not finite or not symmetric (relative
    /// tolerance 1e-10 of its largest entry; a diagonal one always is).
    public func requireSymmetricFinite(_ what: String) throws(CoreError) {
        if let bad = values.first(where: { !$0.isFinite }) {
            throw CoreError(.invalidArgument, "\(what) holds \(bad.isNaN ? "NaN" : "an infinite value")")
        }
        if case .dense(let m) = self, m.asymmetry > KroneckerFactor.symmetryTolerance {
            throw CoreError(.invalidArgument, "\(what) is not symmetric (largest |a_ij - a_ji| is \(m.asymmetry) of its largest entry; allowed \(KroneckerFactor.symmetryTolerance))")
        }
    }

    /// Refuses an eigenbasis that is not orthonormal: |UᵀU - I| at most 1e-8
    /// entrywise (a diagonal one must hold ±1).
    public func requireOrthonormal(_ what: String) throws(CoreError) {
        if let bad = values.first(where: { !$0.isFinite }) {
            throw CoreError(.invalidArgument, "\(what) holds \(bad.isNaN ? "NaN" : "an infinite value")")
        }
        let error: Double = switch self {
        case .dense(let m): m.orthonormalityError
        case .diagonal(let d): d.map { abs(abs($0) - 1) }.max() ?? 0
        }
        if error > KroneckerFactor.orthonormalityTolerance {
            throw CoreError(.invalidArgument, "\(what) is not orthonormal (largest |UᵀU - I| entry is \(error); allowed \(KroneckerFactor.orthonormalityTolerance))")
        }
    }

    public static let symmetryTolerance = 1e-10
    public static let orthonormalityTolerance = 1e-8
}
