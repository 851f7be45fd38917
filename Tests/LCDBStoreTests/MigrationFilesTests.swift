import Foundation
import GRDB
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
}
