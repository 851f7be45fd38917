import Foundation
import GRDB
import LCDBCore
import Testing
@testable import LCDBStore

/// Opening files that are not ours, or not ours any more, changes nothing.
struct StoreFileTests {
    @Test func aNewFileGetsTheSchemaWALAndLargePages() throws {
        let folder = try TemporaryFolder()
        let path = folder.path("new.lcdb")
        let store = try Store(path: path)
        let pragmas = try store.read { db in
            [try Int.fetchOne(db, sql: "PRAGMA application_id"), try Int.fetchOne(db, sql: "PRAGMA page_size"),
             try Int.fetchOne(db, sql: "PRAGMA user_version")]
        }
        #expect(pragmas == [0x4C43_4442, 65536, Store.schemaVersion])
        let mode = try store.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") }
        #expect(mode == "wal")
        let views = try store.read { db in
            try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'view' ORDER BY name")
        }
        #expect(views == ["collections", "layers", "matrices", "matrix_blocks", "matrix_parts", "matrix_tiles", "metadata", "provenance",
                          "provenance_inputs", "vector_chunks", "vectors"])
    }

    @Test func reopeningKeepsDataAndAddsNothing() throws {
        let folder = try TemporaryFolder()
        let path = folder.path("keep.lcdb")
        let collection = try sampleCollection()
        do {
            let store = try Store(path: path)
            try store.createCollection("net", collection)
        }
        let again = try Store(path: path)
        #expect(try again.collection(named: "net") == collection)
        let migrations = try again.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM grdb_migrations") }
        #expect(migrations == Store.schemaVersion)
    }

    @Test func anEmptyFileBecomesANewDatabase() throws {
        let folder = try TemporaryFolder()
        let path = folder.path("empty.lcdb")
        FileManager.default.createFile(atPath: path, contents: Data())
        let store = try Store(path: path)
        #expect(try store.collectionNames().isEmpty)
    }

    @Test func aFileThatIsNotSQLiteIsRefusedUntouched() throws {
        let folder = try TemporaryFolder()
        let path = folder.path("notes.txt")
        let content = Data("these are my notes, not a database\n".utf8)
        FileManager.default.createFile(atPath: path, contents: content)
        #expect(throws: StoreError(.notSQLite, "'\(path)' is not an SQLite database (its first bytes are not SQLite's header); nothing was changed")) {
            _ = try Store(path: path)
        }
        #expect(FileManager.default.contents(atPath: path) == content)
        #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
    }

    @Test func anotherProgramsDatabaseIsRefusedUntouched() throws {
        let folder = try TemporaryFolder()
        let path = folder.path("other.db")
        do {
            let other = try DatabaseQueue(path: path)
            try other.write { db in
                try db.execute(sql: "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO customers (name) VALUES ('Ada')")
            }
        }
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(throws: StoreError(.notLcdb, "'\(path)' is an SQLite database of another program (it has customers); lcdb opens only its own files or new ones. Nothing was changed")) {
            _ = try Store(path: path)
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        let mode = try DatabaseQueue(path: path).read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") }
        #expect(mode == "delete")
    }

    @Test func aDatabaseFromANewerLcdbIsRefusedUntouched() throws {
        let folder = try TemporaryFolder()
        let path = folder.path("future.lcdb")
        do { _ = try Store(path: path) }
        try DatabaseQueue(path: path).writeWithoutTransaction { db in try db.execute(sql: "PRAGMA user_version = 99") }
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(throws: StoreError(.newerSchema, "'\(path)' was written by a newer lcdb (schema version 99; this lcdb knows up to \(Store.schemaVersion)); upgrade lcdb to open it. Nothing was changed")) {
            _ = try Store(path: path)
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
    }

    @Test func aCorruptOrTruncatedFileIsAClearError() throws {
        let folder = try TemporaryFolder()
        let path = folder.path("broken.lcdb")
        do {
            let store = try Store(path: path)
            let collection = try sampleCollection()
            try store.createCollection("net", collection)
            try store.saveMatrix("M", over: "net", try BlockDiagonalMatrix<Double>.randomSPD(over: collection, seed: 1))
        }
        // Checkpoint the WAL into the file, then cut the file in half.
        try DatabaseQueue(path: path).writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
        let whole = try Data(contentsOf: URL(fileURLWithPath: path))
        try whole.prefix(whole.count / 2).write(to: URL(fileURLWithPath: path))
        // The header is intact, so SQLite finds the damage while lcdb opens or reads it.
        #expect(throws: StoreError(.corrupt, "'\(path)' is corrupt (database disk image is malformed); restore it from a copy")) {
            let store = try Store(path: path)
            _ = try store.loadMatrix(named: "M")
        }
    }

    @Test func aSecondWriterGetsBusyNotCorruption() throws {
        let folder = try TemporaryFolder()
        let path = folder.path("busy.lcdb")
        let first = try Store(path: path)
        let second = try Store(path: path)
        let collection = try sampleCollection()
        // Hold the write lock in `first` while `second` tries to write: it
        // waits the busy timeout, then fails with a clear message.
        let started = Date()
        var secondError: Error?
        try first.write { _ in
            do { try second.createCollection("net", collection) } catch { secondError = error }
        }
        #expect(Date().timeIntervalSince(started) >= Store.busyTimeout - 0.5)
        #expect((secondError as? StoreError) == StoreError(.busy, "'\(path)' is busy: another connection is writing to it; nothing was changed, try again"))
        try second.createCollection("net", collection)
        #expect(try first.collection(named: "net") == collection)
        #expect(try first.integrityCheck() == "ok")
    }
}
