import GRDB
import GRDBSQLite

#if _endian(big)
#error("lcdb stores little-endian blobs by copying memory; big-endian hosts need byte swapping")
#endif

/// SQLite's incremental blob I/O on one column, moved from row to row with
/// `sqlite3_blob_reopen`: tiles are read into and written from lcdb's own
/// buffers without an intermediate copy.
final class BlobHandle {
    private var handle: OpaquePointer?
    private let connection: SQLiteConnection?

    init(_ db: Database, table: String, column: String, rowID: Int64, writable: Bool) throws {
        connection = db.sqliteConnection
        let code = sqlite3_blob_open(connection, "main", table, column, rowID, writable ? 1 : 0, &handle)
        guard code == SQLITE_OK else {
            let message = String(cString: sqlite3_errmsg(connection))
            sqlite3_blob_close(handle)
            handle = nil
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: message)
        }
    }

    deinit { sqlite3_blob_close(handle) }

    /// `handle` on the blob of row `rowID`: moved there, or opened read-only
    /// the first time (one handle serves a whole sequence of rows).
    static func reading(_ handle: inout BlobHandle?, _ db: Database, table: String, column: String = "data",
                        rowID: Int64) throws -> BlobHandle {
        if let handle {
            try handle.move(to: rowID)
            return handle
        }
        let opened = try BlobHandle(db, table: table, column: column, rowID: rowID, writable: false)
        handle = opened
        return opened
    }

    func move(to rowID: Int64) throws {
        try check(sqlite3_blob_reopen(handle, rowID))
    }

    var byteCount: Int { Int(sqlite3_blob_bytes(handle)) }

    func read(into buffer: UnsafeMutableRawPointer, count: Int, offset: Int = 0) throws {
        try check(sqlite3_blob_read(handle, buffer, Int32(count), Int32(offset)))
    }

    func write(from buffer: UnsafeRawPointer, count: Int, offset: Int = 0) throws {
        try check(sqlite3_blob_write(handle, buffer, Int32(count), Int32(offset)))
    }

    private func check(_ code: Int32) throws {
        guard code == SQLITE_OK else {
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(connection)))
        }
    }
}

/// An INSERT whose last parameter is a blob bound from lcdb's own buffer
/// (SQLITE_STATIC: SQLite reads it during the step, without a copy).
final class TileInsert {
    private var statement: OpaquePointer?
    private let connection: SQLiteConnection?

    init(_ db: Database, sql: String) throws {
        connection = db.sqliteConnection
        let code = sqlite3_prepare_v2(connection, sql, -1, &statement, nil)
        guard code == SQLITE_OK else {
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(connection)))
        }
    }

    deinit { sqlite3_finalize(statement) }

    /// Binds `integers` to the first parameters and the blob to the next, then steps.
    func run(_ integers: [Int64], blob: UnsafeRawPointer, byteCount: Int) throws {
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        for (index, value) in integers.enumerated() {
            try check(sqlite3_bind_int64(statement, Int32(index + 1), value))
        }
        // SQLITE_STATIC is ((sqlite3_destructor_type)0): the buffer outlives the step.
        try check(sqlite3_bind_blob64(statement, Int32(integers.count + 1), blob, sqlite3_uint64(byteCount), nil))
        let code = sqlite3_step(statement)
        guard code == SQLITE_DONE else { try check(code); return }
    }

    private func check(_ code: Int32) throws {
        guard code == SQLITE_OK || code == SQLITE_DONE else {
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(connection)))
        }
    }
}
