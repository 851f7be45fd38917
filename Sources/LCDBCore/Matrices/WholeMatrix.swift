/// A matrix over a whole layer collection that is not block-diagonal: the
/// blocks between layers are part of it. Each kind is one conforming type
/// stating its operations (`LowRankMatrix`: `c I + Jᵀ S J`; `FullMatrix`: every
/// entry); the shell takes any of them where the operation stays exact, and
/// the block-by-block operations refuse them.
public protocol WholeMatrix: Sendable {
    var collection: LayerCollection { get }
    /// The stored `representation`: `lowrank` or `full`.
    var representation: String { get }
    /// "low-rank", "full": what messages call it.
    var kindName: String { get }
    /// Bytes of float64 it holds in memory (a streamed low-rank factor: one panel).
    var byteCount: Double { get }

    func product(_ v: [Double]) throws(CoreError) -> [Double]
    func quadraticForm(_ v: [Double]) throws(CoreError) -> Double
    func trace() throws(CoreError) -> Double
    func frobeniusNorm() throws(CoreError) -> Double
    func diagonal() throws(CoreError) -> [Double]
    /// The block of layer `position` (what a block-diagonal approximation keeps).
    func diagonalBlock(at position: Int) throws(CoreError) -> Matrix64
    /// The whole `numel x numel` matrix (checked against memory).
    func dense() throws(CoreError) -> Matrix64

    /// alpha M, in the same kind.
    func scaled(by alpha: Double) -> Self
    /// M + s I, in the same kind.
    func shifted(by s: Double) -> Self
    /// (M + regul I)⁻¹ v, exactly.
    func solve(_ v: [Double], regularization: Double) throws(CoreError) -> [Double]
    /// (M + regul I)⁻¹, in the same kind.
    func inverse(regularization: Double) throws(CoreError) -> Self
    /// Every eigenvalue, implicit where the kind allows.
    func spectrum() throws(CoreError) -> [BlockSpectrum]
    /// (M + regul I)^p for any real p, in the same kind.
    func power(_ exponent: Double, regularization: Double) throws(CoreError) -> Self
    /// log det(M + regul I), which must be positive definite.
    func logDeterminant(regularization: Double) throws(CoreError) -> Double
}

extension WholeMatrix {
    public var numel: Int { collection.numel }

    /// ⟨M, N⟩_F: between two low-rank matrices through their cross Gram
    /// matrix, else entry by entry (a full operand is in memory already, so
    /// the other's dense form is no larger).
    public func frobeniusInner(_ other: any WholeMatrix) throws(CoreError) -> Double {
        if let a = self as? LowRankMatrix, let b = other as? LowRankMatrix { return try a.frobeniusInner(b) }
        let x = try dense(), y = try other.dense()
        return zip(x.values, y.values).reduce(0) { $0 + $1.0 * $1.1 }
    }
}
