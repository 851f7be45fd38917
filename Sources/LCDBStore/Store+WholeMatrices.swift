import GRDB
import LCDBCore

extension Store {
    /// The error for an operation on block forms asked of a matrix that spans layers.
    static func lowRankRefused(_ name: String) -> StoreError {
        StoreError(.mismatch, "matrix '\(name)' spans layers (low-rank or full: it has no per-layer blocks); use mv, vtmv, trace, frobenius, diag, solve, inv, logdet, eigvals or compare on it")
    }

    /// True when the stored matrix `name` spans layers (low-rank or full).
    public func isWholeMatrix(_ name: String) throws -> Bool {
        try read { db in
            ["lowrank", "full"].contains(try String.fetchOne(db, sql: "SELECT representation FROM lcdb_matrix WHERE name = ?", arguments: [name]))
        }
    }

    /// Stores a matrix that spans layers under `name` in `dtype`.
    public func saveWhole(_ name: String, over collectionName: String, _ matrix: any WholeMatrix, dtype: DType, replace: Bool = false) throws {
        if let lowRank = matrix as? LowRankMatrix {
            try saveLowRank(name, over: collectionName, lowRank, dtype: dtype, replace: replace)
        } else if let full = matrix as? FullMatrix {
            try saveFull(name, over: collectionName, full, dtype: dtype, replace: replace)
        } else {
            throw StoreError(.mismatch, "a \(matrix.kindName) matrix has no stored form")
        }
    }

    /// A stored matrix that spans layers, in memory.
    public func loadWhole(named name: String) throws -> any WholeMatrix {
        let representation = try read { db in
            try String.fetchOne(db, sql: "SELECT representation FROM lcdb_matrix WHERE name = ?", arguments: [name])
        }
        return representation == "full" ? try loadFull(named: name) : try loadLowRank(named: name)
    }

    /// Stores a full matrix: per layer a block of form `rows` holding the
    /// layer's rows of the whole matrix (`side x numel`).
    func saveFull(_ name: String, over collectionName: String, _ matrix: FullMatrix, dtype: DType, replace: Bool) throws {
        try write { db in
            let collectionID = try prepareMatrix(db, name, over: collectionName, matrix.collection,
                                                 bytes: matrix.byteCount / 8 * Double(dtype.size), replace: replace)
            try db.execute(sql: "DELETE FROM lcdb_matrix WHERE name = ?", arguments: [name])
            try db.execute(sql: """
                INSERT INTO lcdb_matrix (name, collection_id, representation, dtype, symmetric, layout) VALUES (?, ?, 'full', ?, ?, 'full')
                """, arguments: [name, collectionID, dtype.rawValue, matrix.matrix.asymmetry == 0])
            let matrixID = db.lastInsertedRowID
            let numel = matrix.numel
            // The small tables' rows first, then the tiles (see saveForms).
            for (position, entry) in matrix.collection.entries.enumerated() {
                try db.execute(sql: "INSERT INTO lcdb_matrix_block (matrix_id, position, form) VALUES (?, ?, 'rows')",
                               arguments: [matrixID, position])
                try insertPartRow(db, matrixID, position, FormPart("rows", shape: [entry.layer.numel, numel], values: []), layout: .full)
            }
            for (position, entry) in matrix.collection.entries.enumerated() {
                try Interruption.check()
                let range = matrix.collection.range(at: position)
                let rows = Array(matrix.matrix.values[range.lowerBound * numel ..< range.upperBound * numel])
                try insertPartTiles(db, matrixID, position, FormPart("rows", shape: [entry.layer.numel, numel], values: rows), dtype: dtype, layout: .full)
            }
        }
    }

    /// A stored full matrix in memory (float64; checked against memory first).
    func loadFull(named name: String) throws -> FullMatrix {
        try read { db in
            let matrix = try Store.matrixRow(db, name: name, anyForm: true)
            try FullMatrix.requireMemory(over: matrix.collection, for: "full matrix '\(name)' in memory")
            let numel = matrix.collection.numel
            var values: [Double] = []
            values.reserveCapacity(numel * numel)
            for (position, block) in try Store.blockLayouts(db, matrix).enumerated() {
                try Interruption.check()
                guard let part = block.parts.first, part.rows == matrix.collection.entries[position].layer.numel, part.columns == numel else {
                    throw StoreError(.corrupt, "matrix '\(name)': the rows of block '\(matrix.collection.names[position])' do not match its layer")
                }
                values += try Store.readPart(part, dtype: matrix.dtype)
            }
            do {
                return try FullMatrix(collection: matrix.collection, matrix: Matrix64(rows: numel, columns: numel, values: values))
            } catch {
                throw StoreError(.corrupt, "matrix '\(name)': \(error)")
            }
        }
    }

