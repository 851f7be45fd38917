import GRDB
import LCDBCore

/// What identified a stored object when a statement read it: enough to tell
/// later whether that very object is still there (not dropped or replaced).
public struct ObjectIdentity: Equatable, Sendable {
    public let kind: String
    public let name: String
    let id: Int64
    let createdAt: String
    let serial: Int64?
    /// SHA-256 of its content when read (`Store.withContentHashes`).
    public internal(set) var contentHash: String?
}

/// How a stored vector or matrix was made, as `show` prints it.
public struct Provenance: Equatable, Sendable {
    public let statement: String
    public let version: String
    public let createdAt: String
    public let inputs: [(name: String, kind: String, stale: Bool, sha256: String?)]

    public static func == (a: Provenance, b: Provenance) -> Bool {
        a.statement == b.statement && a.version == b.version && a.createdAt == b.createdAt
            && a.inputs.map(\.name) == b.inputs.map(\.name) && a.inputs.map(\.stale) == b.inputs.map(\.stale)
            && a.inputs.map(\.sha256) == b.inputs.map(\.sha256)
    }
}

extension Store {
    /// Runs `body`'s writes as one transaction (an object and its provenance
    /// are stored together or not at all).
    public func atomically<T>(_ body: () throws -> T) throws -> T {
        try write { _ in try body() }
    }

    /// The identity of the stored object `name` of `kind` now.
    public func identity(of kind: String, _ name: String) throws -> ObjectIdentity? {
        guard let stored = StoredKind(rawValue: kind) else { return nil }
        return try read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT id, created_at FROM \(stored.table) WHERE name = ?", arguments: [name]) else {
                return nil
            }
            let id: Int64 = row["id"]
            let serial = stored == .collection ? nil : try Int64.fetchOne(db, sql: """
                SELECT serial FROM lcdb_provenance WHERE object_kind = ? AND object_id = ?
                """, arguments: [kind, id])
            return ObjectIdentity(kind: kind, name: name, id: id, createdAt: row["created_at"], serial: serial)
        }
    }

    /// Records that the vector or matrix `name` was made by `statement`,
    /// reading `inputs` (replacing what was recorded for it before).
    public func recordProvenance(of name: String, statement: String, version: String, inputs: [ObjectIdentity]) throws {
        try write { db in
            guard let kind = try Store.objectKind(db, name), kind != .collection,
                  let id = try Int64.fetchOne(db, sql: "SELECT id FROM \(kind.table) WHERE name = ?", arguments: [name]) else {
                throw StoreError(.unknownName, "no vector or matrix '\(name)' to record provenance for")
            }
            try db.execute(sql: "DELETE FROM lcdb_provenance WHERE object_kind = ? AND object_id = ?", arguments: [kind.rawValue, id])
            try db.execute(sql: "INSERT INTO lcdb_provenance (object_kind, object_id, statement, lcdb_version) VALUES (?, ?, ?, ?)",
                           arguments: [kind.rawValue, id, statement, version])
            let serial = db.lastInsertedRowID
            var seen = Set<String>()
            for input in inputs where seen.insert("\(input.kind) \(input.name)").inserted {
                try db.execute(sql: """
                    INSERT INTO lcdb_provenance_input (serial, input_kind, input_name, input_serial, input_id, input_created_at, input_sha256)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [serial, input.kind, input.name, input.serial, input.id, input.createdAt, input.contentHash])
            }
        }
    }

    /// How `name` was made, or nil when lcdb did not record it (made before
    /// lcdb kept provenance, or a collection).
    public func provenance(of name: String) throws -> Provenance? {
        try read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT statement, lcdb_version, created_at FROM provenance WHERE name = ?",
                                             arguments: [name]) else { return nil }
            let inputs = try Row.fetchAll(db, sql: "SELECT input, input_kind, stale, input_sha256 FROM provenance_inputs WHERE name = ? ORDER BY input",
                                          arguments: [name]).map {
                (name: $0["input"] as String, kind: $0["input_kind"] as String, stale: $0["stale"] as Bool, sha256: $0["input_sha256"] as String?)
            }
            return Provenance(statement: row["statement"], version: row["lcdb_version"], createdAt: row["created_at"], inputs: inputs)
        }
    }

    /// Sets the user's `key = value` pairs on the object `name` (any kind).
    public func setMetadata(of name: String, _ pairs: [(key: String, value: String)]) throws {
        try write { db in
            let (kind, id) = try Store.objectID(db, name)
            for (key, value) in pairs {
                try db.execute(sql: "INSERT OR REPLACE INTO lcdb_metadata (object_kind, object_id, key, value) VALUES (?, ?, ?, ?)",
                               arguments: [kind.rawValue, id, key, value])
            }
        }
    }

    /// Removes `keys` from the object's metadata; a key it does not have is an error.
    public func removeMetadata(of name: String, keys: [String]) throws {
        try write { db in
            let (kind, id) = try Store.objectID(db, name)
            for key in keys {
                try db.execute(sql: "DELETE FROM lcdb_metadata WHERE object_kind = ? AND object_id = ? AND key = ?",
                               arguments: [kind.rawValue, id, key])
                guard db.changesCount == 1 else { throw StoreError(.unknownName, "\(kind.rawValue) '\(name)' has no metadata key '\(key)'") }
            }
        }
    }

    /// The object's metadata, by key.
    public func metadata(of name: String) throws -> [(key: String, value: String)] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT key, value FROM metadata WHERE name = ? ORDER BY key", arguments: [name])
                .map { ($0["key"], $0["value"]) }
        }
    }

    static func objectKind(_ db: Database, _ name: String) throws -> StoredKind? {
        for kind in [StoredKind.vector, .matrix, .collection]
        where try Bool.fetchOne(db, sql: "SELECT 1 FROM \(kind.table) WHERE name = ?", arguments: [name]) == true {
            return kind
        }
        return nil
    }

    private static func objectID(_ db: Database, _ name: String) throws -> (StoredKind, Int64) {
        guard let kind = try objectKind(db, name),
              let id = try Int64.fetchOne(db, sql: "SELECT id FROM \(kind.table) WHERE name = ?", arguments: [name]) else {
            let names = try String.fetchAll(db, sql: "SELECT name FROM lcdb_vector UNION ALL SELECT name FROM lcdb_matrix UNION ALL SELECT name FROM lcdb_collection")
            throw StoreError(.unknownName, "no vector, matrix or collection '\(name)'" + NameSuggester.hint(for: name, among: names))
        }
        return (kind, id)
    }
}
