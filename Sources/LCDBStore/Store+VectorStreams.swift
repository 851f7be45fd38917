import GRDB
import LCDBCore

/// Some consecutive values of a stored vector, as stored (its dtype's bytes,
/// little-endian), valid only inside the call that receives them.
public struct VectorPiece {
    /// The layer's position in the collection.
    public let position: Int
    /// The first value's index within the layer.
    public let start: Int
    /// The first value's index in the whole vector (the flattening order).
    public let offset: Int
    public let count: Int
    public let dtype: DType
    public let bytes: UnsafeRawBufferPointer

    /// Passes the values where they lie, as Doubles or as Floats.
    public func withValues<R>(doubles: (UnsafeBufferPointer<Double>) throws -> R,
                              floats: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        switch dtype {
        case .float64: try doubles(UnsafeBufferPointer(start: bytes.baseAddress!.assumingMemoryBound(to: Double.self), count: count))
        case .float32: try floats(UnsafeBufferPointer(start: bytes.baseAddress!.assumingMemoryBound(to: Float.self), count: count))
        }
    }

    /// Passes the values as Doubles: float64 ones where they lie, float32
    /// ones widened (exact) into `scratch`, which grows as needed.
    public func withDoubles<R>(_ scratch: inout [Double], _ body: (UnsafeBufferPointer<Double>) throws -> R) rethrows -> R {
        if dtype == .float64 {
            return try body(UnsafeBufferPointer(start: bytes.baseAddress!.assumingMemoryBound(to: Double.self), count: count))
        }
        if scratch.count < count { scratch = [Double](repeating: 0, count: count) }
        return try scratch.withUnsafeMutableBufferPointer { target in
            let source = bytes.baseAddress!.assumingMemoryBound(to: Float.self)
            for index in 0 ..< count { target[index] = Double(source[index]) }
            return try body(UnsafeBufferPointer(rebasing: target[0 ..< count]))
        }
    }
}

