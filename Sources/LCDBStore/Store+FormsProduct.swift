import Dispatch
import GRDB
import LCDBCore

extension Store {
    /// M x for a stored matrix in forms, a block at a time. This thread (the
    /// only one that calls SQLite) reads blocks, largest product first, into
    /// reused buffers and queues each for `cores` workers that multiply
    /// with OpenBLAS single-threaded (`BlockForm.product(parts:...)`),
    /// staying up to two blocks ahead of them: reading and arithmetic
    /// overlap without the stalls of two OpenBLAS threads waiting on each
    /// other while a third thread reads (that cost GPT-2's KFAC a third of
    /// its time). A block whose product is more than a core's share runs
    /// alone first, with OpenBLAS's threads. At most `cores + 2` blocks and
    /// one light block are in memory, in buffers that are never freed
    /// between blocks (fresh memory costs a kernel page fault per 4 KB).
    public func formsProduct(_ name: String, _ x: ParameterVector<Double>) throws -> ParameterVector<Double> {
        try read { db in
            let matrix = try Store.matrixRow(db, name: name, anyForm: true)
            guard matrix.collection == x.collection else {
                throw StoreError(.mismatch, "mv: the vector is not over the collection of matrix '\(name)'")
            }
            return try x.values.withUnsafeBufferPointer { input in
                try ParameterVector(collection: matrix.collection,
                                    values: try formsProduct(db, matrix, input: .inMemory(SendablePointer(pointer: UnsafeMutablePointer(mutating: input.baseAddress!)))).values)
            }
        }
    }

    /// M x with `x` a stored vector over the same collection, read a layer
    /// at a time beside the blocks (each layer's values just before its
    /// block is handed out) instead of whole before the first product:
    /// GPT-2's 1 GB gradient took 0.75 s to read while both cores waited.
    /// Returns the product and the vector's stored dtype; nil when the
    /// vector is not over the matrix's collection (the caller aligns them).
    public func formsProduct(_ name: String, vectorNamed vectorName: String) throws -> (product: ParameterVector<Double>, dtype: DType)? {
        try read { db in
            let matrix = try Store.matrixRow(db, name: name, anyForm: true)
            guard let (input, dtype) = try Store.storedInput(db, matrix, vectorNamed: vectorName) else { return nil }
            try ParameterVector<Double>.requireMemory(over: matrix.collection, copies: 1, "mv of '\(name)' and vector '\(vectorName)'")
            let values = try formsProduct(db, matrix, input: input).values
            return (try ParameterVector(collection: matrix.collection, values: values), dtype)
        }
    }

    /// `reduction` of M x with `x` a stored vector over the matrix's
    /// collection, M x never held whole: each block's share of it is
    /// reduced to a number by the worker that computed it, in the
    /// product's dtype (float32 only when both are, NumPy's promotion),
    /// and the numbers are combined in block order, so the result does
    /// not depend on which worker finished first. `norm(mv(K, g))` on
    /// GPT-2's KFAC then needs no 1 GB result. Nil when the vector is
    /// not over the matrix's collection (the caller aligns them).
    public func formsProduct(_ name: String, vectorNamed vectorName: String, reducedTo reduction: ProductReduction) throws -> Double? {
        try read { db in
            let matrix = try Store.matrixRow(db, name: name, anyForm: true)
            guard let (input, dtype) = try Store.storedInput(db, matrix, vectorNamed: vectorName) else { return nil }
            let narrow = matrix.dtype == .float32 && dtype == .float32
            return try formsProduct(db, matrix, input: input, reduction: (reduction, narrow)).reduced
        }
    }

    /// The same with `x` in memory, `xDType` its dtype before widening.
    public func formsProduct(_ name: String, _ x: ParameterVector<Double>, xDType: DType, reducedTo reduction: ProductReduction) throws -> Double {
        try read { db in
            let matrix = try Store.matrixRow(db, name: name, anyForm: true)
            guard matrix.collection == x.collection else {
                throw StoreError(.mismatch, "mv: the vector is not over the collection of matrix '\(name)'")
            }
            let narrow = matrix.dtype == .float32 && xDType == .float32
            return try x.values.withUnsafeBufferPointer { input in
                try formsProduct(db, matrix, input: .inMemory(SendablePointer(pointer: UnsafeMutablePointer(mutating: input.baseAddress!))),
                                 reduction: (reduction, narrow)).reduced
            }
        }
    }

