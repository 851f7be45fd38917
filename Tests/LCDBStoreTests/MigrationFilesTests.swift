import Foundation
import GRDB
import LCDBCore
import Testing
@testable import LCDBStore

/// The binary carries migrations/ as string literals: prove they are the files.
struct MigrationFilesTests {
    static let folder = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("migrations")

    @Test func embeddedMigrationsAreTheFilesByteForByte() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.folder.path)
            .filter { $0.hasSuffix(".sql") }.sorted()
        #expect(!files.isEmpty)
        #expect(EmbeddedMigrations.all.map(\.file) == files)
        for (file, sql) in EmbeddedMigrations.all {
            let onDisk = try Data(contentsOf: Self.folder.appendingPathComponent(file))
            #expect(Data(sql.utf8) == onDisk, "\(file) differs from the embedded copy: run `make migrations`")
        }
    }

    @Test func schemaVersionIsTheLastMigration() throws {
        let store = try Store(path: nil)
        let version = try store.read { db in try Int.fetchOne(db, sql: "PRAGMA user_version") }
        #expect(version == Store.schemaVersion)
        #expect(Store.schemaVersion == EmbeddedMigrations.all.count)
    }

    /// The fingerprints that let an open skip rebuilding the expected schema
    /// are those of the schema the migrations make at each version (a changed
    /// or new migration fails here, printing the value to put in
    /// `Store.knownFingerprints`), and a file of lcdb's own has that schema.
    @Test func knownFingerprintsAreThoseOfTheMigrations() throws {
        for version in 1 ... Store.schemaVersion {
            let actual = Store.fingerprint(try Store.expectedSchema(version: version))
            #expect(Store.knownFingerprints[version] == actual, "version \(version): \"\(actual)\"")
        }
        let store = try Store(path: nil)
        let own = try store.read { db in Store.fingerprint(try Store.schemaObjects(db)) }
        #expect(own == Store.knownFingerprints[Store.schemaVersion])
    }

    /// A file as lcdb 1 wrote it (schema 1: no layout, no col_start, no
    /// block forms), made by running migrations/0001 alone and inserting rows
    /// as lcdb 1 did, is upgraded when opened, and its matrix reads as before.
    @Test func aVersion1FileIsUpgradedInPlace() throws {
        let folder = try TemporaryFolder()
        let path = folder.path("v1.lcdb")
        let collection = try LayerCollection([("fc", .linear(3, 2)), ("b", .parameter([4]))])
        let matrix = try BlockDiagonalMatrix<Double>.randomSPD(over: collection, seed: 3)
        do {
            let queue = try DatabaseQueue(path: path)
            try Store.migrator.migrate(queue, upTo: EmbeddedMigrations.all[0].file)
            try queue.write { db in
                try Store.insertCollection(db, name: "net", collection)
                try db.execute(sql: "INSERT INTO lcdb_matrix (id, name, collection_id, representation, dtype, symmetric) VALUES (1, 'F', 1, 'blockdiag', 'float64', 1)")
                for (position, block) in matrix.blocks.enumerated() {
                    let side = collection.entries[position].layer.numel
                    let data = block.withUnsafeBytes { Data($0) }
                    try db.execute(sql: """
                        INSERT INTO lcdb_matrix_tile (matrix_id, part, position, row_start, row_count, data) VALUES (1, 'block', ?, 0, ?, ?)
                        """, arguments: [position, side, data])
                }
            }
            try queue.close()
        }
        let store = try Store(path: path)
        #expect(try store.read { db in try Int.fetchOne(db, sql: "PRAGMA user_version") } == Store.schemaVersion)
        #expect(try store.loadMatrix(named: "F") == .float64(matrix))
        #expect(try store.matrixSummaries().map(\.layout) == [.full])
        let columnStarts = try store.read { db in try Int.fetchAll(db, sql: "SELECT DISTINCT col_start FROM matrix_tiles") }
        #expect(columnStarts == [0])
        // Every block of the old matrix is dense, with its one part.
        let forms = try store.read { db in try String.fetchAll(db, sql: "SELECT form || ':' || layer FROM matrix_blocks ORDER BY position") }
        #expect(forms == ["dense:fc", "dense:b"])
        #expect(try store.blocks(of: "F").map(\.parts) == ["block (8, 8)", "block (4, 4)"])
        #expect(try store.integrityCheck() == "ok")
        #expect(try store.check().isEmpty)
        // The upgraded file's schema is exactly a new file's.
        let fresh = try Store(path: folder.path("new.lcdb"))
        let objects = { (s: Store) in try s.read { db in try Store.schemaObjects(db) } }
        #expect(try objects(store) == objects(fresh))
    }

    /// A file of schema 3 (forms, before the eigen form) holding a kfac
    /// matrix is upgraded when opened: the matrix reads as before, an eigen
    /// matrix can then be stored beside it, and the schema is a new file's.
    @Test func aVersion3FileIsUpgradedInPlace() throws {
        let folder = try TemporaryFolder()
        let path = folder.path("v3.lcdb")
        let collection = try LayerCollection([("fc", .linear(2, 2))])
        let a: [Double] = [2, 0.5, 0.1, 0.5, 3, 0.2, 0.1, 0.2, 1], g: [Double] = [1.5, -0.3, -0.3, 0.8]
        do {
            let queue = try DatabaseQueue(path: path)
            try Store.migrator.migrate(queue, upTo: EmbeddedMigrations.all[2].file)
            try queue.write { db in
                try Store.insertCollection(db, name: "net", collection)
                try db.execute(sql: "INSERT INTO lcdb_matrix (id, name, collection_id, representation, dtype, symmetric, layout) VALUES (1, 'K', 1, 'kfac', 'float64', 1, 'full')")
                try db.execute(sql: "INSERT INTO lcdb_matrix_block (matrix_id, position, form) VALUES (1, 0, 'kfac')")
                for (part, values, n) in [("A", a, 3), ("G", g, 2)] {
                    try db.execute(sql: "INSERT INTO lcdb_matrix_part (matrix_id, position, part, shape, rows, columns, layout) VALUES (1, 0, ?, ?, ?, ?, 'full')",
                                   arguments: [part, "[\(n), \(n)]", n, n])
                    try db.execute(sql: "INSERT INTO lcdb_matrix_tile (matrix_id, part, position, row_start, row_count, col_start, data) VALUES (1, ?, 0, 0, ?, 0, ?)",
                                   arguments: [part, n, values.withUnsafeBytes { Data($0) }])
                }
            }
            try queue.close()
        }
        let store = try Store(path: path)
        #expect(try store.read { db in try Int.fetchOne(db, sql: "PRAGMA user_version") } == Store.schemaVersion)
        let kfac = try #require(try store.loadStructured(named: "K").blocks[0] as? KFACForm)
        #expect(kfac.right == .dense(Matrix64(rows: 3, columns: 3, values: a)) && kfac.left == .dense(Matrix64(rows: 2, columns: 2, values: g)))
        #expect(try store.check().isEmpty)
        let eigen = try EigenForm(decomposing: DenseForm(block: kfac.dense()), layer: "fc")
        try store.saveStructured("E", over: "net", try StructuredMatrix(collection: collection, blocks: [eigen]), dtype: .float64)
        #expect(try store.matrixSummaries().map(\.representation) == ["eigen", "kfac"])
        let loaded = try #require(try store.loadStructured(named: "E").blocks[0] as? EigenForm)
        #expect(loaded.basis == eigen.basis && loaded.eigenvalues == eigen.eigenvalues)
        let fresh = try Store(path: folder.path("new.lcdb"))
        let objects = { (s: Store) in try s.read { db in try Store.schemaObjects(db) } }
        #expect(try objects(store) == objects(fresh))
    }
}
