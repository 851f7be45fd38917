import LCDBCore
import LCDBStore

/// A matrix that spans layers in an expression (low-rank `c I + Jᵀ S J`, or
/// full), in memory as float64; `dtype` is what `let` stores. Only the
/// operations that keep it exact take it (`supported`); the block-by-block
/// operations refuse it by name rather than use its diagonal blocks.
public struct WholeMatrixValue: Sendable {
    public let matrix: any WholeMatrix
    /// The stored collection it is over, when known.
    public let collectionName: String?
    public let dtype: DType
    /// The stored matrix it was read from, if it is one unchanged.
    public var storedName: String? = nil

    static let supported = "mv, vtmv, trace, frobenius, diag, solve, inv, pow, sample, logdet, eigvals, effective_dim, compare, s * M, M + s * identity(C)"

    func with(_ matrix: any WholeMatrix) -> WholeMatrixValue {
        WholeMatrixValue(matrix: matrix, collectionName: collectionName, dtype: dtype)
    }

    /// `v`'s values, checked to be over the same layers.
    private func values(of v: AnyParameterVector, for what: String) throws -> [Double] {
        try matrix.collection.requireEqual(to: v.collection, for: what)
        return v.typed(Double.self).values
    }

    private func vector(_ values: [Double], like v: AnyParameterVector) throws -> Value {
        let result = AnyParameterVector(try ParameterVector<Double>(collection: matrix.collection, values: values))
        return .vector(result.converted(to: Arithmetic.promote(dtype, v.dtype)), collectionName: collectionName)
    }

    func product(_ v: AnyParameterVector) throws -> Value {
        try vector(try matrix.product(try values(of: v, for: "mv")), like: v)
    }

    func quadraticForm(_ v: AnyParameterVector) throws -> Double {
        try matrix.quadraticForm(try values(of: v, for: "vtmv"))
    }

    func solve(_ v: AnyParameterVector, regularization: Double) throws -> Value {
        try vector(try matrix.solve(try values(of: v, for: "solve"), regularization: regularization), like: v)
    }

    func diagonal() throws -> Value {
        try ParameterVector<Double>.requireMemory(over: matrix.collection, copies: 2, "the diagonal")
        let diagonal = AnyParameterVector(try ParameterVector<Double>(collection: matrix.collection, values: try matrix.diagonal()))
        return .vector(diagonal.converted(to: dtype), collectionName: collectionName)
    }

    /// Every eigenvalue, or the k largest or smallest, as `eigvals` prints them
    /// (the layer column says the vector spans layers).
    func eigenvalueTable(k: Int, largest: Bool) throws -> ResultTable {
        let parts = try matrix.spectrum()
        var values = k == 0 ? parts.flatMap(\.all) : parts.flatMap { $0.extremes(k, largest: largest) }
        values.sort(by: largest ? { $0 > $1 } : { $0 < $1 })
        if k > 0, values.count > k { values.removeLast(values.count - k) }
        return ResultTable(columns: ["rank", "eigenvalue", "layer"],
                           rows: values.enumerated().map { [.integer($0.offset + 1), .real($0.element), .text("(all)")] })
    }

    /// What `show` prints.
    func table() throws -> ResultTable {
        let what = storedName.map { "matrix \($0)" } ?? "matrix"
        let over = collectionName.map { " over \($0)" } ?? ""
        if let low = matrix as? LowRankMatrix {
            let core = low.core == nil ? (low.coreScale == 1 ? "S = I" : "S = \(ResultTable.format(low.coreScale)) I") : "S \(low.rank) x \(low.rank)"
            return ResultTable(columns: ["rows", "numel", "shift", "core", "trace", "frobenius"],
                               rows: [[.integer(low.rank), .integer(low.numel), .real(low.shift), .text(core), .real(try low.trace()), .real(try low.frobeniusNorm())]],
                               note: "\(what)\(over): lowrank (c I + Jᵀ S J, J \(low.rank) x \(low.numel)), \(dtype), \(low.factor.isInMemory ? "\(MemoryBudget.format(low.byteCount)) in memory" : "J streamed by panels (\(MemoryBudget.format(low.factor.byteCount)) as float64), \(MemoryBudget.format(low.byteCount)) in memory")")
        }
        return ResultTable(columns: ["numel", "trace", "frobenius"],
                           rows: [[.integer(matrix.numel), .real(try matrix.trace()), .real(try matrix.frobeniusNorm())]],
                           note: "\(what)\(over): \(matrix.representation) (\(matrix.numel) x \(matrix.numel), spanning layers), \(dtype), \(MemoryBudget.format(matrix.byteCount)) in memory")
    }
}