    /// Stores `matrix` under `name` in `dtype`: per layer a block of form
    /// `lowrank` holding the layer's columns of J (`n x numel`), the first
    /// block also the core S (when not the identity: `n x n`, or one number
    /// `s` for `s I`) and the shift c (when not 0). J is copied a tile of
    /// rows at a time from wherever it is (memory, a spill file, this
    /// database), so memory stays at one tile. The new rows are written
    /// before the matrix they replace is deleted (J may be read from it). One
    /// transaction; `replace` replaces a matrix of that name.
    func saveLowRank(_ name: String, over collectionName: String, _ matrix: LowRankMatrix, dtype: DType,
                            replace: Bool = false) throws {
        try write { db in
            let n = matrix.rank
            let bytes = (Double(n) * Double(matrix.numel) + Double(matrix.core?.values.count ?? 1) + 1) * Double(dtype.size)
            let collectionID = try prepareMatrix(db, name, over: collectionName, matrix.collection, bytes: bytes, replace: replace)
            let matrixID = try Int64.fetchOne(db, sql: "SELECT coalesce(max(id), 0) + 1 FROM lcdb_matrix") ?? 1
            try db.execute(sql: "PRAGMA defer_foreign_keys = ON")
            // Copying a J spilled to a file or read from another file takes a
            // while: progress in layers on a terminal.
            let report = progressFactory?("storing \(name)")
            // The small tables' rows (and the small core and shift parts)
            // first, then J's tiles (see saveForms).
            var parts: [FormPart] = []
            if let core = matrix.core {
                parts.append(FormPart("core", shape: [n, n], values: core.values))
            } else if matrix.coreScale != 1 {
                parts.append(FormPart("core", shape: [], values: [matrix.coreScale]))
            }
            if matrix.shift != 0 { parts.append(FormPart("shift", shape: [], values: [matrix.shift])) }
            for (position, entry) in matrix.collection.entries.enumerated() {
                try db.execute(sql: "INSERT INTO lcdb_matrix_block (matrix_id, position, form) VALUES (?, ?, 'lowrank')",
                               arguments: [matrixID, position])
                let side = entry.layer.numel
                try db.execute(sql: """
                    INSERT INTO lcdb_matrix_part (matrix_id, position, part, shape, rows, columns, layout) VALUES (?, ?, 'J', ?, ?, ?, 'full')
                    """, arguments: [matrixID, position, "[\(n), \(side)]", n, side])
                if position == 0 {
                    for part in parts { try insertPart(db, matrixID, position, part, dtype: dtype, layout: .full) }
                }
            }
            for position in matrix.collection.entries.indices {
                defer { report?(position + 1, matrix.collection.count) }
                try Interruption.check()
                switch dtype {
                case .float64: try writeFactorTiles(db, matrixID, position, matrix, as: Double.self)
                case .float32: try writeFactorTiles(db, matrixID, position, matrix, as: Float.self)
                }
            }
            try db.execute(sql: "DELETE FROM lcdb_matrix WHERE name = ?", arguments: [name])
            try db.execute(sql: """
                INSERT INTO lcdb_matrix (id, name, collection_id, representation, dtype, symmetric, layout) VALUES (?, ?, ?, 'lowrank', ?, 1, 'full')
                """, arguments: [matrixID, name, collectionID, dtype.rawValue])
            try db.execute(sql: "PRAGMA defer_foreign_keys = OFF")
        }
    }

