import GRDB
import LCDBCore

/// Named objects of the store, by kind: one place for "no such name"
/// errors, renames and deletes.
enum StoredKind: String {
    case collection, vector, matrix

    /// The table (a constant of lcdb's schema, never user input).
    var table: String { "lcdb_\(rawValue)" }
}

extension Store {
    /// "no vector 'x'; did you mean 'y'?" with the names of that kind.
    static func unknown(_ kind: StoredKind, _ name: String, _ db: Database) throws -> StoreError {
        let names = try String.fetchAll(db, sql: "SELECT name FROM \(kind.table)")
        return StoreError(.unknownName, "no \(kind.rawValue) '\(name)'" + NameSuggester.hint(for: name, among: names))
    }

    func renameObject(_ kind: StoredKind, _ name: String, to newName: String) throws {
        try write { db in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM \(kind.table) WHERE name = ?", arguments: [name]) == true else {
                throw try Store.unknown(kind, name, db)
            }
            try Store.requireFreeName(db, table: kind.table, what: kind.rawValue, newName)
            try db.execute(sql: "UPDATE \(kind.table) SET name = ? WHERE name = ?", arguments: [newName, name])
        }
    }

    /// Deletes a vector or matrix (their chunks and tiles go by cascade).
    func dropObject(_ kind: StoredKind, _ name: String) throws {
        try write { db in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM \(kind.table) WHERE name = ?", arguments: [name]) == true else {
                throw try Store.unknown(kind, name, db)
            }
            try db.execute(sql: "DELETE FROM \(kind.table) WHERE name = ?", arguments: [name])
        }
    }
}

extension Store {
    /// What `name` is, looked up as a vector, then a matrix, then a collection
    /// (one indexed lookup each); nil when nothing is called so.
    public func kind(of name: String) throws -> String? {
        try read { db in
            for kind in [StoredKind.vector, .matrix, .collection]
            where try Bool.fetchOne(db, sql: "SELECT 1 FROM \(kind.table) WHERE name = ?", arguments: [name]) == true {
                return kind.rawValue
            }
            return nil
        }
    }

    /// Names of every stored vector, matrix and collection (for suggestions).
    public func allNames() throws -> [String] {
        try read { db in
            try String.fetchAll(db, sql: "SELECT name FROM lcdb_vector UNION ALL SELECT name FROM lcdb_matrix UNION ALL SELECT name FROM lcdb_collection")
        }
    }
}
