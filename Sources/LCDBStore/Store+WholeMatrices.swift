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
            for (position, entry) in matrix.collection.entries.enumerated() {
                try Interruption.check()
                try db.execute(sql: "INSERT INTO lcdb_matrix_block (matrix_id, position, form) VALUES (?, ?, 'rows')",
                               arguments: [matrixID, position])
                let range = matrix.collection.range(at: position)
                let rows = Array(matrix.matrix.values[range.lowerBound * numel ..< range.upperBound * numel])
                try insertPart(db, matrixID, position, FormPart("rows", shape: [entry.layer.numel, numel], values: rows), dtype: dtype, layout: .full)
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
    /// `s` for `s I`) and the shift c (when not 0). One transaction;
    /// `replace` replaces a matrix of that name.
    func saveLowRank(_ name: String, over collectionName: String, _ matrix: LowRankMatrix, dtype: DType,
                            replace: Bool = false) throws {
        try write { db in
            let collectionID = try prepareMatrix(db, name, over: collectionName, matrix.collection,
                                                 bytes: matrix.byteCount / 8 * Double(dtype.size), replace: replace)
            try db.execute(sql: "DELETE FROM lcdb_matrix WHERE name = ?", arguments: [name])
            try db.execute(sql: """
                INSERT INTO lcdb_matrix (name, collection_id, representation, dtype, symmetric, layout) VALUES (?, ?, 'lowrank', ?, 1, 'full')
                """, arguments: [name, collectionID, dtype.rawValue])
            let matrixID = db.lastInsertedRowID
            let n = matrix.rank
            for (position, entry) in matrix.collection.entries.enumerated() {
                try Interruption.check()
                try db.execute(sql: "INSERT INTO lcdb_matrix_block (matrix_id, position, form) VALUES (?, ?, 'lowrank')",
                               arguments: [matrixID, position])
                var parts = [FormPart("J", shape: [n, entry.layer.numel], values: matrix.factorColumns(position).values)]
                if position == 0 {
                    if let core = matrix.core {
                        parts.append(FormPart("core", shape: [n, n], values: core.values))
                    } else if matrix.coreScale != 1 {
                        parts.append(FormPart("core", shape: [], values: [matrix.coreScale]))
                    }
                    if matrix.shift != 0 { parts.append(FormPart("shift", shape: [], values: [matrix.shift])) }
                }
                for part in parts {
                    try insertPart(db, matrixID, position, part, dtype: dtype, layout: .full)
                }
            }
        }
    }

    /// A stored low-rank matrix in memory (float64; checked against memory first).
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
            try MemoryBudget.require(Double(n) * Double(numel) * 8 * 2, for: "low-rank matrix '\(name)' (\(n) x \(numel) factor) in memory")
            // Each tile (whole rows of a layer's columns) read into one reused
            // buffer and copied to its place in J: no per-layer array between.
            var factor = [Double](repeating: 0, count: n * numel)
            func fill<Scalar: BLASScalar>(_: Scalar.Type) throws {
                var buffer: [Scalar] = []
                try factor.withUnsafeMutableBufferPointer { j in
                    for (position, part) in factors.enumerated() {
                        let offset = matrix.collection.offsets[position], side = part.columns
                        for tile in part.reader.tiles {
                            try Interruption.check()
                            let count = tile.rows.count * side
                            if buffer.count < count { buffer = [Scalar](repeating: 0, count: count) }
                            try buffer.withUnsafeMutableBufferPointer { values in
                                try part.reader.read(tile, into: values.baseAddress!)
                                for row in tile.rows {
                                    let source = values.baseAddress! + (row - tile.rows.lowerBound) * side
                                    let target = j.baseAddress! + row * numel + offset
                                    for k in 0 ..< side { target[k] = Double(source[k]) }
                                }
                            }
                        }
                    }
                }
            }
            switch matrix.dtype {
            case .float64: try fill(Double.self)
            case .float32: try fill(Float.self)
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
                    core = Matrix64(rows: n, columns: n, values: try Store.readPart(part, dtype: matrix.dtype))
                }
            }
            var shift = 0.0
            if let part = first.first(where: { $0.name == "shift" }) {
                guard part.rows * part.columns == 1 else { throw StoreError(.corrupt, "matrix '\(name)': its shift is not one value") }
                shift = try Store.readPart(part, dtype: matrix.dtype)[0]
            }
            do {
                return try LowRankMatrix(collection: matrix.collection, factor: Matrix64(rows: n, columns: numel, values: factor),
                                         core: core, coreScale: coreScale, shift: shift)
            } catch {
                throw StoreError(.corrupt, "matrix '\(name)': \(error)")
            }
        }
    }
}
