import GRDB
import LCDBCore

/// Products and reductions on stored block-diagonal matrices, read tile by
/// tile: memory holds one tile (plus the vectors) for mv, vTMv, trace,
/// diagonal and norms, and one block for solve, inverse and mm. Results are in
/// the matrix's dtype (a vector of the other dtype is converted first).
/// Same LAPACK routes and tolerances as the in-memory `BlockDiagonalMatrix`.
extension Store {
    /// M x, streamed.
    public func product(_ matrixName: String, _ vector: AnyParameterVector,
                        matching: LayerMatching = .identical) throws -> AnyParameterVector {
        try withStoredMatrix(matrixName) { db, matrix in
            switch matrix.dtype {
            case .float32: .float32(try streamedProduct(db, matrix, vector.typed(Float.self), matching, "mv"))
            case .float64: .float64(try streamedProduct(db, matrix, vector.typed(Double.self), matching, "mv"))
            }
        }
    }

    /// xᵀ M x, streamed.
    public func quadraticForm(_ matrixName: String, _ vector: AnyParameterVector,
                              matching: LayerMatching = .identical) throws -> Double {
        try withStoredMatrix(matrixName) { db, matrix in
            func form<Scalar: BLASScalar>(_ x: ParameterVector<Scalar>) throws -> Double {
                let mx = try streamedProduct(db, matrix, x, matching, "vTMv")
                return try mx.dot(x.restricted(to: mx.collection))
            }
            return matrix.dtype == .float32 ? try form(vector.typed(Float.self)) : try form(vector.typed(Double.self))
        }
    }

    /// Reads the tiles on this thread while a second one multiplies the tile
    /// read before (`TileReadAhead`).
    private func streamedProduct<Scalar: BLASScalar>(_ db: Database, _ matrix: StoredMatrix, _ x: ParameterVector<Scalar>,
                                                     _ matching: LayerMatching, _ what: String) throws -> ParameterVector<Scalar> {
        let (collection, positions) = try Store.align(matrix, with: x.collection, matching, what)
        let x = try x.restricted(to: collection)
        let readers = try positions.map { try TileReader(db, matrix, position: $0) }
        // One job per tile: which reader (block), which tile, where its x and y start.
        let jobs = readers.enumerated().flatMap { index, reader in
            reader.tiles.map { (block: index, tile: $0, offset: collection.offsets[index],
                                side: collection.entries[index].layer.numel) }
        }
        let capacity = jobs.map { $0.tile.rows.count * $0.tile.columns.count }.max() ?? 0
        let report = progressFactory?("\(what) with \(matrix.name)")
        let totalRows = collection.numel
        var rowsDone = 0
        let layout = matrix.layout
        let output = UnsafeMutablePointer<Scalar>.allocate(capacity: max(1, collection.numel))
        defer { output.deallocate() }
        UnsafeMutableRawPointer(output).initializeMemory(as: UInt8.self, repeating: 0, count: collection.numel * MemoryLayout<Scalar>.size)
        try x.values.withUnsafeBufferPointer { input in
            let (xs, ys) = (SendablePointer(pointer: UnsafeMutablePointer(mutating: input.baseAddress!)), SendablePointer(pointer: output))
            let placements = jobs.map { (tile: $0.tile, offset: $0.offset, side: $0.side) }
            try TileReadAhead.run(count: jobs.count, capacity: capacity, read: { (index: Int, buffer: UnsafeMutablePointer<Scalar>) in
                try Interruption.check()
                try readers[jobs[index].block].read(jobs[index].tile, into: buffer)
                rowsDone += jobs[index].tile.rows.count
                report?(rowsDone, totalRows)
            }, work: { index, values in
                let job = placements[index]
                let tile = StoredTile(rows: job.tile.rows, columns: job.tile.columns, values: values, layout: layout)
                Store.accumulateProduct(tile, side: job.side, xs.pointer + job.offset, into: ys.pointer + job.offset)
            })
        }
        return try ParameterVector(collection: collection, values: Array(UnsafeBufferPointer(start: output, count: collection.numel)))
    }

    /// y += (the tile's part of the block) x, for one block's x and y. A full
    /// tile gives its rows; an upper one (rows r0 ..< r1, columns r0 ..< side)
    /// gives its rows and, through its part right of the diagonal square
    /// read transposed, the entries of rows r1 ..< side left of the diagonal.
    static func accumulateProduct<Scalar: BLASScalar>(_ tile: StoredTile<Scalar>, side: Int,
                                                      _ x: UnsafePointer<Scalar>, into y: UnsafeMutablePointer<Scalar>) {
        let rows = tile.rows, width = Int32(tile.width)
        Scalar.gemv(transposed: false, rows: Int32(rows.count), columns: width, leadingDimension: width, alpha: 1,
                    tile.values, x + tile.columns.lowerBound, beta: 1, y + rows.lowerBound)
        let right = side - rows.upperBound
        guard tile.layout == .upper, right > 0 else { return }
        Scalar.gemv(transposed: true, rows: Int32(rows.count), columns: Int32(right), leadingDimension: width, alpha: 1,
                    tile.values + rows.count, x + rows.lowerBound, beta: 1, y + rows.upperBound)
    }

