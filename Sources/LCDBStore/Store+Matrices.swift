import GRDB
import LCDBCore

/// A row of the `matrices` view.
public struct MatrixSummary: Equatable, Sendable {
    public let name: String
    public let collection: String
    public let representation: String
    public let dtype: DType
    public let bytes: Int
    public let symmetric: Bool
}

/// What is known of a stored matrix without reading its tiles.
public struct StoredMatrix: Sendable {
    public let id: Int64
    public let name: String
    public let collectionName: String
    public let collection: LayerCollection
    public let dtype: DType
    public let symmetric: Bool
}

/// Produces rows `rows` of block `block` (side `side`) into `target`, row-major.
public typealias TileFiller<Scalar> = (_ block: Int, _ side: Int, _ rows: Range<Int>,
                                       _ target: UnsafeMutablePointer<Scalar>) throws -> Void

extension Store {
    public func matrixSummaries() throws -> [MatrixSummary] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT name, collection, representation, dtype, bytes, symmetric FROM matrices ORDER BY name").map {
                MatrixSummary(name: $0["name"], collection: $0["collection"], representation: $0["representation"],
                              dtype: DType(rawValue: $0["dtype"]) ?? .float64, bytes: $0["bytes"], symmetric: $0["symmetric"])
            }
        }
    }

    public func matrix(named name: String) throws -> StoredMatrix {
        try read { db in try Store.matrixRow(db, name: name) }
    }

    /// Rows per tile for a block of this side: about `tileBytes`, at least one row.
    func rowsPerTile(side: Int, scalarSize: Int) -> Int {
        max(1, tileBytes / max(1, side * scalarSize))
    }

    /// Writes a new block-diagonal matrix tile by tile: `fill` produces each
    /// row panel into a reused buffer, so memory stays at one tile whatever
    /// the matrix size. One transaction: on any error nothing is stored.
    /// `symmetric` is evaluated after the tiles are written, so a filler can
    /// decide it while it streams.
    public func createMatrix<Scalar: BLASScalar>(_ name: String, over collectionName: String, as _: Scalar.Type,
                                                 symmetric: @autoclosure () -> Bool, replace: Bool = false,
                                                 progress: ((Int, Int) -> Void)? = nil,
                                                 fill: TileFiller<Scalar>) throws {
        try write { db in
            let (collectionID, collection) = try Store.loadCollection(db, name: collectionName)
            if !replace { try Store.requireFreeName(db, table: "lcdb_matrix", what: "matrix", name) }
            for entry in collection.entries where entry.layer.numel > Int(Int32.max) {
                throw StoreError(.mismatch, "layer '\(entry.name)' has \(entry.layer.numel) parameters: its block is too large for BLAS")
            }
            let largest = collection.entries.max { $0.layer.numel < $1.layer.numel }
            let detail = largest.map { " (block '\($0.name)' alone is \($0.layer.numel) x \($0.layer.numel) \(Scalar.dtype))" } ?? ""
            try requireSpace(for: Store.matrixBytes(collection, scalarSize: MemoryLayout<Scalar>.size), "matrix '\(name)'\(detail)")
            // Written under a temporary name first: `fill` may read the matrix it replaces.
            try db.execute(sql: """
                INSERT INTO lcdb_matrix (name, collection_id, representation, dtype, symmetric) VALUES (?, ?, 'blockdiag', ?, ?)
                """, arguments: [Store.temporaryName(name), collectionID, Scalar.dtype.rawValue, false])
            let matrixID = db.lastInsertedRowID
            try writeTiles(db, matrixID: matrixID, collection: collection, progress: progress, fill: fill)
            if symmetric() { try db.execute(sql: "UPDATE lcdb_matrix SET symmetric = 1 WHERE id = ?", arguments: [matrixID]) }
            try db.execute(sql: "DELETE FROM lcdb_matrix WHERE name = ?", arguments: [name])
            try db.execute(sql: "UPDATE lcdb_matrix SET name = ? WHERE id = ?", arguments: [name, matrixID])
        }
    }

    /// Stores an in-memory matrix over the stored collection `collectionName`.
    public func saveMatrix<Scalar: BLASScalar>(_ name: String, over collectionName: String,
                                               _ matrix: BlockDiagonalMatrix<Scalar>, replace: Bool = false) throws {
        let stored = try collection(named: collectionName)
        if let difference = stored.firstDifference(from: matrix.collection) {
            throw StoreError(.mismatch, "the matrix is not over collection '\(collectionName)': \(difference)")
        }
        try createMatrix(name, over: collectionName, as: Scalar.self, symmetric: matrix.isSymmetric, replace: replace) {
            block, side, rows, target in
            matrix.blocks[block].withUnsafeBufferPointer { source in
                target.update(from: source.baseAddress! + rows.lowerBound * side, count: rows.count * side)
            }
        }
    }

    func writeTiles<Scalar: BLASScalar>(_ db: Database, matrixID: Int64, collection: LayerCollection,
                                        progress: ((Int, Int) -> Void)?, fill: TileFiller<Scalar>) throws {
        // The tile buffer is bound straight to the INSERT (no copy, and no
        // zeroblob written first and overwritten after).
        let insert = try TileInsert(db, sql: """
            INSERT INTO lcdb_matrix_tile (matrix_id, part, position, row_start, row_count, data)
            VALUES (?, 'block', ?, ?, ?, ?)
            """)
        let sides = collection.entries.map(\.layer.numel)
        let totalRows = sides.reduce(0, +)
        let largestTile = sides.map { rowsPerTile(side: $0, scalarSize: MemoryLayout<Scalar>.size) * $0 }.max() ?? 0
        var buffer = [Scalar](repeating: 0, count: largestTile)
        var rowsDone = 0
        for (position, side) in sides.enumerated() {
            let step = rowsPerTile(side: side, scalarSize: MemoryLayout<Scalar>.size)
            for rowStart in stride(from: 0, to: side, by: step) {
                try Interruption.check()
                let rows = rowStart ..< min(side, rowStart + step)
                let byteCount = rows.count * side * MemoryLayout<Scalar>.size
                try buffer.withUnsafeMutableBufferPointer { try fill(position, side, rows, $0.baseAddress!) }
                try buffer.withUnsafeBytes { bytes in
                    try insert.run([matrixID, Int64(position), Int64(rowStart), Int64(rows.count)],
                                   blob: bytes.baseAddress!, byteCount: byteCount)
                }
                rowsDone += rows.count
                progress?(rowsDone, totalRows)
            }
        }
    }

    /// Reads the tiles of one block in row order into a reused buffer and
    /// hands each to `body` (rows, values). Checks that the tiles cover the
    /// block exactly.
    func forEachTile<Scalar: BLASScalar>(_ db: Database, _ matrix: StoredMatrix, position: Int,
                                         buffer: inout [Scalar],
                                         _ body: (Range<Int>, UnsafePointer<Scalar>) throws -> Void) throws {
        let side = matrix.collection.entries[position].layer.numel
        let tiles = try Row.fetchAll(db, sql: """
            SELECT rowid, row_start, row_count FROM lcdb_matrix_tile
            WHERE matrix_id = ? AND part = 'block' AND position = ? ORDER BY row_start
            """, arguments: [matrix.id, position])
        var nextRow = 0
        var blob: BlobHandle?
        for tile in tiles {
            let rowStart: Int = tile["row_start"], rowCount: Int = tile["row_count"]
            let layer = matrix.collection.entries[position].name
            guard rowStart == nextRow, rowCount > 0, rowStart + rowCount <= side else {
                throw StoreError(.corrupt, "matrix '\(matrix.name)': the tiles of block '\(layer)' do not cover it row by row")
            }
            let count = rowCount * side
            if buffer.count < count { buffer = [Scalar](repeating: 0, count: count) }
            let rowID: Int64 = tile["rowid"]
            if let blob { try blob.move(to: rowID) } else {
                blob = try BlobHandle(db, table: "lcdb_matrix_tile", column: "data", rowID: rowID, writable: false)
            }
            let byteCount = count * MemoryLayout<Scalar>.size
            guard blob?.byteCount == byteCount else {
                throw StoreError(.corrupt, "matrix '\(matrix.name)': a tile of block '\(layer)' has the wrong size")
            }
            try buffer.withUnsafeMutableBytes { try blob?.read(into: $0.baseAddress!, count: byteCount) }
            try buffer.withUnsafeBufferPointer { try body(rowStart ..< rowStart + rowCount, $0.baseAddress!) }
            nextRow = rowStart + rowCount
        }
        guard nextRow == side else {
            throw StoreError(.corrupt, "matrix '\(matrix.name)': block '\(matrix.collection.entries[position].name)' is missing rows")
        }
    }

    /// One whole block, read from its tiles.
    func readBlock<Scalar: BLASScalar>(_ db: Database, _ matrix: StoredMatrix, position: Int) throws -> [Scalar] {
        let side = matrix.collection.entries[position].layer.numel
        var block = [Scalar](repeating: 0, count: side * side)
        var buffer: [Scalar] = []
        try forEachTile(db, matrix, position: position, buffer: &buffer) { rows, values in
            block.withUnsafeMutableBufferPointer { target in
                (target.baseAddress! + rows.lowerBound * side).update(from: values, count: rows.count * side)
            }
        }
        return block
    }

    /// Loads a whole stored matrix into memory (for small matrices).
    public func loadMatrix(named name: String) throws -> AnyBlockDiagonalMatrix {
        try read { db in
            let matrix = try Store.matrixRow(db, name: name)
            switch matrix.dtype {
            case .float32: return .float32(try loadBlocks(db, matrix))
            case .float64: return .float64(try loadBlocks(db, matrix))
            }
        }
    }

    private func loadBlocks<Scalar: BLASScalar>(_ db: Database, _ matrix: StoredMatrix) throws -> BlockDiagonalMatrix<Scalar> {
        let blocks: [[Scalar]] = try matrix.collection.entries.indices.map { try readBlock(db, matrix, position: $0) }
        return try BlockDiagonalMatrix(collection: matrix.collection, blocks: blocks)
    }

    public func dropMatrix(_ name: String) throws { try dropObject(.matrix, name) }

    public func renameMatrix(_ name: String, to newName: String) throws { try renameObject(.matrix, name, to: newName) }

    /// A name no user object has (it holds a control character), for an object being replaced.
    static func temporaryName(_ name: String) -> String { "\u{1}replacing \(name)" }

    static func matrixRow(_ db: Database, name: String) throws -> StoredMatrix {
        guard let row = try Row.fetchOne(db, sql: """
            SELECT m.id, c.name AS collection, m.representation, m.dtype, m.symmetric
            FROM lcdb_matrix m JOIN lcdb_collection c ON c.id = m.collection_id WHERE m.name = ?
            """, arguments: [name]) else {
            throw try unknown(.matrix, name, db)
        }
        let representation: String = row["representation"]
        guard representation == "blockdiag" else {
            throw StoreError(.mismatch, "matrix '\(name)' is stored as '\(representation)', which this lcdb cannot read yet")
        }
        guard let dtype = DType(rawValue: row["dtype"]) else {
            throw StoreError(.corrupt, "matrix '\(name)' has an unknown dtype")
        }
        let collectionName: String = row["collection"]
        return StoredMatrix(id: row["id"], name: name, collectionName: collectionName,
                            collection: try loadCollection(db, name: collectionName).collection,
                            dtype: dtype, symmetric: row["symmetric"])
    }
}

