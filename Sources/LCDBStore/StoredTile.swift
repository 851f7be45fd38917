/// How a stored matrix lays its blocks out in tiles.
public enum MatrixLayout: String, Sendable {
    /// Each tile holds whole rows of its block.
    case full
    /// Symmetric blocks only: the tile of rows r0 ..< r1 holds columns
    /// r0 ..< side of them (the diagonal square and what lies right of it);
    /// entries left of the diagonal square are read from earlier tiles.
    case upper
}

/// One tile of a stored block as read: rows `rows`, columns `columns` of each
/// row, row-major (`columns.count` values per row).
struct StoredTile<Scalar> {
    let rows: Range<Int>
    let columns: Range<Int>
    let values: UnsafePointer<Scalar>
    let layout: MatrixLayout

    var width: Int { columns.count }

    /// Entry (row, column) of the block, both absolute, within this tile.
    subscript(row: Int, column: Int) -> Scalar {
        values[(row - rows.lowerBound) * width + column - columns.lowerBound]
    }
}
