/// Combining norms computed in pieces (chunks, tiles, blocks) into one, with
/// NumPy's IEEE semantics: NaN when any piece is NaN, infinity when any piece
/// is infinite and none is NaN, and no spurious overflow or underflow in between.
public enum Norms {
    /// sqrt(Σ weight · norm²), scaled by the largest norm so no square overflows.
    public static func combined(_ norms: [(norm: Double, weight: Double)]) -> Double {
        var largest = 0.0
        for piece in norms {
            if piece.norm.isNaN { return .nan }
            largest = max(largest, piece.norm)
        }
        guard largest > 0 else { return 0 }
        guard largest.isFinite else { return .infinity }
        return largest * norms.reduce(0) { $0 + $1.weight * ($1.norm / largest) * ($1.norm / largest) }.squareRoot()
    }

    /// The same for unweighted pieces.
    public static func combined(_ norms: [Double]) -> Double {
        combined(norms.map { ($0, 1) })
    }
}
