import Foundation
import GRDB
import LCDBCore

extension Store {
    /// The content hash of a stored collection, vector or matrix: SHA-256 of
    /// a byte stream that depends on the content alone (not on tiles, chunks,
    /// layouts or the file), so identical content in any two files has the
    /// same hash, and Python's hashlib gives it from the documented stream:
    ///
    /// - a collection: the text `lcdb collection 1\n`, then one line per
    ///   layer, `NAME DEFINITION\n` (e.g. `fc1 Linear(3, 2)`);
    /// - a vector or matrix: the text `lcdb vector 1\n` or `lcdb matrix 1\n`,
    ///   then `dtype D\n` (`float32` or `float64`), then the layer lines, then
    ///   an empty line;
    /// - then a vector's values in lcdb's flattening, as little-endian float64
    ///   (float32 values converted exactly);
    /// - or, for a matrix, for each block in layer order, `block FORM\n`, then
    ///   each of its parts in name order, `part NAME SHAPE\n` (SHAPE as in the
    ///   `matrix_parts` view, e.g. `[3, 3]`) and all its values row-major as
    ///   little-endian float64 (a part kept as one triangle is mirrored whole).
    ///
    /// A hash kept from an earlier statement (`lcdb_content_hash`) is returned
    /// without reading the object again. Parts are read in bands of rows, so
    /// a block larger than memory is hashed too.
    public func contentHash(of name: String) throws -> String {
        try snapshot {
            guard let kind = try read({ db in try Store.objectKind(db, name) }) else {
                throw StoreError(.unknownName, "no collection, vector or matrix '\(name)' to checksum")
            }
            return try contentHash(kind, name, keep: false)
        }
    }

    /// `inputs` with their content hashes, computed now for those not kept
    /// yet and kept for later statements. Called inside the statement's write,
    /// before its result replaces any of them (`let x = 2 * x`).
    public func withContentHashes(_ inputs: [ObjectIdentity]) throws -> [ObjectIdentity] {
        try write { _ in
            try inputs.map { input in
                guard let kind = StoredKind(rawValue: input.kind) else { return input }
                var hashed = input
                hashed.contentHash = try contentHash(kind, input.name, keep: true)
                return hashed
            }
        }
    }

    /// Runs inside a read or write (the reads below share its transaction).
    private func contentHash(_ kind: StoredKind, _ name: String, keep: Bool) throws -> String {
        if kind == .collection {
            var hash = SHA256()
            hash.update("lcdb collection 1\n" + Store.layerLines(try collection(named: name)))
            return hash.finalize()
        }
        let id = try read { db in
            guard let id = try Int64.fetchOne(db, sql: "SELECT id FROM \(kind.table) WHERE name = ?", arguments: [name]) else {
                throw try Store.unknown(kind, name, db)
            }
            return id
        }
        if let kept = try read({ db in
            try String.fetchOne(db, sql: "SELECT sha256 FROM lcdb_content_hash WHERE object_kind = ? AND object_id = ?",
                                arguments: [kind.rawValue, id])
        }) {
            return kept
        }
        var hash = SHA256()
        if kind == .vector {
            // Chunk by chunk (any size of vector), each widened to float64:
            // the same bytes as hashing the whole vector as float64.
            let (_, collectionName, dtype) = try read { db in try Store.vectorRow(db, name: name) }
            hash.update(Store.checksumHeader("vector", dtype, try collection(named: collectionName)))
            var widened: [Double] = []
            try forEachVectorPiece(named: name) { piece in piece.withDoubles(&widened) { hash.update(UnsafeRawBufferPointer($0)) } }
        } else {
            try read { db in
                let matrix = try Store.matrixRow(db, name: name, anyForm: true)
                hash.update(Store.checksumHeader("matrix", matrix.dtype, matrix.collection))
                for block in try Store.blockLayouts(db, matrix) {
                    hash.update("block \(block.form.rawValue)\n")
                    for part in block.parts.sorted(by: { $0.name < $1.name }) {
                        let shape = "[" + part.shape.map(String.init).joined(separator: ", ") + "]"
                        hash.update("part \(part.name) \(shape)\n")
                        try Store.forEachRowBand(of: part, dtype: matrix.dtype) { band in hash.update(UnsafeRawBufferPointer(band)) }
                    }
                }
            }
        }
        let digest = hash.finalize()
        if keep {
            try write { db in
                try db.execute(sql: "INSERT OR REPLACE INTO lcdb_content_hash (object_kind, object_id, sha256) VALUES (?, ?, ?)",
                               arguments: [kind.rawValue, id, digest])
            }
        }
        return digest
    }

