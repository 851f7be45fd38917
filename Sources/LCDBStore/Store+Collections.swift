import Foundation
import GRDB
import LCDBCore

/// A row of the `collections` view.
public struct CollectionSummary: Equatable, Sendable {
    public let name: String
    public let layerCount: Int
    public let numel: Int
}

/// The objects that use a collection.
public struct Dependents: Equatable, Sendable {
    public let vectors: [String]
    public let matrices: [String]
    public var isEmpty: Bool { vectors.isEmpty && matrices.isEmpty }
    public var description: String {
        (vectors.map { "vector '\($0)'" } + matrices.map { "matrix '\($0)'" }).joined(separator: ", ")
    }
}

extension Store {
    /// Counts from the layer definitions (a damaged stored numel is an
    /// error naming the layer, never believed).
    public func collectionSummaries() throws -> [CollectionSummary] {
        try read { db in
            try String.fetchAll(db, sql: "SELECT name FROM lcdb_collection ORDER BY name").map { name in
                let collection = try Store.loadCollection(db, name: name).collection
                return CollectionSummary(name: name, layerCount: collection.count, numel: collection.numel)
            }
        }
    }

    public func collectionNames() throws -> [String] {
        try read { db in try String.fetchAll(db, sql: "SELECT name FROM lcdb_collection ORDER BY name") }
    }

    public func collection(named name: String) throws -> LayerCollection {
        try read { db in try Store.loadCollection(db, name: name).collection }
    }

    /// Stores a new collection; the name must be free.
    public func createCollection(_ name: String, _ collection: LayerCollection) throws {
        try write { db in try Store.insertCollection(db, name: name, collection) }
    }

    /// Replaces the layers of a collection (add, remove or rename layers).
    /// Refused while vectors or matrices use it, unless only names change.
    public func replaceCollection(_ name: String, with collection: LayerCollection) throws {
        try write { db in
            let (id, old) = try Store.loadCollection(db, name: name)
            let dependents = try Store.dependents(db, collectionID: id)
            if !dependents.isEmpty && !old.isShapeCompatibleRenaming(collection) {
                throw StoreError(.inUse, "collection '\(name)' is used by \(dependents.description): changing its layers would invalidate them; drop them or change a copy")
            }
            try db.execute(sql: "DELETE FROM lcdb_layer WHERE collection_id = ?", arguments: [id])
            try Store.insertLayers(db, collectionID: id, collection)
        }
    }

    /// Deletes a collection; with `cascade`, also the vectors and matrices over it.
    public func dropCollection(_ name: String, cascade: Bool = false) throws {
        try write { db in
            let id = try Store.collectionID(db, name: name)
            let dependents = try Store.dependents(db, collectionID: id)
            if !dependents.isEmpty {
                guard cascade else {
                    throw StoreError(.inUse, "collection '\(name)' is used by \(dependents.description); drop them first or use cascade")
                }
                try db.execute(sql: "DELETE FROM lcdb_vector WHERE collection_id = ?", arguments: [id])
                try db.execute(sql: "DELETE FROM lcdb_matrix WHERE collection_id = ?", arguments: [id])
            }
            try db.execute(sql: "DELETE FROM lcdb_collection WHERE id = ?", arguments: [id])
        }
    }

    public func renameCollection(_ name: String, to newName: String) throws { try renameObject(.collection, name, to: newName) }

    /// The vectors and matrices over a collection.
    public func dependents(of name: String) throws -> Dependents {
        try read { db in try Store.dependents(db, collectionID: try Store.collectionID(db, name: name)) }
    }

    // MARK: - Inside transactions

    static func collectionID(_ db: Database, name: String) throws -> Int64 {
        if let id = try Int64.fetchOne(db, sql: "SELECT id FROM lcdb_collection WHERE name = ?", arguments: [name]) {
            return id
        }
        throw try unknown(.collection, name, db)
    }

