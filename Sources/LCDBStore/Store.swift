import Foundation
import GRDB
import LCDBCore

/// An lcdb database: one SQLite file (or an in-memory database) holding
/// collections, vectors and matrices.
///
/// Opening checks what the file is before writing anything: a file that is
/// not SQLite, an SQLite file of another program, or one written by a newer
/// lcdb is refused and left untouched. A new or empty file gets the schema
/// from `migrations/` (embedded in the binary), WAL journaling, 64 KiB pages.
/// Every public operation is one IMMEDIATE transaction: done completely or
/// not at all.
public final class Store {
    /// The file path, or nil for an in-memory database.
    public let path: String?
    /// The connection; for an in-memory database it is created on first use,
    /// so a run that never touches the database (`lcdb -c help`) starts fast.
    private var openedQueue: DatabaseQueue?
    private let configuration: Configuration
    /// Target size of one tile (matrix row panel) or vector chunk, in bytes.
    public let tileBytes: Int
    /// The most `streamTiles` holds to rebuild whole rows of an `upper`
    /// matrix: a group of rows, filled from every tile above and in it.
    var rowGroupBytes = Store.defaultRowGroupBytes
    /// The connection while a write (or a batch) is open, so that reads made
    /// inside it (a result computed from stored operands) see the same state
    /// instead of re-entering the queue.
    var activeDatabase: Database?
    /// True between `beginBatch` and `endBatch`.
    var batchOpen = false
    /// Stored matrices in forms already loaded by the running statement
    /// (`withFormsCache`); nil outside one. Emptied by every write.
    var formsCache: [String: StructuredMatrix]?
    /// Makes a progress reporter (rows done, rows in all) for a long streamed
    /// operation, named by its argument; the shell sets it on a terminal.
    public var progressFactory: ((String) -> ((Int, Int) -> Void)?)?

    /// 'LCDB' in PRAGMA application_id (set by migrations/0001).
    public static let applicationID: Int32 = 0x4C43_4442
    /// The newest schema this lcdb knows: the number of migration files.
    public static let schemaVersion = EmbeddedMigrations.all.count
    /// Measured (ARCHITECTURE.md): 512 KiB to 4 MiB read equally fast; larger
    /// tiles fall out of cache, smaller ones write slower.
    public static let defaultTileBytes = 4 << 20
    /// 1 GiB, or an eighth of the machine's memory if that is less: a block up
    /// to this size is rebuilt in one pass, a larger one in several.
    static let defaultRowGroupBytes = Int(min(Double(1 << 30), MemoryBudget.available / 8))
    /// How long a writer waits for another one before "database is busy".
    public static let busyTimeout: TimeInterval = 5

    /// Opens (creating if missing) the database at `path`; nil or ":memory:"
    /// opens a transient in-memory database.
    public init(path: String?, tileBytes: Int = Store.defaultTileBytes) throws {
        let path = path == ":memory:" ? nil : path
        self.path = path
        self.tileBytes = max(tileBytes, 64)
        if let path { try Store.checkHeader(of: path) }
        var configuration = Configuration()
        configuration.busyMode = .timeout(Store.busyTimeout)
        configuration.foreignKeysEnabled = true
        configuration.label = "lcdb"
        // `--single-transaction` keeps one transaction open across statements.
        configuration.allowsUnsafeTransactions = true
        self.configuration = configuration
        if path != nil { _ = try queue() }
    }

    /// The database connection, opened (and migrated) on first use.
    func queue() throws -> DatabaseQueue {
        if let openedQueue { return openedQueue }
        do {
            let queue = try path.map { try DatabaseQueue(path: $0, configuration: configuration) }
                ?? DatabaseQueue(configuration: configuration)
            try queue.writeWithoutTransaction { db in try Store.prepare(db, path: path) }
            try Store.migrator.migrate(queue)
            openedQueue = queue
            return queue
        } catch {
            throw StoreError.wrap(error, path: path)
        }
    }

