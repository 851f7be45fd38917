import GRDB
import LCDBCore

/// One damaged object found by `check`.
public struct IntegrityProblem: Equatable, Sendable {
    /// "file", "schema", "collection", "vector" or "matrix".
    public let kind: String
    public let name: String
    public let problem: String
}

/// One object of the schema as SQLite keeps it in `sqlite_master`.
struct SchemaObject: Hashable, Comparable {
    let type: String
    let name: String
    let table: String
    /// The CREATE statement with runs of whitespace collapsed.
    let sql: String

    static func < (a: SchemaObject, b: SchemaObject) -> Bool { (a.type, a.name) < (b.type, b.name) }

    var label: String { "\(type) '\(name)'" }
}

extension Store {
    /// Refuses a file whose schema objects (tables, indexes, views, triggers)
    /// are not exactly the ones lcdb's migrations made at its version, by
    /// their SQL: a trigger planted in the file would run on lcdb's own
    /// writes, a redefined view would lie to `list`. SQLite's own objects
    /// (`sqlite_*`, e.g. the statistics `ANALYZE` keeps) are not compared.
    static func requireOwnSchema(_ db: Database, version: Int, file: String) throws {
        // The usual case, a file as lcdb made it, costs one query: its schema's
        // fingerprint is one of lcdb's. Only otherwise is the expected schema
        // rebuilt (the migrations run in memory: 30 ms, most of opening a file)
        // to say what differs.
        if knownFingerprints[version] == fingerprint(try schemaObjects(db)) { return }
        let differences = try schemaDifferences(db, version: version)
        guard !differences.isEmpty else { return }
        let listed = differences.prefix(4).joined(separator: "; ") + (differences.count > 4 ? "; and \(differences.count - 4) more" : "")
        throw StoreError(.corrupt, "\(file) is an lcdb file whose schema was edited (\(listed)); lcdb refuses it so that no foreign trigger or view acts on it. Nothing was changed; restore it from a copy, or drop the foreign objects with sqlite3")
    }

