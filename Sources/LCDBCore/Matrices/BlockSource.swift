/// A matrix defined entry by entry, so that any row panel of any block can be
/// produced on its own: in memory by `BlockDiagonalMatrix.materialize`, or
/// tile by tile straight into a database without holding a block.
public enum BlockSource: Sendable, Equatable {
    /// `scale` on the diagonal, zero elsewhere.
    case identity(scale: Double)
    /// Seeded random symmetric positive-definite blocks. Entry (i, j) of
    /// block b, for i < j, is `2u - 1` with
    /// `u = SeededGenerator.uniform(seed, stream: b, index: i * n + j)`, and
    /// (j, i) equals (i, j); diagonal entry (i, i) is `n + u(i * n + i)`.
    /// Strictly diagonally dominant, so by Gershgorin every eigenvalue lies in
    /// (0, 2n + 1): positive definite and well conditioned. Float32 blocks are
    /// the float64 values rounded.
    case randomSPD(seed: UInt64)

    public var isSymmetric: Bool { true }

    /// Writes rows `rows` of block `block` (side `side`), row-major, to `target`.
    public func fill<Scalar: BLASScalar>(block: Int, side: Int, rows: Range<Int>,
                                         into target: UnsafeMutablePointer<Scalar>) {
        fill(block: block, side: side, rows: rows, columns: 0 ..< side, into: target)
    }

    /// Writes columns `columns` of rows `rows` of block `block` (side `side`)
    /// to `target`, row-major with `columns.count` values per row.
    @_specialize(where Scalar == Double)
    @_specialize(where Scalar == Float)
    public func fill<Scalar: BLASScalar>(block: Int, side: Int, rows: Range<Int>, columns: Range<Int>,
                                         into target: UnsafeMutablePointer<Scalar>) {
        let width = columns.count
        switch self {
        case .identity(let scale):
            // memset: a generic initialize(repeating:) runs element by element.
            UnsafeMutableRawPointer(target).initializeMemory(as: UInt8.self, repeating: 0,
                                                             count: rows.count * width * MemoryLayout<Scalar>.size)
            for row in rows where columns.contains(row) {
                target[(row - rows.lowerBound) * width + row - columns.lowerBound] = Scalar(scale)
            }
        case .randomSPD(let seed):
            let stream = UInt64(block)
            for row in rows {
                let base = target + (row - rows.lowerBound) * width - columns.lowerBound
                for column in columns {
                    let (i, j) = row <= column ? (row, column) : (column, row)
                    let u = SeededGenerator.uniform(seed: seed, stream: stream, index: UInt64(i * side + j))
                    base[column] = Scalar(i == j ? Double(side) + u : 2 * u - 1)
                }
            }
        }
    }
}
