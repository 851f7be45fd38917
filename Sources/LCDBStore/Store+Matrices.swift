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
    public let layout: MatrixLayout
}

/// What is known of a stored matrix without reading its tiles.
public struct StoredMatrix: Sendable {
    public let id: Int64
    public let name: String
    public let collectionName: String
    public let collection: LayerCollection
    public let dtype: DType
    public let symmetric: Bool
    public let layout: MatrixLayout
    /// `blockdiag` (every block dense), `diag`, `kfac`, `ekfac`, `identity` or `mixed`.
    public let representation: String

    /// True when every block is dense: the tile-streaming operations apply.
    public var isDense: Bool { representation == "blockdiag" }
}

/// Produces columns `columns` of rows `rows` of block `block` (side `side`)
/// into `target`, row-major: `rows.count` rows of `columns.count` values.
public typealias TileFiller<Scalar> = (_ block: Int, _ side: Int, _ rows: Range<Int>, _ columns: Range<Int>,
                                       _ target: UnsafeMutablePointer<Scalar>) throws -> Void

extension Store {
    public func matrixSummaries() throws -> [MatrixSummary] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT name, collection, representation, dtype, bytes, symmetric, layout FROM matrices ORDER BY name").map {
                MatrixSummary(name: $0["name"], collection: $0["collection"], representation: $0["representation"],
                              dtype: DType(rawValue: $0["dtype"]) ?? .float64, bytes: $0["bytes"], symmetric: $0["symmetric"],
                              layout: MatrixLayout(rawValue: $0["layout"]) ?? .full)
            }
        }
    }

    /// What is known of a stored matrix of any representation, without reading its tiles.
    public func matrix(named name: String) throws -> StoredMatrix {
        try read { db in try Store.matrixRow(db, name: name, anyForm: true) }
    }

    /// Rows per tile for rows of `width` values: about `tileBytes`, at least one row.
    func rowsPerTile(width: Int, scalarSize: Int) -> Int {
        max(1, tileBytes / max(1, width * scalarSize))
    }

    /// Rows per tile of an `upper` layout, whose rows are `width` values from
    /// the diagonal on: also at most width / 8, because each tile keeps its
    /// whole diagonal square, half of it redundant; so the redundant part is
    /// at most 1/16 of what is stored, even for blocks smaller than a tile.
    func upperRowsPerTile(width: Int, scalarSize: Int) -> Int {
        min(rowsPerTile(width: width, scalarSize: scalarSize), max(1, width / 8))
    }

    /// Writes a new block-diagonal matrix tile by tile: `fill` produces each
    /// row panel into a reused buffer, so memory stays at one tile whatever
    /// the matrix size. One transaction: on any error nothing is stored.
    /// Layout `upper` (symmetric matrices) asks `fill` only for the columns
    /// from the diagonal on, half the bytes. `symmetric` is evaluated after
    /// the tiles are written, so a filler can decide it while it streams.
    public func createMatrix<Scalar: BLASScalar>(_ name: String, over collectionName: String, as _: Scalar.Type,
                                                 layout: MatrixLayout = .full,
                                                 symmetric: @autoclosure () -> Bool, replace: Bool = false,
                                                 progress: ((Int, Int) -> Void)? = nil,
                                                 fill: TileFiller<Scalar>) throws {
        try write { db in
            let (collectionID, collection) = try Store.loadCollection(db, name: collectionName)
            if replace {
                try Store.requireNoOtherKind(db, table: "lcdb_matrix", name)
            } else {
                try Store.requireFreeName(db, table: "lcdb_matrix", what: "matrix", name)
            }
            for entry in collection.entries where entry.layer.numel > Int(Int32.max) {
                throw StoreError(.mismatch, "layer '\(entry.name)' has \(entry.layer.numel) parameters: its block is too large for BLAS")
            }
            let largest = collection.entries.max { $0.layer.numel < $1.layer.numel }
            let detail = largest.map { " (block '\($0.name)' alone is \($0.layer.numel) x \($0.layer.numel) \(Scalar.dtype))" } ?? ""
            try requireSpace(for: Store.matrixBytes(collection, scalarSize: MemoryLayout<Scalar>.size, layout: layout),
                             "matrix '\(name)'\(detail)")
            // The matrix row is written after its tiles (the foreign key is
            // checked at commit): a page written early in a WAL transaction and
            // changed again at its end makes SQLite re-read every frame after
            // it to recompute checksums. `fill` may read the matrix it replaces,
            // which stays until the end.
            let matrixID = try Int64.fetchOne(db, sql: "SELECT coalesce(max(id), 0) + 1 FROM lcdb_matrix") ?? 1
            try db.execute(sql: "PRAGMA defer_foreign_keys = ON")
            try writeTiles(db, matrixID: matrixID, collection: collection, layout: layout, progress: progress, fill: fill)
            let isSymmetric = symmetric()
            guard layout == .full || isSymmetric else {
                throw StoreError(.mismatch, "matrix '\(name)' is not symmetric, so it cannot be stored as one triangle")
            }
            try db.execute(sql: "DELETE FROM lcdb_matrix WHERE name = ?", arguments: [name])
            try db.execute(sql: """
                INSERT INTO lcdb_matrix (id, name, collection_id, representation, dtype, symmetric, layout)
                VALUES (?, ?, ?, 'blockdiag', ?, ?, ?)
                """, arguments: [matrixID, name, collectionID, Scalar.dtype.rawValue, isSymmetric, layout.rawValue])
            try Store.insertDenseBlockRows(db, matrixID: matrixID, collectionID: collectionID, layout: layout)
            // Every tile has its matrix now; later statements of a batch transaction check at once again.
            try db.execute(sql: "PRAGMA defer_foreign_keys = OFF")
        }
    }

    /// Stores an in-memory matrix over the stored collection `collectionName`.
    /// The layout is the upper triangle for a symmetric matrix and whole rows
    /// otherwise, unless `layout` says (`full` for any matrix, `upper` for a symmetric one).
    public func saveMatrix<Scalar: BLASScalar>(_ name: String, over collectionName: String,
                                               _ matrix: BlockDiagonalMatrix<Scalar>, layout: MatrixLayout? = nil,
                                               replace: Bool = false) throws {
        let stored = try collection(named: collectionName)
        if let difference = stored.firstDifference(from: matrix.collection) {
            throw StoreError(.mismatch, "the matrix is not over collection '\(collectionName)': \(difference)")
        }
        try createMatrix(name, over: collectionName, as: Scalar.self, layout: layout ?? (matrix.isSymmetric ? .upper : .full),
                         symmetric: matrix.isSymmetric, replace: replace) { block, side, rows, columns, target in
            matrix.blocks[block].withUnsafeBufferPointer { source in
                Store.copyPanel(from: source.baseAddress!, side: side, rows: rows, columns: columns, to: target)
            }
        }
    }

    /// Copies columns `columns` of rows `rows` of a row-major `side x side` block to a packed panel.
    public static func copyPanel<Scalar>(from block: UnsafePointer<Scalar>, side: Int, rows: Range<Int>,
                                         columns: Range<Int>, to target: UnsafeMutablePointer<Scalar>) {
        if columns.count == side {
            target.update(from: block + rows.lowerBound * side, count: rows.count * side)
            return
        }
        for (index, row) in rows.enumerated() {
            (target + index * columns.count).update(from: block + row * side + columns.lowerBound, count: columns.count)
        }
    }

    /// Every block dense, with its one `block` part (lcdb_matrix_block, lcdb_matrix_part).
    static func insertDenseBlockRows(_ db: Database, matrixID: Int64, collectionID: Int64, layout: MatrixLayout) throws {
        try db.execute(sql: """
            INSERT INTO lcdb_matrix_block (matrix_id, position, form)
            SELECT ?, position, 'dense' FROM lcdb_layer WHERE collection_id = ?
            """, arguments: [matrixID, collectionID])
        try db.execute(sql: """
            INSERT INTO lcdb_matrix_part (matrix_id, position, part, shape, rows, columns, layout)
            SELECT ?, position, 'block', '[' || numel || ', ' || numel || ']', numel, numel, ? FROM lcdb_layer WHERE collection_id = ?
            """, arguments: [matrixID, layout.rawValue, collectionID])
    }

    func writeTiles<Scalar: BLASScalar>(_ db: Database, matrixID: Int64, collection: LayerCollection, layout: MatrixLayout,
                                        progress: ((Int, Int) -> Void)?, fill: TileFiller<Scalar>) throws {
        // The tile buffer is bound straight to the INSERT (no copy, and no
        // zeroblob written first and overwritten after).
        let insert = try TileInsert(db, sql: """
            INSERT INTO lcdb_matrix_tile (matrix_id, part, position, row_start, row_count, col_start, data)
            VALUES (?, 'block', ?, ?, ?, ?, ?)
            """)
        let sides = collection.entries.map(\.layer.numel)
        let totalRows = sides.reduce(0, +)
        let scalarSize = MemoryLayout<Scalar>.size
        var buffer: [Scalar] = []
        var rowsDone = 0
        for (position, side) in sides.enumerated() {
            var rowStart = 0
            while rowStart < side {
                try Interruption.check()
                let columns = layout == .upper ? rowStart ..< side : 0 ..< side
                let step = layout == .upper ? upperRowsPerTile(width: columns.count, scalarSize: scalarSize)
                    : rowsPerTile(width: columns.count, scalarSize: scalarSize)
                let rows = rowStart ..< min(side, rowStart + step)
                let count = rows.count * columns.count
                if buffer.count < count { buffer = [Scalar](repeating: 0, count: count) }
                try buffer.withUnsafeMutableBufferPointer { try fill(position, side, rows, columns, $0.baseAddress!) }
                try buffer.withUnsafeBytes { bytes in
                    try insert.run([matrixID, Int64(position), Int64(rowStart), Int64(rows.count), Int64(columns.lowerBound)],
                                   blob: bytes.baseAddress!, byteCount: count * scalarSize)
                }
                rowsDone += rows.count
                progress?(rowsDone, totalRows)
                rowStart = rows.upperBound
            }
        }
    }

    /// Reads the tiles of one block in row order into a reused buffer and
    /// hands each to `body`. Checks that the tiles cover the block exactly, in
    /// the matrix's layout.
    func forEachTile<Scalar: BLASScalar>(_ db: Database, _ matrix: StoredMatrix, position: Int,
                                         buffer: inout [Scalar], _ body: (StoredTile<Scalar>) throws -> Void) throws {
        let reader = try TileReader(db, matrix, position: position)
        for tile in reader.tiles {
            let count = tile.rows.count * tile.columns.count
            if buffer.count < count { buffer = [Scalar](repeating: 0, count: count) }
            try buffer.withUnsafeMutableBufferPointer { target in
                try reader.read(tile, into: target.baseAddress!)
                try body(StoredTile(rows: tile.rows, columns: tile.columns, values: target.baseAddress!, layout: matrix.layout))
            }
        }
    }

    /// One whole block, read from its tiles (the lower triangle of an `upper`
    /// layout mirrored from the upper one).
    func readBlock<Scalar: BLASScalar>(_ db: Database, _ matrix: StoredMatrix, position: Int) throws -> [Scalar] {
        let entry = matrix.collection.entries[position]
        let side = entry.layer.numel
        try requireMemory(for: Double(side) * Double(side) * Double(MemoryLayout<Scalar>.size),
                          "block '\(entry.name)' of matrix '\(matrix.name)' (\(side) x \(side)), read whole for this operation,",
                          advice: "; mv, vtmv, trace, diagonal, norms and export read it tile by tile instead")
        var block: [Scalar] = HugePages.array(count: side * side)
        var buffer: [Scalar] = []
        try block.withUnsafeMutableBufferPointer { target in
            let base = target.baseAddress!
            try forEachTile(db, matrix, position: position, buffer: &buffer) { tile in
                for row in tile.rows {
                    (base + row * side + tile.columns.lowerBound)
                        .update(from: tile.values + (row - tile.rows.lowerBound) * tile.width, count: tile.width)
                }
            }
            if matrix.layout == .upper { SquareMirror.copy(base, side: side, from: .upper) }
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

    /// The matrix row; unless `anyForm`, one whose blocks are not all dense
    /// is refused (the caller streams dense tiles).
    static func matrixRow(_ db: Database, name: String, anyForm: Bool = false) throws -> StoredMatrix {
        guard let row = try Row.fetchOne(db, sql: """
            SELECT m.id, c.name AS collection, m.representation, m.dtype, m.symmetric, m.layout
            FROM lcdb_matrix m JOIN lcdb_collection c ON c.id = m.collection_id WHERE m.name = ?
            """, arguments: [name]) else {
            throw try unknown(.matrix, name, db)
        }
        let representation: String = row["representation"]
        guard anyForm || representation == "blockdiag" else {
            throw StoreError(.mismatch, "matrix '\(name)' is \(representation), not dense blocks; this operation reads dense blocks (convert with to_dense(\(name)))")
        }
        guard let dtype = DType(rawValue: row["dtype"]) else {
            throw StoreError(.corrupt, "matrix '\(name)' has an unknown dtype")
        }
        guard let layout = MatrixLayout(rawValue: row["layout"]) else {
            throw StoreError(.corrupt, "matrix '\(name)' has an unknown tile layout")
        }
        let collectionName: String = row["collection"]
        return StoredMatrix(id: row["id"], name: name, collectionName: collectionName,
                            collection: try loadCollection(db, name: collectionName).collection,
                            dtype: dtype, symmetric: row["symmetric"], layout: layout, representation: representation)
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
                // Same type: a bit cast (`as!` on a generic array casts element by element).
                return Scalar.self == Float.self ? unsafeBitCast(block, to: [Scalar].self) : block.map { Scalar($0) }
            case .float64:
                let block: [Double] = try readBlock(db, matrix, position: position)
                return Scalar.self == Double.self ? unsafeBitCast(block, to: [Scalar].self) : block.map { Scalar($0) }
            }
        }
    }
}

