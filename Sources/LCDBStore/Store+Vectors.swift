import GRDB
import LCDBCore

/// A row of the `vectors` view.
public struct VectorSummary: Equatable, Sendable {
    public let name: String
    public let collection: String
    public let dtype: DType
    public let numel: Int
}

extension Store {
    /// Sizes from the collections' layer definitions, not the stored numel.
    public func vectorSummaries() throws -> [VectorSummary] {
        try read { db in
            var numels: [String: Int] = [:]
            return try Row.fetchAll(db, sql: """
                SELECT v.name, c.name AS collection, v.dtype FROM lcdb_vector v
                JOIN lcdb_collection c ON c.id = v.collection_id ORDER BY v.name
                """).map { row in
                let collection: String = row["collection"]
                let numel = try numels[collection] ?? Store.loadCollection(db, name: collection).collection.numel
                numels[collection] = numel
                return VectorSummary(name: row["name"], collection: collection,
                                     dtype: DType(rawValue: row["dtype"]) ?? .float64, numel: numel)
            }
        }
    }

    /// Stores `vector` under `name`, over the stored collection `collectionName`,
    /// which must equal the vector's collection. With `replace`, an existing
    /// vector of that name is replaced in the same transaction.
    public func saveVector(_ name: String, over collectionName: String, _ vector: AnyParameterVector,
                           replace: Bool = false) throws {
        switch vector {
        case .float32(let values): try saveVector(name, over: collectionName, values, replace: replace)
        case .float64(let values): try saveVector(name, over: collectionName, values, replace: replace)
        }
    }

    private func saveVector<Scalar: BLASScalar>(_ name: String, over collectionName: String, _ vector: ParameterVector<Scalar>,
                                                replace: Bool) throws {
        try vector.values.withUnsafeBytes { bytes in
            try saveVectorChunks(name, over: collectionName, dtype: Scalar.dtype, replace: replace,
                                 check: { stored in
                                     if let difference = stored.firstDifference(from: vector.collection) {
                                         throw StoreError(.mismatch, "the vector is not over collection '\(collectionName)': \(difference)")
                                     }
                                 },
                                 chunk: { offset, _, _ in UnsafeRawPointer(bytes.baseAddress! + offset * MemoryLayout<Scalar>.size) })
        }
    }

    /// Loads a stored vector, in its stored dtype.
    public func vector(named name: String) throws -> AnyParameterVector {
        try read { db in
            let (id, collectionName, dtype) = try Store.vectorRow(db, name: name)
            let collection = try Store.loadCollection(db, name: collectionName).collection
            switch dtype {
            case .float32: return .float32(try readChunks(db, vectorID: id, name: name, collection))
            case .float64: return .float64(try readChunks(db, vectorID: id, name: name, collection))
            }
        }
    }

    /// A stored vector's dtype.
    public func dtype(ofVector name: String) throws -> DType {
        try read { db in try Store.vectorRow(db, name: name).dtype }
    }

    /// The collection name a stored vector is over.
    public func collectionName(ofVector name: String) throws -> String {
        try read { db in try Store.vectorRow(db, name: name).collection }
    }

    private func readChunks<Scalar: BLASScalar>(_ db: Database, vectorID: Int64, name: String,
                                                _ collection: LayerCollection) throws -> ParameterVector<Scalar> {
        try ParameterVector<Scalar>.requireMemory(over: collection, "vector '\(name)'")
        let chunks = try Store.chunkPlacements(db, vectorID: vectorID, name: name, collection, scalarSize: MemoryLayout<Scalar>.size)
        // Not zeroed first: the chunks cover every value (chunkPlacements checks).
        var values: [Scalar] = HugePages.array(count: collection.numel, zeroed: false)
        var blob: BlobHandle?
        try values.withUnsafeMutableBytes { bytes in
            // Chunks are in order, so the values fill the array front to back.
            try Prefault.whileFilling(bytes.baseAddress!, bytes: bytes.count) {
                for chunk in chunks {
                    let offset = (collection.offsets[chunk.position] + chunk.start) * MemoryLayout<Scalar>.size
                    try BlobHandle.reading(&blob, db, table: "lcdb_vector_chunk", rowID: chunk.rowID)
                        .read(into: bytes.baseAddress! + offset, count: chunk.count * MemoryLayout<Scalar>.size)
                }
            }
        }
        return try ParameterVector(collection: collection, values: values)
    }

    /// Where a vector's chunks lie, checked to cover every layer exactly once,
    /// in order, each blob the size its count says (without arithmetic that
    /// a damaged file's integers could overflow).
    static func chunkPlacements(_ db: Database, vectorID: Int64, name: String, _ collection: LayerCollection,
                                scalarSize: Int) throws -> [(rowID: Int64, position: Int, start: Int, count: Int)] {
        let rows = try Row.fetchAll(db, sql: """
            SELECT rowid, position, start, count, length(data) AS bytes FROM lcdb_vector_chunk
            WHERE vector_id = ? ORDER BY position, chunk
            """, arguments: [vectorID])
        var covered = [Int](repeating: 0, count: collection.count)
        var chunks: [(rowID: Int64, position: Int, start: Int, count: Int)] = []
        for row in rows {
            let position: Int = row["position"], start: Int = row["start"], count: Int = row["count"], bytes: Int = row["bytes"]
            guard position >= 0, position < collection.count, start == covered[position], count > 0,
                  count <= collection.range(at: position).count - start else {
                throw StoreError(.corrupt, "vector '\(name)' has a chunk that does not fit its collection (layer position \(position), elements \(start) + \(count))")
            }
            guard bytes == count * scalarSize else {
                throw StoreError(.corrupt, "vector '\(name)': a chunk of layer '\(collection.names[position])' holds \(bytes) bytes, not the \(count * scalarSize) its \(count) values need")
            }
            chunks.append((row["rowid"], position, start, count))
            covered[position] += count
        }
        for (position, entry) in collection.entries.enumerated() where covered[position] != entry.layer.numel {
            throw StoreError(.corrupt, "vector '\(name)' is missing values of layer '\(entry.name)'")
        }
        return chunks
    }

    public func dropVector(_ name: String) throws { try dropObject(.vector, name) }

    public func renameVector(_ name: String, to newName: String) throws { try renameObject(.vector, name, to: newName) }

    static func vectorRow(_ db: Database, name: String) throws -> (id: Int64, collection: String, dtype: DType) {
        guard let row = try Row.fetchOne(db, sql: """
            SELECT v.id, c.name AS collection, v.dtype FROM lcdb_vector v JOIN lcdb_collection c ON c.id = v.collection_id
            WHERE v.name = ?
            """, arguments: [name]) else {
            throw try unknown(.vector, name, db)
        }
        guard let dtype = DType(rawValue: row["dtype"]) else {
            throw StoreError(.corrupt, "vector '\(name)' has an unknown dtype")
        }
        return (row["id"], row["collection"], dtype)
    }
}
