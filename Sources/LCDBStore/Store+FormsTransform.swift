import GRDB
import LCDBCore

extension Store {
    /// Stores as `name` the matrix whose blocks are `transform` of the blocks
    /// of stored matrix `source` (in forms), a block at a time (`mapForms`):
    /// `let Ki = inv(K, regul)` on GPT-2's KFAC never holds K or Ki whole
    /// (8.6 GB peak before, for the float32 matrix). Each result's tiles are
    /// written as it comes back, after a check of the disk for its bytes; the
    /// matrix, block and part rows follow the tiles (foreign keys checked at
    /// commit), as `createMatrix` does, so no small page is written early and
    /// again at the end. Layouts as `saveStructured`'s: symmetric dense
    /// blocks and factors keep one triangle. One transaction: on any error,
    /// or an interrupt, nothing is stored.
    public func saveTransformedForms(_ name: String, from source: String, dtype: DType, replace: Bool = false,
                                     _ transform: @escaping @Sendable (any BlockForm, _ layer: String) throws -> any BlockForm) throws {
        try write { db in
            let matrix = try Store.matrixRow(db, name: source, anyForm: true)
            let (collectionID, _) = try Store.loadCollection(db, name: matrix.collectionName)
            if replace {
                try Store.requireNoOtherKind(db, table: "lcdb_matrix", name)
            } else {
                try Store.requireFreeName(db, table: "lcdb_matrix", what: "matrix", name)
            }
            let collection = matrix.collection
            let layouts = try Store.blockLayouts(db, matrix)
            let inFlight = BlockScheduler.cores + 1
            try MemoryBudget.require(Store.decompositionMemory(layouts, collection, inFlight: inFlight),
                                     for: "matrix '\(name)' (\(inFlight) blocks of '\(source)' at a time)")
            let matrixID = try Int64.fetchOne(db, sql: "SELECT coalesce(max(id), 0) + 1 FROM lcdb_matrix") ?? 1
            try db.execute(sql: "PRAGMA defer_foreign_keys = ON")
            var kinds = [FormKind](repeating: .dense, count: collection.count)
            var parts: [(position: Int, name: String, shape: [Int], rows: Int, columns: Int, layout: MatrixLayout)] = []
            var symmetric = true
            let names = collection.names
            try Store.mapForms(matrix, layouts, inFlight: inFlight) { position, block in
                try transform(block, names[position])
            } finish: { position, block in
                try requireSpace(for: Double(block.storedBytes(dtype)), "block '\(names[position])' of matrix '\(name)'")
                let dense = block as? DenseForm
                if dense?.isExactlySymmetric == false { symmetric = false }
                kinds[position] = block.kind
                for part in block.parts {
                    try Interruption.check()
                    let layout = Store.layout(of: part, denseBlockSymmetric: dense?.isExactlySymmetric ?? true)
                    try insertPartTiles(db, matrixID, position, part, dtype: dtype, layout: layout)
                    parts.append((position, part.name, part.shape, part.rows, part.columns, layout))
                }
            }
            try db.execute(sql: "DELETE FROM lcdb_matrix WHERE name = ?", arguments: [name])
            try db.execute(sql: """
                INSERT INTO lcdb_matrix (id, name, collection_id, representation, dtype, symmetric, layout) VALUES (?, ?, ?, ?, ?, ?, ?)
                """, arguments: [matrixID, name, collectionID, StructuredMatrix.representation(of: kinds), dtype.rawValue,
                                 symmetric, (symmetric ? MatrixLayout.upper : .full).rawValue])
            for (position, kind) in kinds.enumerated() {
                try db.execute(sql: "INSERT INTO lcdb_matrix_block (matrix_id, position, form) VALUES (?, ?, ?)",
                               arguments: [matrixID, position, kind.rawValue])
            }
            for part in parts {
                try insertPartRow(db, matrixID, part.position, name: part.name, shape: part.shape, rows: part.rows,
                                  columns: part.columns, layout: part.layout)
            }
            // Every tile has its rows now; later statements of a batch transaction check at once again.
            try db.execute(sql: "PRAGMA defer_foreign_keys = OFF")
        }
    }
}

extension Store {
    /// `transform` of every block of stored matrix `name` (in forms), in
    /// memory, the blocks transformed side by side (`mapForms`); refused
    /// with the layer reached once the results pass the memory budget.
    public func loadTransformedForms(_ name: String,
                                     _ transform: @escaping @Sendable (any BlockForm, _ layer: String) throws -> any BlockForm) throws -> StructuredMatrix {
        try read { db in
            let matrix = try Store.matrixRow(db, name: name, anyForm: true)
            let collection = matrix.collection
            let layouts = try Store.blockLayouts(db, matrix)
            let inFlight = BlockScheduler.cores + 1
            try MemoryBudget.require(Store.decompositionMemory(layouts, collection, inFlight: inFlight),
                                     for: "the blocks of matrix '\(name)' (\(inFlight) at a time)")
            var blocks = [(any BlockForm)?](repeating: nil, count: collection.count)
            var bytes = 0.0
            let names = collection.names
            try Store.mapForms(matrix, layouts, inFlight: inFlight) { position, block in
                try transform(block, names[position])
            } finish: { position, block in
                bytes += Double(block.storedBytes(.float64))
                try MemoryBudget.require(bytes, for: "the transformed blocks of matrix '\(name)' up to layer '\(names[position])'")
                blocks[position] = block
            }
            return try StructuredMatrix(collection: collection, blocks: blocks.compactMap { $0 })
        }
    }
}