    /// A stored vector over the matrix's collection as a product's input,
    /// read a layer at a time, and its stored dtype; nil when the vector is
    /// over another collection.
    private static func storedInput(_ db: Database, _ matrix: StoredMatrix, vectorNamed vectorName: String) throws -> (ProductInput, DType)? {
        let (vectorID, collectionName, dtype) = try Store.vectorRow(db, name: vectorName)
        guard try Store.loadCollection(db, name: collectionName).collection == matrix.collection else { return nil }
        let collection = matrix.collection
        let scalarSize = dtype == .float64 ? 8 : 4
        let chunks = try Store.chunkPlacements(db, vectorID: vectorID, name: vectorName, collection, scalarSize: scalarSize)
        var chunksAt = [[(rowID: Int64, position: Int, start: Int, count: Int)]](repeating: [], count: collection.count)
        for chunk in chunks { chunksAt[chunk.position].append(chunk) }
        var blob: BlobHandle?
        var narrow: [Float] = []
        let input = ProductInput.stored { position, target in
            for chunk in chunksAt[position] {
                let chunkBlob = try BlobHandle.reading(&blob, db, table: "lcdb_vector_chunk", rowID: chunk.rowID)
                let target = target + chunk.start
                if dtype == .float64 {
                    try chunkBlob.read(into: target, count: chunk.count * 8)
                } else {
                    if narrow.count < chunk.count { narrow = [Float](repeating: 0, count: chunk.count) }
                    try narrow.withUnsafeMutableBufferPointer { try chunkBlob.read(into: $0.baseAddress!, count: chunk.count * 4) }
                    for k in 0 ..< chunk.count { target[k] = Double(narrow[k]) }
                }
            }
        }
        return (input, dtype)
    }

    /// Where a product's x comes from.
    private enum ProductInput {
        /// Whole, in memory.
        case inMemory(SendablePointer<Double>)
        /// Read on this thread a layer at a time: `read(position, target)`
        /// puts the layer's values at `target`, just before its block.
        case stored((_ position: Int, _ target: UnsafeMutablePointer<Double>) throws -> Void)
    }