    /// Layer `position`'s columns of J as tiles of whole rows in `Scalar`.
    private func writeFactorTiles<Scalar: BLASScalar>(_ db: Database, _ matrixID: Int64, _ position: Int, _ matrix: LowRankMatrix,
                                                      as _: Scalar.Type) throws {
        let insert = try TileInsert(db, sql: """
            INSERT INTO lcdb_matrix_tile (matrix_id, part, position, row_start, row_count, col_start, data) VALUES (?, 'J', ?, ?, ?, 0, ?)
            """)
        let columns = matrix.collection.range(at: position), n = matrix.rank
        let step = rowsPerTile(width: columns.count, scalarSize: MemoryLayout<Scalar>.size)
        var doubles = [Double](repeating: 0, count: min(n, step) * columns.count)
        var scalars = [Scalar](repeating: 0, count: Scalar.self == Double.self ? 0 : doubles.count)
        for first in stride(from: 0, to: n, by: step) {
            try Interruption.check()
            let rows = first ..< min(n, first + step), count = rows.count * columns.count
            try doubles.withUnsafeMutableBufferPointer { try matrix.factor.read(rows: rows, columns: columns, into: $0.baseAddress!) }
            let arguments = [matrixID, Int64(position), Int64(first), Int64(rows.count)]
            if Scalar.self == Double.self {
                try doubles.withUnsafeBytes { try insert.run(arguments, blob: $0.baseAddress!, byteCount: count * 8) }
            } else {
                for index in 0 ..< count { scalars[index] = Scalar(doubles[index]) }
                try scalars.withUnsafeBytes { try insert.run(arguments, blob: $0.baseAddress!, byteCount: count * MemoryLayout<Scalar>.size) }
            }
        }
    }

    /// A stored low-rank matrix: J in memory when it is at most
    /// `LowRankPanels.inMemoryLimit`, else streamed from the database by
    /// panels (`StoredFactor`); the core in memory.
    func loadLowRank(named name: String) throws -> LowRankMatrix {
        try read { db in
            let matrix = try Store.matrixRow(db, name: name, anyForm: true)
            guard matrix.representation == "lowrank" else {
                throw StoreError(.mismatch, "matrix '\(name)' is \(matrix.representation), not low-rank")
            }
            let layouts = try Store.blockLayouts(db, matrix)
            let factors = layouts.compactMap { $0.parts.first { $0.name == "J" } }
            let n = factors.first?.rows ?? 0, numel = matrix.collection.numel
            for (position, part) in factors.enumerated() where part.rows != n || part.columns != matrix.collection.entries[position].layer.numel {
                throw StoreError(.corrupt, "matrix '\(name)': the factor of block '\(matrix.collection.names[position])' is \(part.rows) x \(part.columns), expected \(n) x \(matrix.collection.entries[position].layer.numel)")
            }
            let first = layouts.first?.parts ?? []
            var core: Matrix64?
            var coreScale = 1.0
            if let part = first.first(where: { $0.name == "core" }) {
                if part.shape.isEmpty {
                    coreScale = try Store.readPart(part, dtype: matrix.dtype)[0]
                } else {
                    guard part.rows == n, part.columns == n else {
                        throw StoreError(.corrupt, "matrix '\(name)': its core is \(part.rows) x \(part.columns), expected \(n) x \(n)")
                    }
                    try MemoryBudget.require(Double(n) * Double(n) * 8 * 2, for: "the \(n) x \(n) core of low-rank matrix '\(name)'")
                    core = Matrix64(rows: n, columns: n, values: try Store.readPart(part, dtype: matrix.dtype))
                }
            }
            var shift = 0.0
            if let part = first.first(where: { $0.name == "shift" }) {
                guard part.rows * part.columns == 1 else { throw StoreError(.corrupt, "matrix '\(name)': its shift is not one value") }
                shift = try Store.readPart(part, dtype: matrix.dtype)[0]
            }
            let bounds = matrix.collection.offsets + [numel]
            let factor: any LowRankFactor
            if Double(n) * Double(numel) * 8 <= LowRankPanels.inMemoryLimit {
                var values = [Double](repeating: 0, count: n * numel)
                let streamed = StoredFactor(store: self, matrix: matrix, rows: n, readers: factors.map(\.reader))
                try values.withUnsafeMutableBufferPointer { j in
                    var layer = [Double]()
                    for position in matrix.collection.entries.indices {
                        try Interruption.check()
                        let columns = bounds[position] ..< bounds[position + 1]
                        layer = [Double](repeating: 0, count: n * columns.count)
                        try layer.withUnsafeMutableBufferPointer { try streamed.read(rows: 0 ..< n, columns: columns, into: $0.baseAddress!) }
                        for row in 0 ..< n {
                            for k in 0 ..< columns.count { j[row * numel + columns.lowerBound + k] = layer[row * columns.count + k] }
                        }
                    }
                }
                factor = InMemoryFactor(rows: n, layerBounds: bounds, values: values)
            } else {
                factor = StoredFactor(store: self, matrix: matrix, rows: n, readers: factors.map(\.reader))
            }
            do {
                return try LowRankMatrix(collection: matrix.collection, factor: factor, core: core, coreScale: coreScale, shift: shift)
            } catch {
                throw StoreError(.corrupt, "matrix '\(name)': \(error)")
            }
        }
    }
}
