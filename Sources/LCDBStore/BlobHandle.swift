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