    /// What differs between the file's schema and lcdb's at `version`, one
    /// phrase per object.
    static func schemaDifferences(_ db: Database, version: Int) throws -> [String] {
        let found = try schemaObjects(db)
        let expected = try expectedSchema(version: version)
        let foundByName = Dictionary(found.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let expectedByName = Dictionary(expected.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var differences: [String] = []
        for object in found.sorted() {
            guard let own = expectedByName[object.name] else {
                differences.append("a foreign \(object.label)" + (object.table != object.name ? " on '\(object.table)'" : ""))
                continue
            }
            if own != object { differences.append("\(object.label) is not lcdb's definition") }
        }
        for object in expected.sorted() where foundByName[object.name] == nil {
            differences.append("\(object.label) is missing")
        }
        return differences
    }

    /// SHA-256 of the schema objects in order, one line each.
    static func fingerprint(_ objects: Set<SchemaObject>) -> String {
        var hash = SHA256()
        for object in objects.sorted() { hash.update("\(object.type)|\(object.name)|\(object.table)|\(object.sql)\n") }
        return hash.finalize()
    }

    /// `fingerprint(expectedSchema(version:))` for each schema version, so
    /// that opening a file need not run the migrations to know its schema is
    /// lcdb's. A test recomputes them from `migrations/` and names any that
    /// changed (a new migration adds a line here). SQLite versions that
    /// rewrite schema text differently only lose the shortcut.
    static let knownFingerprints: [Int: String] = [
        1: "24736aa2af8bc59c622dee2faaa31210409cc5758de0496f1427335a319feff3",
        2: "aea479cae3dc15dcdc71bed1e6243f533917e108531a90f42a05bca8f7106a86",
        3: "dc77c6c14898006aa2ac2223f277b1de0104d6685fb82cca2af650b7c5593d3a",
        4: "d9028abc6b94032b1776ee87b7945ed0c1f5c94d0ec2f7c0905fd3d69c6e3110",
        5: "8d316ca31163bc32dcc4cadff2cd64017f90cdccde134933a62fa4af063457bf",
        6: "0defd34d63c199b279457f1d815f23d5ccb085d8079b27d4e52495598fee1a95",
        7: "b236f4a3a6f03074101f857ddbe8cd6396bf303a9d606889782b90ff0837f639",
        8: "0d02f4d651e8a422f8e042772f6307de0a29e1a3a3db9a9b0166cf268918eaac",
    ]

    static func schemaObjects(_ db: Database) throws -> Set<SchemaObject> {
        let rows = try Row.fetchAll(db, sql: """
            SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
            """)
        return Set(rows.map { row in
            let sql: String = row["sql"] ?? ""
            return SchemaObject(type: row["type"], name: row["name"], table: row["tbl_name"],
                                sql: sql.split(whereSeparator: \.isWhitespace).joined(separator: " "))
        })
    }

    /// The schema a new in-memory database has after the first `version`
    /// migrations (a few milliseconds; done once per open).
    static func expectedSchema(version: Int) throws -> Set<SchemaObject> {
        let all = EmbeddedMigrations.all
        guard version >= 1, version <= all.count else { return [] }
        let queue = try DatabaseQueue()
        try migrator.migrate(queue, upTo: all[version - 1].0)
        return try queue.read { try schemaObjects($0) }
    }

    /// `a * b * c`, or nil if it overflows (sizes read from a damaged file).
    static func exactProduct(_ a: Int, _ b: Int, _ c: Int) -> Int? {
        let (ab, first) = a.multipliedReportingOverflow(by: b)
        let (abc, second) = ab.multipliedReportingOverflow(by: c)
        return first || second ? nil : abc
    }

    /// lcdb's own invariants, object by object (like `PRAGMA integrity_check`,
    /// which it runs first): every layer's numel and offset agree with its
    /// definition; every vector's chunks cover each layer exactly once; every
    /// matrix has one block per layer, each with the parts its form needs, and
    /// the tiles cover each part exactly once in its layout, each starting at
    /// the column its layout says and each blob of the right size. Reads no
    /// values, only sizes (and, for each tile's first column, which lies after
    /// its blob, the blob's pages). Empty when healthy.
    public func check() throws -> [IntegrityProblem] {
        try read { db in
            var problems: [IntegrityProblem] = []
            let sqliteAnswer = try String.fetchAll(db, sql: "PRAGMA integrity_check")
            if sqliteAnswer != ["ok"] {
                problems += sqliteAnswer.map { IntegrityProblem(kind: "file", name: path ?? ":memory:", problem: $0) }
            }
            let version = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
            problems += try Store.schemaDifferences(db, version: version).map {
                IntegrityProblem(kind: "schema", name: "sqlite_master", problem: $0)
            }
            var damagedCollections: Set<String> = []
            for name in try String.fetchAll(db, sql: "SELECT name FROM lcdb_collection ORDER BY name") {
                do { _ = try Store.loadCollection(db, name: name) } catch {
                    damagedCollections.insert(name)
                    problems.append(IntegrityProblem(kind: "collection", name: name, problem: "\(error)"))
                }
            }
            /// Objects over a damaged collection are reported as such, not by its error again.
            func overDamaged(_ collection: String) throws {
                if damagedCollections.contains(collection) {
                    throw StoreError(.corrupt, "it is over collection '\(collection)', which is damaged")
                }
            }
            for name in try String.fetchAll(db, sql: "SELECT name FROM lcdb_vector ORDER BY name") {
                do {
                    let (id, collectionName, dtype) = try Store.vectorRow(db, name: name)
                    try overDamaged(collectionName)
                    let collection = try Store.loadCollection(db, name: collectionName).collection
                    _ = try Store.chunkPlacements(db, vectorID: id, name: name, collection, scalarSize: dtype.size)
                    try Store.requireNoStrayRows(db, table: "lcdb_vector_chunk", owner: "vector_id", id: id,
                                                 positions: collection.count, what: "vector '\(name)'")
                } catch {
                    problems.append(IntegrityProblem(kind: "vector", name: name, problem: "\(error)"))
                }
            }
            for name in try String.fetchAll(db, sql: "SELECT name FROM lcdb_matrix ORDER BY name") {
                do {
                    try overDamaged(String.fetchOne(db, sql: """
                        SELECT c.name FROM lcdb_matrix m JOIN lcdb_collection c ON c.id = m.collection_id WHERE m.name = ?
                        """, arguments: [name]) ?? "")
                    let matrix = try Store.matrixRow(db, name: name, anyForm: true)
                    _ = try Store.blockLayouts(db, matrix, checkColumnStarts: true)
                    try Store.requireNoStrayRows(db, table: "lcdb_matrix_tile", owner: "matrix_id", id: matrix.id,
                                                 positions: matrix.collection.count, what: "matrix '\(name)'")
                } catch {
                    problems.append(IntegrityProblem(kind: "matrix", name: name, problem: "\(error)"))
                }
            }
            return problems
        }
    }

    /// Chunks or tiles at positions beyond the collection, or of parts the block does not have.
    private static func requireNoStrayRows(_ db: Database, table: String, owner: String, id: Int64,
                                           positions: Int, what: String) throws {
        let partClause = table == "lcdb_matrix_tile" ? """
             OR NOT EXISTS (SELECT 1 FROM lcdb_matrix_part p WHERE p.matrix_id = \(table).matrix_id
                            AND p.position = \(table).position AND p.part = \(table).part)
            """ : ""
        let stray = try Int.fetchOne(db, sql: """
            SELECT count(*) FROM \(table) WHERE \(owner) = ? AND (position < 0 OR position >= ?\(partClause))
            """, arguments: [id, positions]) ?? 0
        if stray > 0 {
            throw StoreError(.corrupt, "\(what) has \(stray) stored piece\(stray == 1 ? "" : "s") outside its collection's layers")
        }
    }
}
