import Foundation
import GRDB
import LCDBCore

/// One block of a stored matrix as the listing shows it.
public struct StoredBlock: Equatable, Sendable {
    public let layer: String
    public let form: FormKind
    /// The parts and their shapes, e.g. `A (769, 769), G (3072, 3072)`.
    public let parts: String
    public let bytes: Int
}

/// Where one part of a stored block lies: its shape and its checked tiles.
struct StoredPart {
    let name: String
    let shape: [Int]
    let rows: Int
    let columns: Int
    let layout: MatrixLayout
    let reader: TileReader
}

extension Store {
    /// Every block's form and parts, each part's tiles checked to cover it
    /// (sizes only; no values read). A block whose form, parts or tiles do not
    /// agree with its layer is an error naming it.
    static func blockLayouts(_ db: Database, _ matrix: StoredMatrix, checkColumnStarts: Bool = false) throws -> [(form: FormKind, parts: [StoredPart])] {
        let forms = try Row.fetchAll(db, sql: "SELECT position, form FROM lcdb_matrix_block WHERE matrix_id = ? ORDER BY position",
                                     arguments: [matrix.id])
        let partRows = try Row.fetchAll(db, sql: """
            SELECT position, part, shape, rows, columns, layout FROM lcdb_matrix_part WHERE matrix_id = ? ORDER BY position, part
            """, arguments: [matrix.id])
        var partsAt: [Int: [Row]] = [:]
        for row in partRows { partsAt[row["position"], default: []].append(row) }
        guard forms.map({ $0["position"] as Int }) == Array(matrix.collection.entries.indices) else {
            throw StoreError(.corrupt, "matrix '\(matrix.name)' does not have exactly one block per layer of collection '\(matrix.collectionName)'")
        }
        return try forms.enumerated().map { position, row in
            let layer = matrix.collection.entries[position]
            let formName: String = row["form"]
            guard let form = FormKind(rawValue: formName) else {
                throw StoreError(.corrupt, "matrix '\(matrix.name)': block '\(layer.name)' has an unknown form '\(formName)'")
            }
            let parts = partsAt[position] ?? []
            let names = Set(parts.map { $0["part"] as String })
            let expected: Set<String>
            if let type = BlockForms.type(of: form) {
                expected = Set(type.partNames)
            } else if form == .rows {
                expected = ["rows"]
            } else {
                // A low-rank factor's columns; the first block may also hold the core and shift.
                expected = position == 0 ? names.intersection(["core", "shift"]).union(["J"]) : ["J"]
            }
            let wholeForm: FormKind? = matrix.representation == "lowrank" ? .lowrank : matrix.representation == "full" ? .rows : nil
            guard form.isWholeMatrixShare ? form == wholeForm : wholeForm == nil else {
                throw StoreError(.corrupt, "matrix '\(matrix.name)' is \(matrix.representation) but block '\(layer.name)' is \(form.rawValue)")
            }
            guard names == expected, parts.count == expected.count else {
                throw StoreError(.corrupt, "matrix '\(matrix.name)': block '\(layer.name)' is \(form.rawValue) but its parts are \(parts.map { $0["part"] as String }.sorted())")
            }
            return try (form, parts.map { part in
                let name: String = part["part"], rows: Int = part["rows"], columns: Int = part["columns"]
                let shapeText: String = part["shape"]
                guard let shape = try? JSONDecoder().decode([Int].self, from: Data(shapeText.utf8)),
                      Store.exactProduct(shape.reduce(1) { $0 &* max($1, 0) }, 1, 1) == rows * columns || (shape.isEmpty && rows * columns == 1) else {
                    throw StoreError(.corrupt, "matrix '\(matrix.name)': part '\(name)' of block '\(layer.name)' has shape \(shapeText) but \(rows) x \(columns) tiles")
                }
                if name == "block", rows != layer.layer.numel || columns != layer.layer.numel {
                    throw StoreError(.corrupt, "matrix '\(matrix.name)': block '\(layer.name)' is \(rows) x \(columns); the layer has \(layer.layer.numel) parameters")
                }
                guard let layout = MatrixLayout(rawValue: part["layout"]), layout == .full || rows == columns,
                      name != "block" || layout == matrix.layout else {
                    throw StoreError(.corrupt, "matrix '\(matrix.name)': part '\(name)' of block '\(layer.name)' has a layout its shape or matrix does not allow")
                }
                let reader = try TileReader(db, matrix, position: position, part: name, rows: rows, columns: columns, layout: layout,
                                            checkColumnStarts: checkColumnStarts)
                return StoredPart(name: name, shape: shape, rows: rows, columns: columns, layout: layout, reader: reader)
            })
        }
    }