    /// Refuses files that do not start with SQLite's magic string, before
    /// SQLite opens them. A missing or empty file is a new database.
    static func checkHeader(of path: String) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            if FileManager.default.fileExists(atPath: path) {
                throw StoreError(.io, "cannot read '\(path)'")
            }
            return
        }
        defer { try? handle.close() }
        let header = (try? handle.read(upToCount: 16)) ?? Data()
        guard !header.isEmpty else { return }
        guard header == Data("SQLite format 3\0".utf8) else {
            throw StoreError(.notSQLite, "'\(path)' is not an SQLite database (its first bytes are not SQLite's header); nothing was changed")
        }
    }

    /// Checks ownership and version and sets the connection's pragmas; the
    /// migrator then creates or completes the schema.
    static func prepare(_ db: Database, path: String?) throws {
        // Functions in views, triggers and defaults of the file run only if
        // they are harmless (SQLite's recommended setting for files of any origin).
        try db.execute(sql: "PRAGMA trusted_schema = OFF")
        let applicationID = try Int32(Int.fetchOne(db, sql: "PRAGMA application_id") ?? 0)
        let version = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
        let objects = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name")
        let file = path.map { "'\($0)'" } ?? "the database"
        if applicationID == Store.applicationID {
            // Checked before anything is written (not even the journal mode): a
            // refused file stays byte for byte as it was.
            if !objects.isEmpty && (version < 1 || !objects.contains("grdb_migrations")) {
                let what = version < 1 ? "its schema version (PRAGMA user_version) is \(version)" : "its migration record (grdb_migrations) is missing"
                throw StoreError(.corrupt, "\(file) is an lcdb file that was damaged or edited: \(what). Nothing was changed; restore it from a copy")
            }
            guard version <= schemaVersion else {
                throw StoreError(.newerSchema,
                                 "\(file) was written by a newer lcdb (schema version \(version); this lcdb knows up to \(schemaVersion)); upgrade lcdb to open it. Nothing was changed")
            }
            if !objects.isEmpty { try requireOwnSchema(db, version: version, file: file) }
        } else if !objects.isEmpty || applicationID != 0 {
            let listed = objects.prefix(5).joined(separator: ", ") + (objects.count > 5 ? ", ..." : "")
            throw StoreError(.notLcdb,
                             "\(file) is an SQLite database of another program (it has \(objects.isEmpty ? "application id \(applicationID)" : listed)); lcdb opens only its own files or new ones. Nothing was changed")
        } else if path != nil {
            // A new file: page size must be set before the first table exists.
            try db.execute(sql: "PRAGMA page_size = 65536")
        }
        if path != nil {
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            // In WAL mode NORMAL survives process crashes (SIGKILL) intact; a
            // power cut can lose the last commits but never corrupts.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            try db.execute(sql: "PRAGMA journal_size_limit = 67108864")
            // Debian builds SQLite with SECURE_DELETE, which zeroes every freed
            // page: dropping a 1 GB matrix would write 1 GB of zeros through
            // the WAL. FAST zeroes only what costs no extra I/O.
            try db.execute(sql: "PRAGMA secure_delete = FAST")
            // A page cache of 32 MB (SQLite's default is 2 MB: 31 pages of
            // 64 KB, less than one 4 MB tile). With the default, a table's
            // leaf page was spilled to the WAL between tile inserts and
            // written again later; one frame overwritten in place makes
            // SQLite re-read and re-checksum every later frame of the
            // transaction at commit (a second pass over a 1 GB write).
            try db.execute(sql: "PRAGMA cache_size = -32768")
        }
        if applicationID == Store.applicationID, try Store.migrator.hasBeenSuperseded(db) {
            throw StoreError(.newerSchema, "\(file) has migrations this lcdb does not know; upgrade lcdb to open it. Nothing was changed")
        }
    }

    /// One migration per file of `migrations/`, each in its own transaction,
    /// recorded by GRDB in grdb_migrations.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        for (file, sql) in EmbeddedMigrations.all {
            migrator.registerMigration(file) { db in try db.execute(sql: sql) }
        }
        return migrator
    }

    /// Runs `body` in one IMMEDIATE transaction, translating SQLite errors.
    /// Inside a batch transaction (`--single-transaction`) or inside another
    /// write it runs in a savepoint instead, so it still fails as a unit.
    func write<T>(_ body: (Database) throws -> T) throws -> T {
        if formsCache != nil { formsCache = [:] }
        do {
            if let db = activeDatabase { return try Store.inSavepoint(db, body) }
            return try queue().writeWithoutTransaction { db in
                activeDatabase = db
                defer { activeDatabase = nil }
                if batchOpen { return try Store.inSavepoint(db, body) }
                var result: T?
                do {
                    try db.inTransaction(.immediate) {
                        result = try body(db)
                        return .commit
                    }
                } catch {
                    // A COMMIT that fails (a full disk) can leave the transaction open.
                    if db.isInsideTransaction { try? db.rollback() }
                    throw error
                }
                guard let result else { preconditionFailure("transaction committed without a result") }
                return result
            }
        } catch {
            throw StoreError.wrap(error, path: path)
        }
    }

    private static func inSavepoint<T>(_ db: Database, _ body: (Database) throws -> T) throws -> T {
        var result: T?
        try db.inSavepoint {
            result = try body(db)
            return .commit
        }
        guard let result else { preconditionFailure("savepoint committed without a result") }
        return result
    }

    /// Runs `body` in one read transaction (a consistent snapshot); inside a
    /// write it reads what that write sees.
    func read<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            if let db = activeDatabase { return try body(db) }
            if batchOpen { return try queue().writeWithoutTransaction(body) }
            // Reads nested in this one (a stored low-rank factor read while
            // its matrix loads) use the same transaction, not the queue again.
            return try queue().read { db in
                activeDatabase = db
                defer { activeDatabase = nil }
                return try body(db)
            }
        } catch {
            throw StoreError.wrap(error, path: path)
        }
    }

    /// Runs `body` with every read of this store inside one read transaction,
    /// so that a computation over several reads (panel by panel) sees one
    /// consistent state. Inside a write it reads what that write sees.
    public func snapshot<T>(_ body: () throws -> T) throws -> T {
        if activeDatabase != nil || batchOpen { return try body() }
        return try read { db in
            activeDatabase = db
            defer { activeDatabase = nil }
            return try body()
        }
    }

    /// Starts one transaction for a whole batch (`--single-transaction`):
    /// every operation until `endBatch` runs in a savepoint inside it.
    public func beginBatch() throws {
        guard !batchOpen else { return }
        do {
            try queue().writeWithoutTransaction { db in try db.beginTransaction(.immediate) }
            batchOpen = true
        } catch {
            throw StoreError.wrap(error, path: path)
        }
    }

    /// True while one transaction spans statements (`begin`, `--single-transaction`).
    public var isInBatch: Bool { batchOpen }

    /// Commits (or rolls back) the batch transaction.
    public func endBatch(commit: Bool) throws {
        guard batchOpen else { return }
        batchOpen = false
        do {
            try queue().writeWithoutTransaction { db in
                guard db.isInsideTransaction else { return }
                if commit { try db.commit() } else { try db.rollback() }
            }
        } catch {
            throw StoreError.wrap(error, path: path)
        }
    }

    /// Asks a running statement to stop at its next step (Ctrl-C).
    public func interrupt() { openedQueue?.interrupt() }

    /// `PRAGMA integrity_check`'s answer: "ok" for a healthy file.
    public func integrityCheck() throws -> String {
        try read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check").joined(separator: "; ") }
    }
}
