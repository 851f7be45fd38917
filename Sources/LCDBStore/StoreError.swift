import Foundation
import GRDB
import LCDBCore

/// A storage error a user can act on: a bad file, a missing or duplicate
/// name, a busy or full database. The database is unchanged when one is thrown
/// (every operation is one transaction).
public struct StoreError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case notSQLite
        case notLcdb
        case newerSchema
        case corrupt
        case unknownName
        case duplicateName
        case inUse
        case mismatch
        case busy
        case diskFull
        case interrupted
        case insideTransaction
        case tooLarge
        case io
        case sql
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    /// Why a database path cannot be opened, in the user's terms (SQLite
    /// says only "unable to open database file").
    static func whyNotOpenable(_ path: String?) -> String {
        guard let path else { return "unable to open database file" }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            return isDirectory.boolValue ? "it is a directory; give a file name for the database"
                : "the file exists but cannot be opened (permissions?)"
        }
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty && !FileManager.default.fileExists(atPath: folder) {
            return "the folder '\(folder)' does not exist; create it first"
        }
        return "the folder is not writable, or the file cannot be created"
    }

    /// Translates SQLite's errors into messages about the user's situation.
    static func wrap(_ error: Error, path: String?) -> Error {
        guard let error = error as? DatabaseError else { return error }
        let file = path.map { "'\($0)'" } ?? "the in-memory database"
        switch error.resultCode {
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            return StoreError(.busy, "\(file) is busy: another connection is writing to it; nothing was changed, try again")
        case .SQLITE_FULL:
            return StoreError(.diskFull, "the disk holding \(file) is full; nothing was changed")
        case .SQLITE_NOTADB:
            return StoreError(.notSQLite, "\(file) is not an SQLite database")
        case .SQLITE_CORRUPT:
            return StoreError(.corrupt, "\(file) is corrupt (\(error.message ?? "malformed")); restore it from a copy")
        case .SQLITE_INTERRUPT:
            return StoreError(.interrupted, "interrupted; nothing was changed")
        case .SQLITE_READONLY:
            return StoreError(.io, "\(file) is read-only; nothing was changed")
        case .SQLITE_CANTOPEN:
            return StoreError(.io, "cannot open \(file): \(StoreError.whyNotOpenable(path))")
        case .SQLITE_IOERR:
            return StoreError(.io, "cannot read or write \(file): \(error.message ?? "I/O error")")
        default:
            return StoreError(.io, "SQLite error on \(file): \(error.message ?? "\(error.resultCode)")")
        }
    }
}