    /// The form and parts of each block (for `show`).
    public func blocks(of matrixName: String) throws -> [StoredBlock] {
        try read { db in
            let matrix = try Store.matrixRow(db, name: matrixName, anyForm: true)
            return try Store.blockLayouts(db, matrix).enumerated().map { position, block in
                let bytes = try Int.fetchOne(db, sql: """
                    SELECT coalesce(sum(length(data)), 0) FROM lcdb_matrix_tile WHERE matrix_id = ? AND position = ?
                    """, arguments: [matrix.id, position]) ?? 0
                let parts = block.parts.map { "\($0.name) (\($0.shape.map(String.init).joined(separator: ", "))\($0.shape.count == 1 ? "," : ""))" }
                return StoredBlock(layer: matrix.collection.names[position], form: block.form,
                                   parts: parts.joined(separator: ", "), bytes: bytes)
            }
        }
    }

    /// Runs `body` with stored matrices in forms loaded at most once each
    /// (one statement); any write through this store empties the cache.
    public func withFormsCache<T>(_ body: () throws -> T) rethrows -> T {
        formsCache = [:]
        defer { formsCache = nil }
        return try body()
    }

    /// Loads a stored matrix of any representation as forms, in float64
    /// (dense blocks read whole, checked against memory first).
    public func loadStructured(named name: String) throws -> StructuredMatrix {
        if let cached = formsCache?[name] { return cached }
        let loaded = try loadStructuredFromDatabase(name)
        if formsCache != nil { formsCache?[name] = loaded }
        return loaded
    }

    private func loadStructuredFromDatabase(_ name: String) throws -> StructuredMatrix {
        try read { db in
            let matrix = try Store.matrixRow(db, name: name, anyForm: true)
            let layouts = try Store.blockLayouts(db, matrix)
            let bytes = layouts.reduce(0.0) { total, block in total + block.parts.reduce(0.0) { $0 + Double($1.rows) * Double($1.columns) * 8 } }
            try MemoryBudget.require(bytes * 1.5, for: "matrix '\(name)' in memory")
            var blocks: [any BlockForm] = []
            for (position, block) in layouts.enumerated() {
                try Interruption.check()
                blocks.append(try Store.readForm(matrix, position: position, block))
            }
            return try StructuredMatrix(collection: matrix.collection, blocks: blocks)
        }
    }

    /// One block in its form, read from its parts (checked when they were stored).
    static func readForm(_ matrix: StoredMatrix, position: Int,
                         _ block: (form: FormKind, parts: [StoredPart])) throws -> any BlockForm {
        let entry = matrix.collection.entries[position]
        // The block's parts together (a Linear(4000, 4000)'s kfac factors are
        // 256 MB): checked before any is read, as the matrix's total is.
        let bytes = block.parts.reduce(0.0) { $0 + Double($1.rows) * Double($1.columns) * 8 }
        try MemoryBudget.require(bytes, for: "block '\(entry.name)' of matrix '\(matrix.name)' (\(block.form.rawValue))")
        var parts: [String: FormPart] = [:]
        for part in block.parts {
            parts[part.name] = FormPart(part.name, shape: part.shape, values: try readPart(part, dtype: matrix.dtype))
        }
        guard let type = BlockForms.type(of: block.form) else { throw Store.lowRankRefused(matrix.name) }
        do {
            return try type.init(parts: parts, layer: entry.layer, name: entry.name, validate: false)
        } catch {
            throw StoreError(.corrupt, "matrix '\(matrix.name)': \(error)")
        }
    }