    /// The product proper: M x whole (`values`), or with a `reduction`
    /// only the number it gives (`reduced`; `values` is then empty), the
    /// product's values rounded to float32 first when `narrow`.
    private func formsProduct(_ db: Database, _ matrix: StoredMatrix, input: ProductInput,
                              reduction: (ProductReduction, narrow: Bool)? = nil) throws -> (values: [Double], reduced: Double) {
        let name = matrix.name
        let layouts = try Store.blockLayouts(db, matrix)
        let collection = matrix.collection
        let sizes = layouts.map { $0.parts.reduce(0.0) { $0 + Double($1.rows) * Double($1.columns) } }
        let workers = BlockScheduler.cores
        // Each set of buffers grows to the largest block it meets.
        // Reduced, a block's share of M x goes into its set too (and of x
        // beside it when the reduction reads x; else x is read into the
        // share of M x, which the product overwrites): the sets are reused,
        // so M x costs no fresh memory.
        let xIsStored = if case .stored = input { true } else { false }
        let shares = reduction.map { $0.0.readsX && xIsStored ? 2 : 1 } ?? 0
        let room = layouts.indices.map { position in
            [Int](repeating: collection.range(at: position).count, count: shares) + layouts[position].parts.map { $0.rows * $0.columns }
        }
        let largestBlock = room.map { $0.reduce(0) { $0 + BlockBuffers.rounded($1) } }.max() ?? 0
        try MemoryBudget.require(Double(largestBlock) * 8 * Double(workers + 3),
                                 for: "\(workers + 3) blocks of matrix '\(name)' at a time")
        // A product costs about side x the sum of its parts' widths (a
        // square part's side, 1 for a vector): side^2 for a dense block,
        // out x in x (out + in) for kfac, side for diag.
        let costs = layouts.enumerated().map { position, block in
            Double(collection.range(at: position).count) * block.parts.reduce(0.0) {
                $0 + ($1.columns == 1 ? 1 : (Double($1.rows) * Double($1.columns)).squareRoot())
            }
        }
        let total = costs.reduce(0, +)
        let order = costs.indices.sorted { costs[$0] > costs[$1] }
        let alone = order.filter { workers > 1 && costs[$0] > total / Double(workers) }
        // Light blocks (a product about one pass over their values: dense,
        // diag, identity; GPT-2's LayerNorms) cost their reading, not
        // arithmetic. This thread multiplies them itself while waiting for
        // a worker, instead of leaving them for the end, where the workers
        // would wait on its reading.
        let light = order.filter { !alone.contains($0) && costs[$0] <= 4 * max(1, sizes[$0]) }
        var heavy = order.filter { !alone.contains($0) && !light.contains($0) }
        // Of the first few, the quickest to read go first, so the workers
        // start at once (GPT-2's largest product, wte's, needs 309 MB of the
        // vector read first; a c_fc block 20 MB).
        let first = min(heavy.count, 2 * workers)
        heavy[..<first].sort { sizes[$0] + Double(collection.range(at: $0).count) < sizes[$1] + Double(collection.range(at: $1).count) }
        var result: [Double] = reduction == nil ? HugePages.array(count: collection.numel, zeroed: false) : []
        // One number per block, written by the worker that multiplied it.
        let partials = UnsafeMutableBufferPointer<Double>.allocate(capacity: max(1, collection.count))
        defer { partials.deallocate() }
        let partialAt = SendablePointer(pointer: partials.baseAddress!)
        // Sets of buffers for the heavy blocks in flight: one per worker and
        // two read ahead, so a slow read (wte's 309 MB share of a stored
        // vector, into fresh pages) does not leave the workers waiting.
        let buffers = BoundedPool((0 ..< workers + 2).map { _ in BlockBuffers() })
        let lightBuffers = BlockBuffers()
        // Temporaries for each worker and for this thread (light blocks).
        let scratches = BoundedPool((0 ..< workers + 1).map { _ in ProductScratch() })
        let failure = FirstError()
        let types = layouts.map { BlockForms.type(of: $0.form) }
        try result.withUnsafeMutableBufferPointer { buffer in
            func readBlock(_ position: Int, into block: BlockBuffers) throws -> ReadBlock {
                block.reserve(room[position])
                let range = collection.range(at: position)
                let output: SendablePointer<Double>
                if reduction == nil {
                    output = SendablePointer(pointer: buffer.baseAddress! + range.lowerBound)
                    // The block's share of the fresh result faulted in here, by
                    // the reader, not by the worker (the kernel zeroes each page).
                    Prefault.populate(UnsafeMutableRawPointer(output.pointer), bytes: range.count * MemoryLayout<Double>.size)
                } else {
                    output = SendablePointer(pointer: block.next(range.count))
                }
                let x: SendablePointer<Double>
                switch input {
                case .inMemory(let whole):
                    x = SendablePointer(pointer: whole.pointer + range.lowerBound)
                case .stored(let read):
                    // Into the output's place, which the product overwrites
                    // (`BlockForm.product` reads x first): no second copy,
                    // unless the reduction reads x after the product.
                    x = shares == 2 ? SendablePointer(pointer: block.next(range.count)) : output
                    try read(position, x.pointer)
                }
                var parts: [String: PartBuffer] = [:]
                for part in layouts[position].parts {
                    let values = block.next(part.rows * part.columns)
                    try Store.readPart(part, dtype: matrix.dtype, into: values)
                    parts[part.name] = PartBuffer(name: part.name, shape: part.shape, values: values, upperOnly: part.layout == .upper)
                }
                return ReadBlock(position: position, buffers: block, parts: parts, x: x, output: output)
            }
            @Sendable func multiply(_ block: ReadBlock) {
                let range = collection.range(at: block.position)
                let entry = collection.entries[block.position]
                let scratch = scratches.take()
                defer { scratches.give(scratch) }
                do {
                    guard let type = types[block.position] else { throw Store.lowRankRefused(name) }
                    let product = UnsafeMutableBufferPointer(start: block.output.pointer, count: range.count)
                    let x = UnsafeBufferPointer(start: block.x.pointer, count: range.count)
                    try type.product(parts: block.parts, layer: entry.layer, name: entry.name, x, into: product, scratch: scratch)
                    if let (reduction, narrow) = reduction {
                        partialAt.pointer[block.position] = reduction.partial(product, x, narrow: narrow)
                    }
                } catch {
                    failure.record(StoreError(.corrupt, "matrix '\(name)': \(error)"))
                }
            }
            /// Reads and multiplies on this thread.
            func multiplyHere(_ position: Int, in block: BlockBuffers) throws {
                try Interruption.check()
                multiply(try readBlock(position, into: block))
                try failure.rethrow()
            }
            for position in alone {
                let block = buffers.take()
                defer { buffers.give(block) }
                try multiplyHere(position, in: block)
            }
            let queue = DispatchQueue(label: "lcdb.forms-product", attributes: .concurrent)
            let group = DispatchGroup()
            try BlockScheduler.withSingleThreadedBLAS {
                let ready = WorkQueue<ReadBlock>()
                for _ in 0 ..< workers {
                    queue.async(group: group) {
                        while let block = ready.pop() {
                            multiply(block)
                            buffers.give(block.buffers)
                        }
                    }
                }
                defer {
                    ready.close(consumers: workers)
                    group.wait()
                }
                var waiting = light[...]
                for position in heavy {
                    try Interruption.check()
                    try failure.rethrow()
                    // While every set is in flight, multiply light blocks here.
                    var free = buffers.takeIfFree()
                    while free == nil, let next = waiting.popFirst() {
                        try multiplyHere(next, in: lightBuffers)
                        free = buffers.takeIfFree()
                    }
                    let block = free ?? buffers.take()
                    do {
                        ready.push(try readBlock(position, into: block))
                    } catch {
                        buffers.give(block)
                        throw error
                    }
                }
                for position in waiting { try multiplyHere(position, in: lightBuffers) }
            }
            try failure.rethrow()
        }
        return (result, reduction.map { $0.0.combined(Array(partials.prefix(collection.count))) } ?? 0)
    }
}