    /// The stored matrix's collection, or the common layers with `other`,
    /// and the matrix positions of those layers.
    static func align(_ matrix: StoredMatrix, with other: LayerCollection, _ matching: LayerMatching,
                      _ what: String) throws -> (LayerCollection, [Int]) {
        switch matching {
        case .identical:
            try matrix.collection.requireEqual(to: other, for: what)
            return (matrix.collection, Array(matrix.collection.entries.indices))
        case .common:
            let common = try matrix.collection.requireCommonLayers(with: other, for: what)
            return (common, common.names.compactMap { matrix.collection.position(of: $0) })
        }
    }

    /// Sum of the diagonal, streamed: each tile is read once and only its
    /// diagonal entries kept (a row is smaller than a 64 KiB page, so reading
    /// single entries would read the same pages).
    public func trace(_ matrixName: String) throws -> Double {
        try withStoredMatrix(matrixName) { db, matrix in
            try blockStatistics(db, matrix).reduce(0) { $0 + $1.diagonal.reduce(0, +) }
        }
    }

    /// The diagonal as a vector over the matrix's collection.
    public func diagonal(_ matrixName: String) throws -> AnyParameterVector {
        try withStoredMatrix(matrixName) { db, matrix in
            let values = try blockStatistics(db, matrix).flatMap(\.diagonal)
            let vector = try ParameterVector<Double>(collection: matrix.collection, values: values)
            return AnyParameterVector(vector).converted(to: matrix.dtype)
        }
    }

    /// sqrt of the sum of squares of all entries, streamed.
    public func frobeniusNorm(_ matrixName: String) throws -> Double {
        try withStoredMatrix(matrixName) { db, matrix in
            Norms.combined(try blockStatistics(db, matrix).map { ($0.frobenius, 1) })
        }
    }

    /// Each block's trace and Frobenius norm, streamed (what `show` prints).
    public func blockSummaries(_ matrixName: String) throws -> [(trace: Double, frobenius: Double)] {
        try withStoredMatrix(matrixName) { db, matrix in
            try blockStatistics(db, matrix).map { ($0.diagonal.reduce(0, +), $0.frobenius) }
        }
    }

    /// One pass over every tile: each block's diagonal, and its Frobenius
    /// norm (`nrm2` per tile, or per row segment of an upper tile, whose part
    /// right of the diagonal square stands for two entries each).
    private func blockStatistics(_ db: Database, _ matrix: StoredMatrix) throws -> [(diagonal: [Double], frobenius: Double)] {
        func collect<Scalar: BLASScalar>(_: Scalar.Type) throws -> [(diagonal: [Double], frobenius: Double)] {
            var buffer: [Scalar] = []
            return try matrix.collection.entries.indices.map { position in
                try Interruption.check()
                var diagonal: [Double] = []
                var norms: [(norm: Double, weight: Double)] = []
                try forEachTile(db, matrix, position: position, buffer: &buffer) { tile in
                    for row in tile.rows { diagonal.append(Double(tile[row, row])) }
                    guard tile.layout == .upper else {
                        norms.append((Scalar.nrm2(count: tile.rows.count * tile.width, tile.values), 1))
                        return
                    }
                    let square = tile.rows.count
                    for index in 0 ..< square {
                        let row = tile.values + index * tile.width
                        norms.append((Scalar.nrm2(count: square, row), 1))
                        norms.append((Scalar.nrm2(count: tile.width - square, row + square), 2))
                    }
                }
                return (diagonal, Norms.combined(norms))
            }
        }
        return matrix.dtype == .float32 ? try collect(Float.self) : try collect(Double.self)
    }

    /// (M + regularization I)^-1 x, one block in memory at a time.
    public func solve(_ matrixName: String, _ vector: AnyParameterVector, regularization: Double = 0,
                      matching: LayerMatching = .identical) throws -> AnyParameterVector {
        try withStoredMatrix(matrixName) { db, matrix in
            func run<Scalar: BLASScalar>(_ x: ParameterVector<Scalar>) throws -> ParameterVector<Scalar> {
                let (collection, positions) = try Store.align(matrix, with: x.collection, matching, "solve")
                var parts: [Scalar] = []
                parts.reserveCapacity(collection.numel)
                let x = try x.restricted(to: collection)
                for (index, position) in positions.enumerated() {
                    try Interruption.check()
                    let single = try LayerCollection([(collection.entries[index].name, collection.entries[index].layer)])
                    let block = try BlockDiagonalMatrix<Scalar>(collection: single, blocks: [try readBlock(db, matrix, position: position)])
                    let piece = try ParameterVector(collection: single, values: Array(x.values[collection.range(at: index)]))
                    parts += try block.solve(piece, regularization: Scalar(regularization)).values
                }
                return try ParameterVector(collection: collection, values: parts)
            }
            return matrix.dtype == .float32 ? .float32(try run(vector.typed(Float.self))) : .float64(try run(vector.typed(Double.self)))
        }
    }

    func withStoredMatrix<T>(_ name: String, _ body: (Database, StoredMatrix) throws -> T) throws -> T {
        try read { db in try body(db, try Store.matrixRow(db, name: name)) }
    }
}
