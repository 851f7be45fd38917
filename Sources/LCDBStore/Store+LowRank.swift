import GRDB
import LCDBCore

extension Store {
    /// The error for an operation on block forms asked of a low-rank matrix.
    static func lowRankRefused(_ name: String) -> StoreError {
        StoreError(.mismatch, "matrix '\(name)' is low-rank (c I + Jᵀ S J spans layers, it has no per-layer blocks); use mv, vtmv, trace, frobenius, diag, solve, inv, logdet or eigvals on it")
    }

    /// True when the stored matrix `name` is low-rank.
    public func isLowRank(_ name: String) throws -> Bool {
        try read { db in
            try String.fetchOne(db, sql: "SELECT representation FROM lcdb_matrix WHERE name = ?", arguments: [name]) == "lowrank"
        }
    }

    /// Stores `matrix` under `name` in `dtype`: per layer a block of form
    /// `lowrank` holding the layer's columns of J (`n x numel`), the first
    /// block also the core S (when not the identity: `n x n`, or one number
    /// `s` for `s I`) and the shift c (when not 0). One transaction;
    /// `replace` replaces a matrix of that name.
    public func saveLowRank(_ name: String, over collectionName: String, _ matrix: LowRankMatrix, dtype: DType,
                            replace: Bool = false) throws {
        try write { db in
            let collectionID = try prepareMatrix(db, name, over: collectionName, matrix.collection,
                                                 bytes: matrix.byteCount / 8 * Double(dtype.size), replace: replace)
            try db.execute(sql: "DELETE FROM lcdb_matrix WHERE name = ?", arguments: [name])
            try db.execute(sql: """
                INSERT INTO lcdb_matrix (name, collection_id, representation, dtype, symmetric, layout) VALUES (?, ?, 'lowrank', ?, 1, 'full')
                """, arguments: [name, collectionID, dtype.rawValue])
            let matrixID = db.lastInsertedRowID
            let n = matrix.rank, numel = matrix.numel
            for (position, entry) in matrix.collection.entries.enumerated() {
                try Interruption.check()
                try db.execute(sql: "INSERT INTO lcdb_matrix_block (matrix_id, position, form) VALUES (?, ?, 'lowrank')",
                               arguments: [matrixID, position])
                let offset = matrix.collection.offsets[position], side = entry.layer.numel
                var columns = [Double](repeating: 0, count: n * side)
                for row in 0 ..< n {
                    for k in 0 ..< side { columns[row * side + k] = matrix.factor.values[row * numel + offset + k] }
                }
                var parts = [FormPart("J", shape: [n, side], values: columns)]
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
    public func loadLowRank(named name: String) throws -> LowRankMatrix {
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