    static func checksumHeader(_ kind: String, _ dtype: DType, _ collection: LayerCollection) -> String {
        "lcdb \(kind) 1\ndtype \(dtype.rawValue)\n" + layerLines(collection) + "\n"
    }

    private static func layerLines(_ collection: LayerCollection) -> String {
        collection.entries.map { "\($0.name) \($0.layer.description)\n" }.joined()
    }

    /// How many bytes of float64 rows one band holds at most: large, since a
    /// part kept as one triangle re-reads the tiles above each band.
    /// (LCDB_ROW_BAND_BYTES sets it: a knob for tests of many small bands.)
    static let rowBandBytes = ProcessInfo.processInfo.environment["LCDB_ROW_BAND_BYTES"].flatMap(Int.init) ?? 512 << 20

    /// Calls `body` with consecutive bands of whole rows of `part`, row-major
    /// in float64 (a part kept as one triangle mirrored), each band at most
    /// `bandBytes` (and at least one row), so that any part is streamed in
    /// bounded memory.
    static func forEachRowBand(of part: StoredPart, dtype: DType, bandBytes: Int = rowBandBytes,
                               _ body: (UnsafeBufferPointer<Double>) throws -> Void) throws {
        switch dtype {
        case .float64: try forEachRowBand(of: part, Double.self, bandBytes: bandBytes, body)
        case .float32: try forEachRowBand(of: part, Float.self, bandBytes: bandBytes, body)
        }
    }

    private static func forEachRowBand<Scalar: BLASScalar>(of part: StoredPart, _: Scalar.Type, bandBytes: Int,
                                                           _ body: (UnsafeBufferPointer<Double>) throws -> Void) throws {
        let columns = part.columns, upper = part.layout == .upper
        guard part.rows > 0, columns > 0 else { return }
        let bandRows = Swift.max(1, Swift.min(part.rows, bandBytes / (columns * 8)))
        try MemoryBudget.require(Double(bandRows) * Double(columns) * 8, for: "a band of \(bandRows) rows of part '\(part.name)'")
        var band = [Double](repeating: 0, count: bandRows * columns)
        var tileValues: [Scalar] = []
        var start = 0
        while start < part.rows {
            let end = Swift.min(part.rows, start + bandRows)
            try band.withUnsafeMutableBufferPointer { band in
                // A `full` band needs the tiles holding its rows; an `upper` one
                // also every tile above, whose columns in the band mirror into it.
                for tile in part.reader.tiles where tile.rows.lowerBound < end && (upper || tile.rows.upperBound > start) {
                    try Interruption.check()
                    let count = tile.rows.count * tile.columns.count
                    if tileValues.count < count { tileValues = [Scalar](repeating: 0, count: count) }
                    try tileValues.withUnsafeMutableBufferPointer { values in
                        try part.reader.read(tile, into: values.baseAddress!)
                        let first = tile.columns.lowerBound
                        for row in tile.rows {
                            let source = values.baseAddress! + (row - tile.rows.lowerBound) * tile.columns.count - first
                            if row >= start, row < end {
                                // An upper tile's row holds meaningful values from the diagonal on.
                                for column in (upper ? row : first) ..< columns {
                                    band[(row - start) * columns + column] = Double(source[column])
                                }
                            }
                            if upper, Swift.max(row + 1, start) < end {
                                for mirrored in Swift.max(row + 1, start) ..< end {
                                    band[(mirrored - start) * columns + row] = Double(source[mirrored])
                                }
                            }
                        }
                    }
                }
                try body(UnsafeBufferPointer(rebasing: band[0 ..< (end - start) * columns]))
            }
            start = end
        }
    }
}