    /// `body` on each block of a stored matrix in forms, read one at a time
    /// (trace, Frobenius norm and diagonal never hold the whole matrix).
    public func forEachForm<T>(of name: String, _ body: (Int, any BlockForm) throws -> T) throws -> [T] {
        try read { db in
            let matrix = try Store.matrixRow(db, name: name, anyForm: true)
            return try Store.blockLayouts(db, matrix).enumerated().map { position, block in
                try Interruption.check()
                return try body(position, try Store.readForm(matrix, position: position, block))
            }
        }
    }

    /// `body` on each block's spectrum, reading only the parts that hold it
    /// where the form says so (`BlockForm.spectrumParts`: a kept EKFAC's `D`,
    /// not its eigenbases), else the whole block; one block at a time.
    public func forEachSpectrum(of name: String, _ body: (Int, BlockSpectrum) throws -> Void) throws {
        try read { db in
            let matrix = try Store.matrixRow(db, name: name, anyForm: true)
            for (position, block) in try Store.blockLayouts(db, matrix).enumerated() {
                try Interruption.check()
                let entry = matrix.collection.entries[position]
                guard let type = BlockForms.type(of: block.form) else { throw Store.lowRankRefused(matrix.name) }
                let spectrum: BlockSpectrum
                if let wanted = type.spectrumParts {
                    var parts: [String: FormPart] = [:]
                    for part in block.parts where wanted.contains(part.name) {
                        parts[part.name] = FormPart(part.name, shape: part.shape, values: try Store.readPart(part, dtype: matrix.dtype))
                    }
                    spectrum = try type.spectrum(parts: parts, layer: entry.layer, name: entry.name)
                } else {
                    spectrum = try Store.readForm(matrix, position: position, block).spectrum(layer: entry.name)
                }
                try body(position, spectrum)
            }
        }
    }

    /// A part's values, converted to float64 (an `upper` part mirrored whole).
    static func readPart(_ part: StoredPart, dtype: DType) throws -> [Double] {
        try MemoryBudget.require(Double(part.rows) * Double(part.columns) * 8, for: "part '\(part.name)' (\(part.rows) x \(part.columns))")
        var values: [Double] = HugePages.array(count: part.rows * part.columns, zeroed: false)  // the tiles cover it (TileReader checks)
        try values.withUnsafeMutableBufferPointer { target in
            try readPart(part, dtype: dtype, into: target.baseAddress!)
            if part.layout == .upper { SquareMirror.copy(target.baseAddress!, side: part.rows, from: .upper) }
        }
        return values
    }

    /// A part's values into `target` (`rows x columns`, row-major), as
    /// float64; of an `upper` part, the upper triangle only (the rest is
    /// left as it was). float64 tiles go straight from SQLite into place.
    static func readPart(_ part: StoredPart, dtype: DType, into target: UnsafeMutablePointer<Double>) throws {
        switch dtype {
        case .float64:
            for tile in part.reader.tiles { try part.reader.read(tile, placedIn: target, stride: part.columns) }
        case .float32:
            var panel: [Float] = []
            for tile in part.reader.tiles {
                let width = tile.columns.count
                if panel.count < tile.rows.count * width { panel = [Float](repeating: 0, count: tile.rows.count * width) }
                try panel.withUnsafeMutableBufferPointer { buffer in
                    try part.reader.read(tile, into: buffer.baseAddress!)
                    for row in tile.rows {
                        let source = buffer.baseAddress! + (row - tile.rows.lowerBound) * width
                        let destination = target + row * part.columns + tile.columns.lowerBound
                        for k in 0 ..< width { destination[k] = Double(source[k]) }
                    }
                }
            }
        }
    }

