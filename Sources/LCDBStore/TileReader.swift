import GRDB
import LCDBCore

/// The tiles of one stored block: listed and checked when made (they must
/// cover the block row by row, in the matrix's layout, each blob exactly the
/// size its rows and columns say), then read one at a time into the caller's
/// memory through one blob handle moved from row to row. The checks are made
/// without arithmetic that can overflow, since a damaged file may hold any
/// integers (`check` reports what they find).
final class TileReader {
    /// Where one tile lies in its block, and its row in lcdb_matrix_tile.
    struct Placement: Sendable {
        let rowID: Int64
        let rows: Range<Int>
        let columns: Range<Int>
    }

    let tiles: [Placement]
    private let db: Database
    private let matrix: StoredMatrix
    private let layer: String
    private var blob: BlobHandle?

    /// The tiles of the dense block at `position` (part `block`, side x side,
    /// in the matrix's layout).
    convenience init(_ db: Database, _ matrix: StoredMatrix, position: Int) throws {
        let side = matrix.collection.entries[position].layer.numel
        try self.init(db, matrix, position: position, part: "block", rows: side, columns: side, layout: matrix.layout)
    }

    /// The tiles of part `part` of the block at `position`, a `rows x columns`
    /// tensor stored in `layout`.
    /// Each tile's first column follows from the layout (the row it starts
    /// at for `upper`, else 0), so reads do not select `col_start`: it lies
    /// after the blob in each row (added by migration 0002), and SQLite
    /// reaches it only by walking the blob's whole overflow chain, which
    /// read every stored matrix once more before its values were read.
    /// `checkColumnStarts` (the `check` command) reads and checks it.
    init(_ db: Database, _ matrix: StoredMatrix, position: Int, part: String, rows partRows: Int, columns partColumns: Int,
         layout: MatrixLayout, checkColumnStarts: Bool = false) throws {
        self.db = db
        self.matrix = matrix
        let layer = matrix.collection.entries[position].name
        self.layer = part == "block" ? layer : "\(layer)' part '\(part)"
        let what = part == "block" ? "block '\(layer)'" : "part '\(part)' of block '\(layer)'"
        let rows = try Row.fetchAll(db, sql: """
            SELECT rowid, row_start, row_count, \(checkColumnStarts ? "col_start" : "NULL AS col_start"), length(data) AS bytes
            FROM lcdb_matrix_tile WHERE matrix_id = ? AND part = ? AND position = ? ORDER BY row_start
            """, arguments: [matrix.id, part, position])
        var nextRow = 0
        var tiles: [Placement] = []
        for row in rows {
            let rowStart: Int = row["row_start"], rowCount: Int = row["row_count"]
            let columnStart: Int = checkColumnStarts ? row["col_start"] : (layout == .upper ? rowStart : 0)
            guard rowStart == nextRow, rowCount > 0, rowCount <= partRows - rowStart else {
                throw StoreError(.corrupt, "matrix '\(matrix.name)': the tiles of \(what) do not cover it row by row (a tile claims rows \(rowStart) to \(rowStart) + \(rowCount) of \(partRows))")
            }
            guard columnStart == (layout == .upper ? rowStart : 0) else {
                throw StoreError(.corrupt, "matrix '\(matrix.name)': a tile of \(what) starts at column \(columnStart), which its \(layout.rawValue) layout does not allow")
            }
            let bytes: Int = row["bytes"]
            let expected = Store.exactProduct(rowCount, partColumns - columnStart, matrix.dtype.size)
            guard bytes == expected else {
                throw StoreError(.corrupt, "matrix '\(matrix.name)': the tile of \(what) at row \(rowStart) holds \(bytes) bytes, not the \(expected.map(String.init) ?? "too many") its rows need")
            }
            tiles.append(Placement(rowID: row["rowid"], rows: rowStart ..< rowStart + rowCount, columns: columnStart ..< partColumns))
            nextRow = rowStart + rowCount
        }
        guard nextRow == partRows else {
            throw StoreError(.corrupt, "matrix '\(matrix.name)': \(what) is missing rows")
        }
        self.tiles = tiles
    }

    /// Reads `tile`'s values (rows x columns, row-major) into `target`.
    func read<Scalar: BLASScalar>(_ tile: Placement, into target: UnsafeMutablePointer<Scalar>) throws {
        let blob = try BlobHandle.reading(&self.blob, db, table: "lcdb_matrix_tile", rowID: tile.rowID)
        let byteCount = tile.rows.count * tile.columns.count * MemoryLayout<Scalar>.size
        guard blob.byteCount == byteCount else {
            throw StoreError(.corrupt, "matrix '\(matrix.name)': a tile of '\(layer)' has the wrong size")
        }
        try blob.read(into: target, count: byteCount)
    }

    /// Reads `tile` into its place in a row-major `target` whose rows are
    /// `stride` values apart: one blob read when the tile is as wide as the
    /// target, else one per row. No copy between SQLite and the target.
    func read(_ tile: Placement, placedIn target: UnsafeMutablePointer<Double>, stride: Int) throws {
        let start = target + tile.rows.lowerBound * stride + tile.columns.lowerBound
        if tile.columns.count == stride {
            try read(tile, into: start)
        } else {
            try read(tile, rows: tile.rows, columns: tile.columns, into: start, stride: stride)
        }
    }

    /// Reads rows `rows` and columns `columns` of `tile` (both inside it) into
    /// `target`, row-major with `stride` values per row (`columns.count` by
    /// default): one blob read when the columns are the tile's whole width
    /// and rows are packed, else one per row.
    func read<Scalar: BLASScalar>(_ tile: Placement, rows: Range<Int>, columns: Range<Int>, into target: UnsafeMutablePointer<Scalar>,
                                  stride: Int? = nil) throws {
        let blob = try BlobHandle.reading(&self.blob, db, table: "lcdb_matrix_tile", rowID: tile.rowID)
        let size = MemoryLayout<Scalar>.size, width = tile.columns.count
        guard blob.byteCount == tile.rows.count * width * size else {
            throw StoreError(.corrupt, "matrix '\(matrix.name)': a tile of '\(layer)' has the wrong size")
        }
        let first = (rows.lowerBound - tile.rows.lowerBound) * width + columns.lowerBound - tile.columns.lowerBound
        let stride = stride ?? columns.count
        if columns == tile.columns, stride == width {
            try blob.read(into: target, count: rows.count * width * size, offset: first * size)
            return
        }
        for row in rows {
            try blob.read(into: target + (row - rows.lowerBound) * stride, count: columns.count * size,
                           offset: (first + (row - rows.lowerBound) * width) * size)
        }
    }
}
