import GRDB
import LCDBCore

/// Whole rows out of stored tiles, for export: straight from `full` tiles,
/// rebuilt from the triangle of `upper` ones.
extension Store {
    /// Hands every block of a stored matrix, in row panels of whole rows in
    /// order, to `body` (position, side, rows, raw little-endian values) in
    /// one read transaction. Memory holds one tile for a `full` layout. An
    /// `upper` one is rebuilt a group of rows at a time (at most
    /// `rowGroupBytes`): each group's rows are filled from the tiles in it and,
    /// mirrored, from the tiles above it, which are read again for each group.
    public func streamTiles(of matrixName: String,
                            _ body: (_ position: Int, _ side: Int, _ rows: Range<Int>, _ bytes: UnsafeRawBufferPointer) throws -> Void) throws {
        try read { db in
            let matrix = try Store.matrixRow(db, name: matrixName)
            func stream<Scalar: BLASScalar>(_: Scalar.Type) throws {
                var buffer: [Scalar] = []
                let size = MemoryLayout<Scalar>.size
                for (position, entry) in matrix.collection.entries.enumerated() {
                    try Interruption.check()
                    let side = entry.layer.numel
                    if matrix.layout == .full {
                        try forEachTile(db, matrix, position: position, buffer: &buffer) { tile in
                            try body(position, side, tile.rows, UnsafeRawBufferPointer(start: tile.values, count: tile.rows.count * side * size))
                        }
                        continue
                    }
                    let reader = try TileReader(db, matrix, position: position)
                    let groupRows = max(1, min(side, rowGroupBytes / (side * size)))
                    var group = [Scalar](repeating: 0, count: groupRows * side)
                    for groupStart in stride(from: 0, to: side, by: groupRows) {
                        let rows = groupStart ..< min(side, groupStart + groupRows)
                        try group.withUnsafeMutableBufferPointer { target in
                            for tile in reader.tiles where tile.rows.lowerBound < rows.upperBound {
                                try Interruption.check()
                                let count = tile.rows.count * tile.columns.count
                                if buffer.count < count { buffer = [Scalar](repeating: 0, count: count) }
                                try buffer.withUnsafeMutableBufferPointer { values in
                                    try reader.read(tile, into: values.baseAddress!)
                                    Store.placeUpperTile(StoredTile(rows: tile.rows, columns: tile.columns, values: values.baseAddress!, layout: .upper),
                                                         side: side, group: rows, into: target.baseAddress!)
                                }
                            }
                            // Handed on in tile-sized panels: a writer may copy what it is given.
                            let step = rowsPerTile(width: side, scalarSize: size)
                            for panelStart in stride(from: rows.lowerBound, to: rows.upperBound, by: step) {
                                let panel = panelStart ..< min(rows.upperBound, panelStart + step)
                                let start = target.baseAddress! + (panelStart - rows.lowerBound) * side
                                try body(position, side, panel, UnsafeRawBufferPointer(start: start, count: panel.count * side * size))
                            }
                        }
                    }
                }
            }
            matrix.dtype == .float32 ? try stream(Float.self) : try stream(Double.self)
        }
    }

    /// Writes what an `upper` tile holds of rows `group` into `target` (those
    /// rows, whole): its entries (r, c) with c >= r at (r, c) when r is in the
    /// group, and at (c, r) when c is. Only the upper triangle is used, as in
    /// `readBlock`.
    static func placeUpperTile<Scalar>(_ tile: StoredTile<Scalar>, side: Int, group: Range<Int>,
                                       into target: UnsafeMutablePointer<Scalar>) {
        let width = tile.width, first = tile.columns.lowerBound
        // stored(row)[c] is entry (row, c).
        func stored(_ row: Int) -> UnsafePointer<Scalar> { tile.values + (row - tile.rows.lowerBound) * width - first }
        for row in tile.rows where group.contains(row) {
            (target + (row - group.lowerBound) * side + row).update(from: stored(row) + row, count: side - row)
        }
        // Entries (row, c) with c in the group and c > row land at (c, row):
        // a transpose, done in 64 x 64 squares so that reads and writes stay in cache.
        let square = 64
        for rowStart in stride(from: tile.rows.lowerBound, to: tile.rows.upperBound, by: square) {
            let rows = rowStart ..< min(tile.rows.upperBound, rowStart + square)
            let columnsStart = max(group.lowerBound, rows.lowerBound + 1)
            for columnStart in stride(from: columnsStart, to: group.upperBound, by: square) {
                for column in columnStart ..< min(group.upperBound, columnStart + square) {
                    let destination = target + (column - group.lowerBound) * side
                    for row in rows where row < column { destination[row] = stored(row)[column] }
                }
            }
        }
    }
}