    /// Rows `rows` of a part kept whole (`full` layout: a piece of a block
    /// with segments reads only its rows of D or of a diagonal factor) into
    /// `target`, as float64, row-major.
    static func readPart(_ part: StoredPart, rows: Range<Int>, dtype: DType, into target: UnsafeMutablePointer<Double>) throws {
        guard part.layout == .full, rows.lowerBound >= 0, rows.upperBound <= part.rows else {
            throw StoreError(.corrupt, "part '\(part.name)' cannot be read by rows \(rows): it is \(part.layout.rawValue), \(part.rows) rows")
        }
        var panel: [Float] = []
        for tile in part.reader.tiles where tile.rows.overlaps(rows) {
            let overlap = tile.rows.clamped(to: rows)
            let destination = target + (overlap.lowerBound - rows.lowerBound) * part.columns
            switch dtype {
            case .float64:
                try part.reader.read(tile, rows: overlap, columns: tile.columns, into: destination + tile.columns.lowerBound, stride: part.columns)
            case .float32:
                let width = tile.columns.count
                if panel.count < overlap.count * width { panel = [Float](repeating: 0, count: overlap.count * width) }
                try panel.withUnsafeMutableBufferPointer { buffer in
                    try part.reader.read(tile, rows: overlap, columns: tile.columns, into: buffer.baseAddress!)
                    for row in 0 ..< overlap.count {
                        let to = destination + row * part.columns + tile.columns.lowerBound
                        for k in 0 ..< width { to[k] = Double(buffer[row * width + k]) }
                    }
                }
            }
        }
    }

    /// Stores `matrix` (forms) under `name` in `dtype`: one block row per
    /// layer, one part row per tensor, each part in row-panel tiles (full
    /// layout). One transaction; `replace` replaces a matrix of that name.
    public func saveStructured(_ name: String, over collectionName: String, _ matrix: StructuredMatrix, dtype: DType,
                               replace: Bool = false) throws {
        try write { db in
            let collectionID = try prepareMatrix(db, name, over: collectionName, matrix.collection, bytes: Double(matrix.storedBytes(dtype)), replace: replace)
            let symmetric = matrix.blocks.allSatisfy { block in
                guard let dense = block as? DenseForm else { return true }
                return dense.isExactlySymmetric
            }
            let layout: MatrixLayout = symmetric ? .upper : .full
            try db.execute(sql: "DELETE FROM lcdb_matrix WHERE name = ?", arguments: [name])
            try db.execute(sql: """
                INSERT INTO lcdb_matrix (name, collection_id, representation, dtype, symmetric, layout) VALUES (?, ?, ?, ?, ?, ?)
                """, arguments: [name, collectionID, matrix.representation, dtype.rawValue, symmetric, layout.rawValue])
            let matrixID = db.lastInsertedRowID
            // Every block's and part's row first, then the tiles: a page of
            // these small tables written again after a flood of tiles pushed it
            // out to the WAL is a frame overwritten in place, and SQLite then
            // re-reads every later frame at commit to re-checksum it.
            var parts: [(position: Int, part: FormPart, layout: MatrixLayout)] = []
            for (position, block) in matrix.blocks.enumerated() {
                try db.execute(sql: "INSERT INTO lcdb_matrix_block (matrix_id, position, form) VALUES (?, ?, ?)",
                               arguments: [matrixID, position, block.kind.rawValue])
                for part in block.parts {
                    let partLayout = Store.layout(of: part, denseBlockSymmetric: symmetric)
                    try insertPartRow(db, matrixID, position, part, layout: partLayout)
                    parts.append((position, part, partLayout))
                }
            }
            for (position, part, partLayout) in parts {
                try Interruption.check()
                try insertPartTiles(db, matrixID, position, part, dtype: dtype, layout: partLayout)
            }
        }
    }

    /// Before a matrix over `collection` is written as `name`: the stored
    /// collection it must equal (its id returned), the name free (or, with
    /// `replace`, not another kind's), and `bytes` of space.
    func prepareMatrix(_ db: Database, _ name: String, over collectionName: String, _ collection: LayerCollection,
                       bytes: Double, replace: Bool) throws -> Int64 {
        let (collectionID, stored) = try Store.loadCollection(db, name: collectionName)
        if let difference = stored.firstDifference(from: collection) {
            throw StoreError(.mismatch, "the matrix is not over collection '\(collectionName)': \(difference)")
        }
        if replace {
            try Store.requireNoOtherKind(db, table: "lcdb_matrix", name)
        } else {
            try Store.requireFreeName(db, table: "lcdb_matrix", what: "matrix", name)
        }
        try requireSpace(for: bytes, "matrix '\(name)'")
        return collectionID
    }

