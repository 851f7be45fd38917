import GRDB
import LCDBCore

/// Space taken by the database, and giving back what dropped and replaced
/// objects left free.
public struct StoreSpace: Equatable, Sendable {
    /// Pages in use and on the free list, in bytes (the file's size once checkpointed).
    public let total: Int
    /// Bytes on the free list: reused by later writes, returned to the disk by `vacuum`.
    public let free: Int
}

extension Store {
    public func space() throws -> StoreSpace {
        try read { db in try Store.space(db) }
    }

    static func space(_ db: Database) throws -> StoreSpace {
        let pageSize = try Int.fetchOne(db, sql: "PRAGMA page_size") ?? 0
        let pages = try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0
        let free = try Int.fetchOne(db, sql: "PRAGMA freelist_count") ?? 0
        return StoreSpace(total: pages * pageSize, free: free * pageSize)
    }

    /// Rebuilds the database without its free pages (SQLite's VACUUM) and
    /// shrinks the file and its WAL. Returns the space before and after. It
    /// cannot run inside `--single-transaction`, and refuses to start without
    /// room for the copy SQLite makes.
    public func vacuum() throws -> (before: StoreSpace, after: StoreSpace) {
        guard !batchOpen, activeDatabase == nil else {
            throw StoreError(.insideTransaction, "vacuum cannot run inside a transaction (--single-transaction); run it on its own. Nothing was changed")
        }
        let before = try space()
        try requireSpace(for: Double(before.total - before.free), "vacuum (a copy of the database's \(Store.formatBytes(Double(before.total - before.free))) in use)")
        do {
            try queue().writeWithoutTransaction { db in
                try db.execute(sql: "VACUUM")
                if path != nil { try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
            }
        } catch {
            throw StoreError.wrap(error, path: path)
        }
        return (before, try space())
    }
}