/// Stored vectors streamed a chunk at a time, so that a vector larger than
/// memory (a 7B-parameter model's gradient is 28 GB in float32) can be
/// imported, exported, copied, hashed and reduced: memory holds one chunk
/// (`tileBytes`, 4 MB), never the vector.
extension Store {
    /// Calls `body` with the vector's values in order, a stored chunk at a
    /// time, read into one reused buffer; only those of flat indices
    /// `elements` when given (chunks outside it are not read). Returns the
    /// vector's collection and dtype.
    @discardableResult
    public func forEachVectorPiece(named name: String, elements: Range<Int>? = nil,
                                   _ body: (VectorPiece) throws -> Void) throws -> (collection: LayerCollection, dtype: DType) {
        try read { db in
            let (id, collectionName, dtype) = try Store.vectorRow(db, name: name)
            let collection = try Store.loadCollection(db, name: collectionName).collection
            let scalarSize = dtype == .float64 ? 8 : 4
            let chunks = try Store.chunkPlacements(db, vectorID: id, name: name, collection, scalarSize: scalarSize)
            let largest = chunks.map(\.count).max() ?? 0
            try MemoryBudget.require(Double(largest * scalarSize), for: "a chunk of vector '\(name)'")
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, largest * scalarSize), alignment: 64)
            defer { buffer.deallocate() }
            var blob: BlobHandle?
            for chunk in chunks {
                try Interruption.check()
                let offset = collection.offsets[chunk.position] + chunk.start
                var wanted = offset ..< offset + chunk.count
                if let elements {
                    guard wanted.overlaps(elements) else { continue }
                    wanted = wanted.clamped(to: elements)
                }
                let byteCount = wanted.count * scalarSize
                try BlobHandle.reading(&blob, db, table: "lcdb_vector_chunk", rowID: chunk.rowID)
                    .read(into: buffer.baseAddress!, count: byteCount, offset: (wanted.lowerBound - offset) * scalarSize)
                try body(VectorPiece(position: chunk.position, start: chunk.start + wanted.lowerBound - offset,
                                     offset: wanted.lowerBound, count: wanted.count,
                                     dtype: dtype, bytes: UnsafeRawBufferPointer(rebasing: buffer[0 ..< byteCount])))
            }
            return (collection, dtype)
        }
    }

    /// Stores a vector over the stored collection `collectionName` whose
    /// values `fill(offset, count, target)` writes a chunk at a time (`count`
    /// values of `dtype` from flattened index `offset`, in order), in one
    /// transaction: memory holds one chunk. With `replace`, an existing
    /// vector of that name is replaced.
    public func saveVector(_ name: String, over collectionName: String, dtype: DType, replace: Bool = false,
                           filling fill: (_ offset: Int, _ count: Int, _ target: UnsafeMutableRawPointer) throws -> Void) throws {
        try saveVectorChunks(name, over: collectionName, dtype: dtype, replace: replace, check: { _ in }) { offset, count, buffer in
            try fill(offset, count, buffer)
            return UnsafeRawPointer(buffer)
        }
    }

    /// The one way a vector is stored, in one transaction: its row, then its
    /// chunks in order (`tileBytes` each, per layer). `check` sees the stored
    /// collection first; `chunk(offset, count, buffer)` gives where the
    /// chunk's bytes are: `buffer` filled (streamed), or memory of its own
    /// (a vector in memory, inserted without a copy).
    func saveVectorChunks(_ name: String, over collectionName: String, dtype: DType, replace: Bool,
                          check: (LayerCollection) throws -> Void,
                          chunk: (_ offset: Int, _ count: Int, _ buffer: UnsafeMutableRawPointer) throws -> UnsafeRawPointer) throws {
        try write { db in
            let (collectionID, collection) = try Store.loadCollection(db, name: collectionName)
            try check(collection)
            if replace { try db.execute(sql: "DELETE FROM lcdb_vector WHERE name = ?", arguments: [name]) }
            try Store.requireFreeName(db, table: "lcdb_vector", what: "vector", name)
            try db.execute(sql: "INSERT INTO lcdb_vector (name, collection_id, dtype) VALUES (?, ?, ?)",
                           arguments: [name, collectionID, dtype.rawValue])
            let vectorID = db.lastInsertedRowID
            let scalarSize = dtype == .float64 ? 8 : 4
            let chunkLength = max(1, tileBytes / scalarSize)
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkLength * scalarSize, alignment: 64)
            defer { buffer.deallocate() }
            let insert = try TileInsert(db, sql: """
                INSERT INTO lcdb_vector_chunk (vector_id, position, chunk, start, count, data) VALUES (?, ?, ?, ?, ?, ?)
                """)
            for position in collection.entries.indices {
                let range = collection.range(at: position)
                for (index, start) in stride(from: 0, to: range.count, by: chunkLength).enumerated() {
                    try Interruption.check()
                    let count = min(chunkLength, range.count - start)
                    let bytes = try chunk(range.lowerBound + start, count, buffer.baseAddress!)
                    try insert.run([vectorID, Int64(position), Int64(index), Int64(start), Int64(count)],
                                   blob: bytes, byteCount: count * scalarSize)
                }
            }
        }
    }

    /// Copies a vector and its chunks under a new name, inside SQLite.
    public func copyVector(_ name: String, to newName: String) throws {
        try write { db in
            let (id, collectionName, dtype) = try Store.vectorRow(db, name: name)
            // A damaged vector is not copied: its chunks are checked first (sizes only).
            let collection = try Store.loadCollection(db, name: collectionName).collection
            _ = try Store.chunkPlacements(db, vectorID: id, name: name, collection, scalarSize: dtype == .float64 ? 8 : 4)
            try Store.requireFreeName(db, table: "lcdb_vector", what: "vector", newName)
            try db.execute(sql: "INSERT INTO lcdb_vector (name, collection_id, dtype) SELECT ?, collection_id, dtype FROM lcdb_vector WHERE id = ?",
                           arguments: [newName, id])
            try db.execute(sql: """
                INSERT INTO lcdb_vector_chunk (vector_id, position, chunk, start, count, data)
                SELECT ?, position, chunk, start, count, data FROM lcdb_vector_chunk WHERE vector_id = ?
                """, arguments: [db.lastInsertedRowID, id])
        }
    }
}