    /// A part's row and its tiles in `dtype`.
    func insertPart(_ db: Database, _ matrixID: Int64, _ position: Int, _ part: FormPart, dtype: DType, layout: MatrixLayout) throws {
        try insertPartRow(db, matrixID, position, part, layout: layout)
        try insertPartTiles(db, matrixID, position, part, dtype: dtype, layout: layout)
    }

    /// How a part is stored: symmetric square parts keep one triangle (a
    /// dense block when `denseBlockSymmetric`, a dense kfac factor when it is
    /// exactly symmetric); everything else whole rows.
    static func layout(of part: FormPart, denseBlockSymmetric: Bool) -> MatrixLayout {
        if part.name == "block" { return denseBlockSymmetric ? .upper : .full }
        return ["A", "G"].contains(part.name) && part.shape.count == 2
            && Matrix64(rows: part.rows, columns: part.columns, values: part.values).asymmetry == 0 ? .upper : .full
    }

    /// A part's row (lcdb_matrix_part).
    func insertPartRow(_ db: Database, _ matrixID: Int64, _ position: Int, _ part: FormPart, layout: MatrixLayout) throws {
        try insertPartRow(db, matrixID, position, name: part.name, shape: part.shape, rows: part.rows, columns: part.columns, layout: layout)
    }

    func insertPartRow(_ db: Database, _ matrixID: Int64, _ position: Int, name: String, shape: [Int], rows: Int, columns: Int,
                       layout: MatrixLayout) throws {
        let shape = "[" + shape.map(String.init).joined(separator: ", ") + "]"
        try db.execute(sql: """
            INSERT INTO lcdb_matrix_part (matrix_id, position, part, shape, rows, columns, layout) VALUES (?, ?, ?, ?, ?, ?, ?)
            """, arguments: [matrixID, position, name, shape, rows, columns, layout.rawValue])
    }

    /// A part's tiles in `dtype`.
    func insertPartTiles(_ db: Database, _ matrixID: Int64, _ position: Int, _ part: FormPart, dtype: DType, layout: MatrixLayout) throws {
        switch dtype {
        case .float64: try writePart(db, matrixID, position, part, part.values, layout: layout)
        case .float32: try writePart(db, matrixID, position, part, part.values.map { Float($0) }, layout: layout)
        }
    }

    /// A part's tiles: whole rows, or for `upper` the columns from the diagonal on.
    private func writePart<Scalar: BLASScalar>(_ db: Database, _ matrixID: Int64, _ position: Int, _ part: FormPart,
                                               _ values: [Scalar], layout: MatrixLayout) throws {
        // Part names are the forms' constants (and the table's CHECK lists them).
        precondition(part.name.allSatisfy { $0.isLetter || $0 == "_" }, "part name \(part.name)")
        let insert = try TileInsert(db, sql: """
            INSERT INTO lcdb_matrix_tile (matrix_id, part, position, row_start, row_count, col_start, data)
            VALUES (?, '\(part.name)', ?, ?, ?, ?, ?)
            """)
        let size = MemoryLayout<Scalar>.size
        var panel: [Scalar] = []
        var rowStart = 0
        while rowStart < part.rows {
            try Interruption.check()
            let columns = layout == .upper ? rowStart ..< part.columns : 0 ..< part.columns
            let step = layout == .upper ? upperRowsPerTile(width: columns.count, scalarSize: size)
                : rowsPerTile(width: columns.count, scalarSize: size)
            let rows = rowStart ..< min(part.rows, rowStart + step)
            panel.removeAll(keepingCapacity: true)
            for row in rows { panel += values[row * part.columns + columns.lowerBound ..< row * part.columns + columns.upperBound] }
            try panel.withUnsafeBytes { bytes in
                try insert.run([matrixID, Int64(position), Int64(rowStart), Int64(rows.count), Int64(columns.lowerBound)],
                               blob: bytes.baseAddress!, byteCount: bytes.count)
            }
            rowStart = rows.upperBound
        }
    }
}