    static func requireFreeName(_ db: Database, table: String, what: String, _ name: String) throws {
        guard !name.isEmpty else { throw StoreError(.mismatch, "a \(what) name cannot be empty") }
        guard !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw StoreError(.mismatch, "\(what) name \(name.debugDescription) contains a control character")
        }
        if try Bool.fetchOne(db, sql: "SELECT 1 FROM \(table) WHERE name = ?", arguments: [name]) == true {
            throw StoreError(.duplicateName, "\(what) '\(name)' already exists")
        }
        try requireNoOtherKind(db, table: table, name)
    }

    /// Collections, vectors and matrices share one namespace, so a name in an
    /// expression always means one object (a vector named like a collection
    /// made the collection unreachable by `show`).
    static func requireNoOtherKind(_ db: Database, table: String, _ name: String) throws {
        for kind in [StoredKind.collection, .vector, .matrix] where kind.table != table {
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM \(kind.table) WHERE name = ?", arguments: [name]) == true {
                throw StoreError(.duplicateName, "'\(name)' is already a \(kind.rawValue) (collections, vectors and matrices share one namespace); drop or rename it, or choose another name")
            }
        }
    }

    static func insertCollection(_ db: Database, name: String, _ collection: LayerCollection) throws {
        try requireFreeName(db, table: "lcdb_collection", what: "collection", name)
        try db.execute(sql: "INSERT INTO lcdb_collection (name) VALUES (?)", arguments: [name])
        try insertLayers(db, collectionID: db.lastInsertedRowID, collection)
    }

    static func insertLayers(_ db: Database, collectionID: Int64, _ collection: LayerCollection) throws {
        let statement = try db.cachedStatement(sql: """
            INSERT INTO lcdb_layer (collection_id, position, name, kind, hyperparameters, weight_shape, bias_shape, numel, param_offset)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        for (position, entry) in collection.entries.enumerated() {
            let layer = entry.layer
            try statement.execute(arguments: [
                collectionID, position, entry.name, layer.kind.rawValue, layer.hyperparametersJSON,
                HyperparameterValue.shape(layer.weightShape).json, layer.biasShape.map { HyperparameterValue.shape($0).json },
                layer.numel, collection.offsets[position],
            ])
        }
    }

    /// Rebuilds a collection from its rows, checking the stored derived
    /// columns against what the layer definitions imply.
    static func loadCollection(_ db: Database, name: String) throws -> (id: Int64, collection: LayerCollection) {
        let id = try collectionID(db, name: name)
        var collection = LayerCollection()
        let rows = try Row.fetchAll(db, sql: """
            SELECT name, kind, hyperparameters, numel, param_offset FROM lcdb_layer
            WHERE collection_id = ? ORDER BY position
            """, arguments: [id])
        for row in rows {
            let layerName: String = row["name"]
            let kindName: String = row["kind"]
            func damaged(_ what: String) -> StoreError {
                StoreError(.corrupt, "layer '\(layerName)' of collection '\(name)' is damaged in the database: \(what); `check` lists every damaged object")
            }
            guard let kind = LayerKind(named: kindName) else { throw damaged("unknown kind '\(kindName)'") }
            let keywords = try HyperparameterJSON.decode(row["hyperparameters"])
            let layer: Layer
            do { layer = try Layer(kind, [], keywords: keywords) } catch { throw damaged("\(error)") }
            try collection.append(layerName, layer)
            let numel: Int = row["numel"], offset: Int = row["param_offset"]
            guard numel == layer.numel else {
                throw damaged("its numel is stored as \(numel) but its definition (\(layer)) has \(layer.numel) parameters")
            }
            guard offset == collection.offsets.last else {
                throw damaged("its param_offset is stored as \(offset) but the layers before it hold \(collection.offsets.last ?? 0) parameters")
            }
        }
        return (id, collection)
    }

    static func dependents(_ db: Database, collectionID: Int64) throws -> Dependents {
        Dependents(
            vectors: try String.fetchAll(db, sql: "SELECT name FROM lcdb_vector WHERE collection_id = ? ORDER BY name", arguments: [collectionID]),
            matrices: try String.fetchAll(db, sql: "SELECT name FROM lcdb_matrix WHERE collection_id = ? ORDER BY name", arguments: [collectionID]))
    }
}

extension LayerCollection {
    /// Same layers in the same order, names aside: stored data stays valid.
    func isShapeCompatibleRenaming(_ other: LayerCollection) -> Bool {
        count == other.count && zip(entries, other.entries).allSatisfy { $0.layer == $1.layer }
    }
}