extension Store {
    /// One block of a stored matrix, converted to `Scalar` if stored otherwise.
    public func block<Scalar: BLASScalar>(of matrixName: String, at position: Int, as _: Scalar.Type) throws -> [Scalar] {
        try read { db in
            let matrix = try Store.matrixRow(db, name: matrixName)
            switch matrix.dtype {
            case .float32:
                let block: [Float] = try readBlock(db, matrix, position: position)
                return Scalar.self == Float.self ? block as! [Scalar] : block.map { Scalar($0) }
            case .float64:
                let block: [Double] = try readBlock(db, matrix, position: position)
                return Scalar.self == Double.self ? block as! [Scalar] : block.map { Scalar($0) }
            }
        }
    }
}

extension Store {
    /// Copies a matrix and its tiles under a new name, inside SQLite.
    public func copyMatrix(_ name: String, to newName: String) throws {
        try write { db in
            let matrix = try Store.matrixRow(db, name: name)
            try Store.requireFreeName(db, table: "lcdb_matrix", what: "matrix", newName)
            try db.execute(sql: """
                INSERT INTO lcdb_matrix (name, collection_id, representation, dtype, symmetric)
                SELECT ?, collection_id, representation, dtype, symmetric FROM lcdb_matrix WHERE id = ?
                """, arguments: [newName, matrix.id])
            try db.execute(sql: """
                INSERT INTO lcdb_matrix_tile (matrix_id, part, position, row_start, row_count, data)
                SELECT ?, part, position, row_start, row_count, data FROM lcdb_matrix_tile WHERE matrix_id = ?
                """, arguments: [db.lastInsertedRowID, matrix.id])
        }
    }
}

extension Store {
    /// Hands every tile of a stored matrix, block by block in row order, to
    /// `body` (position, side, rows, raw little-endian values) in one read
    /// transaction; memory holds one tile.
    public func streamTiles(of matrixName: String,
                            _ body: (_ position: Int, _ side: Int, _ rows: Range<Int>, _ bytes: UnsafeRawBufferPointer) throws -> Void) throws {
        try read { db in
            let matrix = try Store.matrixRow(db, name: matrixName)
            func stream<Scalar: BLASScalar>(_: Scalar.Type) throws {
                var buffer: [Scalar] = []
                for (position, entry) in matrix.collection.entries.enumerated() {
                    try Interruption.check()
                    let side = entry.layer.numel
                    try forEachTile(db, matrix, position: position, buffer: &buffer) { rows, values in
                        try body(position, side, rows, UnsafeRawBufferPointer(start: values, count: rows.count * side * MemoryLayout<Scalar>.size))
                    }
                }
            }
            matrix.dtype == .float32 ? try stream(Float.self) : try stream(Double.self)
        }
    }
}