extension Store {
    /// B x for one dense block of a stored matrix, read tile by tile and
    /// multiplied in float64 whatever the stored dtype (Lanczos on a block
    /// too large for memory needs its products to float64 accuracy).
    public func denseBlockProduct(_ name: String, position: Int, _ x: [Double]) throws -> [Double] {
        try read { db in
            let matrix = try Store.matrixRow(db, name: name)
            let side = matrix.collection.entries[position].layer.numel
            precondition(x.count == side, "denseBlockProduct: \(x.count) values for a block of \(side)")
            var y = [Double](repeating: 0, count: side)
            func accumulate<Scalar: BLASScalar>(_: Scalar.Type) throws {
                var buffer: [Scalar] = []
                var wide: [Double] = []
                try x.withUnsafeBufferPointer { input in
                    try y.withUnsafeMutableBufferPointer { output in
                        try forEachTile(db, matrix, position: position, buffer: &buffer) { (tile: StoredTile<Scalar>) in
                            try Interruption.check()
                            if let doubles = tile as? StoredTile<Double> {
                                Store.accumulateProduct(doubles, side: side, input.baseAddress!, into: output.baseAddress!)
                                return
                            }
                            let count = tile.rows.count * tile.width
                            if wide.count < count { wide = [Double](repeating: 0, count: count) }
                            for k in 0 ..< count { wide[k] = Double(tile.values[k]) }
                            wide.withUnsafeBufferPointer { converted in
                                let tile = StoredTile(rows: tile.rows, columns: tile.columns, values: converted.baseAddress!, layout: tile.layout)
                                Store.accumulateProduct(tile, side: side, input.baseAddress!, into: output.baseAddress!)
                            }
                        }
                    }
                }
            }
            switch matrix.dtype {
            case .float64: try accumulate(Double.self)
            case .float32: try accumulate(Float.self)
            }
            return y
        }
    }
}

/// A block read and waiting for (or in) a worker: its parts in `buffers`
/// and its share of x at `x`.
private struct ReadBlock: @unchecked Sendable {
    let position: Int
    let buffers: BlockBuffers
    let parts: [String: PartBuffer]
    let x: SendablePointer<Double>
    /// Where its share of M x goes.
    let output: SendablePointer<Double>
}