extension Store {
    /// Copies a matrix and its tiles under a new name, inside SQLite.
    public func copyMatrix(_ name: String, to newName: String) throws {
        try write { db in
            let matrix = try Store.matrixRow(db, name: name, anyForm: true)
            // A damaged matrix is not copied: its tiles are checked first (sizes only).
            _ = try Store.blockLayouts(db, matrix)
            try Store.requireFreeName(db, table: "lcdb_matrix", what: "matrix", newName)
            try db.execute(sql: """
                INSERT INTO lcdb_matrix (name, collection_id, representation, dtype, symmetric, layout)
                SELECT ?, collection_id, representation, dtype, symmetric, layout FROM lcdb_matrix WHERE id = ?
                """, arguments: [newName, matrix.id])
            let newID = db.lastInsertedRowID
            try db.execute(sql: """
                INSERT INTO lcdb_matrix_block (matrix_id, position, form)
                SELECT ?, position, form FROM lcdb_matrix_block WHERE matrix_id = ?
                """, arguments: [newID, matrix.id])
            try db.execute(sql: """
                INSERT INTO lcdb_matrix_part (matrix_id, position, part, shape, rows, columns, layout)
                SELECT ?, position, part, shape, rows, columns, layout FROM lcdb_matrix_part WHERE matrix_id = ?
                """, arguments: [newID, matrix.id])
            try db.execute(sql: """
                INSERT INTO lcdb_matrix_tile (matrix_id, part, position, row_start, row_count, col_start, data)
                SELECT ?, part, position, row_start, row_count, col_start, data FROM lcdb_matrix_tile WHERE matrix_id = ?
                """, arguments: [newID, matrix.id])
        }
    }
}
