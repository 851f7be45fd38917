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

    /// A file written by lcdb before migration 0002 (schema 1: no layout, no
    /// col_start) is upgraded when opened, and its matrices read as before.
    @Test func aVersion1FileIsUpgradedInPlace() throws {
        let folder = try TemporaryFolder()
        let path = folder.path("v1.lcdb")
        let collection = try LayerCollection([("fc", .linear(3, 2)), ("b", .parameter([4]))])
        let matrix = try BlockDiagonalMatrix<Double>.randomSPD(over: collection, seed: 3)
        do {
            let store = try Store(path: path, tileBytes: 64)
            try store.createCollection("net", collection)
            try store.saveMatrix("F", over: "net", matrix, layout: .full)
        }
        // Turn the file back into schema 1, as lcdb 1 left it.
        let version1 = EmbeddedMigrations.all[0].sql
        let views = String(version1[version1.range(of: "-- Public query contract.")!.lowerBound...])
        let queue = try DatabaseQueue(path: path)
        try queue.writeWithoutTransaction { db in
            try db.execute(sql: """
                DROP VIEW matrices; DROP VIEW matrix_tiles; DROP VIEW collections; DROP VIEW layers;
                DROP VIEW vectors; DROP VIEW vector_chunks;
                ALTER TABLE lcdb_matrix DROP COLUMN layout; ALTER TABLE lcdb_matrix_tile DROP COLUMN col_start;
                DELETE FROM grdb_migrations WHERE identifier = '\(EmbeddedMigrations.all[1].file)';
                PRAGMA user_version = 1;
                """)
            try db.execute(sql: views)
        }
        try queue.close()
        let store = try Store(path: path)
        #expect(try store.read { db in try Int.fetchOne(db, sql: "PRAGMA user_version") } == Store.schemaVersion)
        #expect(try store.loadMatrix(named: "F") == .float64(matrix))
        #expect(try store.matrixSummaries().map(\.layout) == [.full])
        let columnStarts = try store.read { db in try Int.fetchAll(db, sql: "SELECT DISTINCT col_start FROM matrix_tiles") }
        #expect(columnStarts == [0])
        #expect(try store.integrityCheck() == "ok")
    }
}
