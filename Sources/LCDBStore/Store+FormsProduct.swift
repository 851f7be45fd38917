import Dispatch
import GRDB
import LCDBCore

extension Store {
    /// M x for a stored matrix in forms, a block at a time. This thread (the
    /// only one that calls SQLite) reads blocks, largest product first, into
    /// reused buffers and queues each for `cores` workers that multiply
    /// with OpenBLAS single-threaded (`BlockForm.product(parts:...)`),
    /// staying a block ahead of them: reading and arithmetic
    /// overlap without the stalls of two OpenBLAS threads waiting on each
    /// other while a third thread reads (that cost GPT-2's KFAC a third of
    /// its time). A block whose product is more than a core's share runs
    /// alone first, with OpenBLAS's threads. At most `cores + 1` blocks and
    /// one light block are in memory, in buffers that are never freed
    /// between blocks (fresh memory costs a kernel page fault per 4 KB).
    /// A block with independent segments (an Embedding's kfac rows) goes in
    /// pieces of a few MB (`productItems`); `pieceValues`, which every
    /// `formsProduct` takes, sets their size instead (tests).
    public func formsProduct(_ name: String, _ x: ParameterVector<Double>, pieceValues: Int? = nil) throws -> ParameterVector<Double> {
        try read { db in
            let matrix = try Store.matrixRow(db, name: name, anyForm: true)
            guard matrix.collection == x.collection else {
                throw StoreError(.mismatch, "mv: the vector is not over the collection of matrix '\(name)'")
            }
            return try x.values.withUnsafeBufferPointer { input in
                try ParameterVector(collection: matrix.collection,
                                    values: try formsProduct(db, matrix, input: .inMemory(SendablePointer(pointer: UnsafeMutablePointer(mutating: input.baseAddress!))),
                                                             pieceValues: pieceValues).values)
            }
        }
    }

    /// M x with `x` a stored vector over the same collection, read a layer
    /// at a time beside the blocks (each layer's values just before its
    /// block is handed out) instead of whole before the first product:
    /// GPT-2's 1 GB gradient took 0.75 s to read while both cores waited.
    /// Returns the product and the vector's stored dtype; nil when the
    /// vector is not over the matrix's collection (the caller aligns them).
    public func formsProduct(_ name: String, vectorNamed vectorName: String, pieceValues: Int? = nil) throws -> (product: ParameterVector<Double>, dtype: DType)? {
        try read { db in
            let matrix = try Store.matrixRow(db, name: name, anyForm: true)
            guard let (input, dtype) = try Store.storedInput(db, matrix, vectorNamed: vectorName) else { return nil }
            try ParameterVector<Double>.requireMemory(over: matrix.collection, copies: 1, "mv of '\(name)' and vector '\(vectorName)'")
            let values = try formsProduct(db, matrix, input: input, pieceValues: pieceValues).values
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
    public func formsProduct(_ name: String, vectorNamed vectorName: String, reducedTo reduction: ProductReduction,
                             pieceValues: Int? = nil) throws -> Double? {
        try read { db in
            let matrix = try Store.matrixRow(db, name: name, anyForm: true)
            guard let (input, dtype) = try Store.storedInput(db, matrix, vectorNamed: vectorName) else { return nil }
            let narrow = matrix.dtype == .float32 && dtype == .float32
            return try formsProduct(db, matrix, input: input, reduction: (reduction, narrow), pieceValues: pieceValues).reduced
        }
    }

    /// The same with `x` in memory, `xDType` its dtype before widening.
    public func formsProduct(_ name: String, _ x: ParameterVector<Double>, xDType: DType, reducedTo reduction: ProductReduction,
                             pieceValues: Int? = nil) throws -> Double {
        try read { db in
            let matrix = try Store.matrixRow(db, name: name, anyForm: true)
            guard matrix.collection == x.collection else {
                throw StoreError(.mismatch, "mv: the vector is not over the collection of matrix '\(name)'")
            }
            let narrow = matrix.dtype == .float32 && xDType == .float32
            return try x.values.withUnsafeBufferPointer { input in
                try formsProduct(db, matrix, input: .inMemory(SendablePointer(pointer: UnsafeMutablePointer(mutating: input.baseAddress!))),
                                 reduction: (reduction, narrow), pieceValues: pieceValues).reduced
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
        let input = ProductInput.stored { position, values, target in
            for chunk in chunksAt[position] {
                // The chunk's values within `values`, if any.
                let first = max(values.lowerBound, chunk.start), end = min(values.upperBound, chunk.start + chunk.count)
                guard first < end else { continue }
                let overlap = first ..< end
                let chunkBlob = try BlobHandle.reading(&blob, db, table: "lcdb_vector_chunk", rowID: chunk.rowID)
                let target = target + (overlap.lowerBound - values.lowerBound)
                let skipped = overlap.lowerBound - chunk.start
                if dtype == .float64 {
                    try chunkBlob.read(into: target, count: overlap.count * 8, offset: skipped * 8)
                } else {
                    if narrow.count < overlap.count { narrow = [Float](repeating: 0, count: overlap.count) }
                    try narrow.withUnsafeMutableBufferPointer { try chunkBlob.read(into: $0.baseAddress!, count: overlap.count * 4, offset: skipped * 4) }
                    for k in 0 ..< overlap.count { target[k] = Double(narrow[k]) }
                }
            }
        }
        return (input, dtype)
    }

    /// Where a product's x comes from.
    private enum ProductInput {
        /// Whole, in memory.
        case inMemory(SendablePointer<Double>)
        /// Read on this thread a block's share at a time: `read(position,
        /// values, target)` puts those values of the layer at `target`, just
        /// before they are multiplied.
        case stored((_ position: Int, _ values: Range<Int>, _ target: UnsafeMutablePointer<Double>) throws -> Void)
    }

    /// The product proper: M x whole (`values`), or with a `reduction`
    /// only the number it gives (`reduced`; `values` is then empty), the
    /// product's values rounded to float32 first when `narrow`.
    private func formsProduct(_ db: Database, _ matrix: StoredMatrix, input: ProductInput,
                              reduction: (ProductReduction, narrow: Bool)? = nil, pieceValues: Int?) throws -> (values: [Double], reduced: Double) {
        let name = matrix.name
        let layouts = try Store.blockLayouts(db, matrix)
        let collection = matrix.collection
        let types = layouts.map { BlockForms.type(of: $0.form) }
        let items = Store.productItems(layouts, types: types, collection, pieceValues: pieceValues)
        let workers = BlockScheduler.cores
        // Each set of buffers holds any item.
        // Reduced, an item's share of M x goes into its set too (and of x
        // beside it when the reduction reads x; else x is read into the
        // share of M x, which the product overwrites): the sets are reused,
        // so M x costs no fresh memory.
        let xIsStored = if case .stored = input { true } else { false }
        let shares = reduction.map { $0.0.readsX && xIsStored ? 2 : 1 } ?? 0
        // Each item's parts and the rows of them it reads (all, or for a
        // piece of a block with segments, the rows of its segmented parts).
        let itemParts = items.map { item in Store.partRows(of: item, layouts[item.position].parts, type: types[item.position], collection) }
        let room = items.indices.map { index in
            [Int](repeating: items[index].values.count, count: shares) + itemParts[index].map { $0.rows.count * $0.part.columns }
        }
        let largestItem = room.map { $0.reduce(0) { $0 + BlockBuffers.rounded($1) } }.max() ?? 0
        try MemoryBudget.require(Double(largestItem) * 8 * Double(workers + 3),
                                 for: "\(workers + 3) blocks of matrix '\(name)' at a time")
        // Values read per item: its parts and its share of x.
        let sizes = itemParts.map { $0.reduce(0.0) { $0 + Double($1.rows.count) * Double($1.part.columns) } }
        let reads = items.indices.map { sizes[$0] + Double(items[$0].values.count) }
        // A product costs about side x the sum of its parts' widths (a
        // square part's side, 1 for a vector): side^2 for a dense block,
        // out x in x (out + in) for kfac, side for diag; a segment its share.
        let costs = items.map { item in
            Double(item.values.count) * layouts[item.position].parts.reduce(0.0) {
                $0 + ($1.columns == 1 ? 1 : (Double($1.rows) * Double($1.columns)).squareRoot())
            }
        }
        let total = costs.reduce(0, +)
        let order = costs.indices.sorted { costs[$0] > costs[$1] }
        let alone = order.filter { workers > 1 && costs[$0] > total / Double(workers) }
        // Light items (a product about one pass over their values: dense,
        // diag, identity; GPT-2's LayerNorms) cost their reading, not
        // arithmetic. This thread multiplies them itself while waiting for
        // a worker, instead of leaving them for the end, where the workers
        // would wait on its reading.
        let light = order.filter { !alone.contains($0) && costs[$0] <= 4 * max(1, sizes[$0]) }
        var heavy = order.filter { !alone.contains($0) && !light.contains($0) }
        // One per worker, the quickest to read go first, so the workers
        // start at once (a c_fc block is 60 MB to read, an attn.c_proj 10 MB).
        let quickest = heavy.sorted { reads[$0] < reads[$1] }.prefix(workers)
        heavy = Array(quickest) + heavy.filter { !quickest.contains($0) }
        var result: [Double] = reduction == nil ? HugePages.array(count: collection.numel, zeroed: false) : []
        // One number per item, written by the worker that multiplied it.
        let partials = UnsafeMutableBufferPointer<Double>.allocate(capacity: max(1, items.count))
        defer { partials.deallocate() }
        let partialAt = SendablePointer(pointer: partials.baseAddress!)
        // Sets of buffers for the heavy items in flight: one per worker and
        // one read ahead (reading an item takes a small part of its product
        // since large blocks with independent segments come in pieces).
        // Each is allocated for the largest item. The reader starts with one;
        // the others are faulted in meanwhile on another thread (a core
        // that would otherwise wait for the first reads: fresh pages cost
        // GPT-2's KFAC a quarter of a second on one core per 100 MB set
        // here) and handed to the reader as each is ready.
        let sets = (0 ..< workers + 1).map { _ in BlockBuffers(capacity: largestItem) }
        let buffers = BoundedPool([sets[0]])
        // As much as the sets will all hold at some time: the room of the
        // (workers + 1)-th largest heavy item (GPT-2's kfac: a c_fc block,
        // 99 MB; an ekfac's one 620 MB wte block is faulted in by its reader
        // alone, as before); blocks that run alone use the first set only.
        let rooms = heavy.map { room[$0].reduce(0) { $0 + BlockBuffers.rounded($1) } }.sorted(by: >)
        let warmth = rooms.isEmpty ? 0 : rooms[min(rooms.count - 1, workers)]
        let warming = DispatchGroup()
        DispatchQueue.global().async(group: warming) {
            for set in sets.dropFirst() {
                set.warm(warmth)
                buffers.give(set)
            }
        }
        defer { warming.wait() }
        let lightBuffers = BlockBuffers()
        // Temporaries for each worker and for this thread (light items).
        let scratches = BoundedPool((0 ..< workers + 1).map { _ in ProductScratch(hugePages: false) })
        let failure = FirstError()
        try result.withUnsafeMutableBufferPointer { buffer in
            func readItem(_ index: Int, into block: BlockBuffers) throws -> ReadBlock {
                let item = items[index]
                block.reserve(room[index])
                let start = collection.range(at: item.position).lowerBound + item.values.lowerBound
                let output: SendablePointer<Double>
                if reduction == nil {
                    output = SendablePointer(pointer: buffer.baseAddress! + start)
                    // The item's share of the fresh result faulted in here, by
                    // the reader, not by the worker (the kernel zeroes each page).
                    Prefault.populate(UnsafeMutableRawPointer(output.pointer), bytes: item.values.count * MemoryLayout<Double>.size)
                } else {
                    output = SendablePointer(pointer: block.next(item.values.count))
                }
                let x: SendablePointer<Double>
                switch input {
                case .inMemory(let whole):
                    x = SendablePointer(pointer: whole.pointer + start)
                case .stored(let read):
                    // Into the output's place, which the product overwrites
                    // (`BlockForm.product` reads x first): no second copy,
                    // unless the reduction reads x after the product.
                    x = shares == 2 ? SendablePointer(pointer: block.next(item.values.count)) : output
                    try read(item.position, item.values, x.pointer)
                }
                var parts: [String: PartBuffer] = [:]
                for (part, rows) in itemParts[index] {
                    let values = block.next(rows.count * part.columns)
                    if rows.count == part.rows {
                        try Store.readPart(part, dtype: matrix.dtype, into: values)
                        parts[part.name] = PartBuffer(name: part.name, shape: part.shape, values: values, upperOnly: part.layout == .upper)
                    } else {
                        try Store.readPart(part, rows: rows, dtype: matrix.dtype, into: values)
                        parts[part.name] = PartBuffer(name: part.name, shape: [rows.count] + part.shape.dropFirst(), values: values, upperOnly: false)
                    }
                }
                return ReadBlock(index: index, buffers: block, parts: parts, x: x, output: output)
            }
            @Sendable func multiply(_ block: ReadBlock) {
                let item = items[block.index]
                let entry = collection.entries[item.position]
                let scratch = scratches.take()
                defer { scratches.give(scratch) }
                do {
                    guard let type = types[item.position] else { throw Store.lowRankRefused(name) }
                    let product = UnsafeMutableBufferPointer(start: block.output.pointer, count: item.values.count)
                    let x = UnsafeBufferPointer(start: block.x.pointer, count: item.values.count)
                    if item.values.count == entry.layer.numel {
                        try type.product(parts: block.parts, layer: entry.layer, name: entry.name, x, into: product, scratch: scratch)
                    } else {
                        try type.product(parts: block.parts, layer: entry.layer, name: entry.name, values: item.values,
                                         x, into: product, scratch: scratch)
                    }
                    if let (reduction, narrow) = reduction {
                        partialAt.pointer[block.index] = reduction.partial(product, x, narrow: narrow)
                    }
                } catch {
                    failure.record(StoreError(.corrupt, "matrix '\(name)': \(error)"))
                }
            }
            /// Reads and multiplies on this thread.
            func multiplyHere(_ index: Int, in block: BlockBuffers) throws {
                try Interruption.check()
                multiply(try readItem(index, into: block))
                try failure.rethrow()
            }
            for index in alone {
                let block = buffers.take()
                defer { buffers.give(block) }
                try multiplyHere(index, in: block)
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
                for index in heavy {
                    try Interruption.check()
                    try failure.rethrow()
                    // While every set is in flight, multiply light items here.
                    var free = buffers.takeIfFree()
                    while free == nil, let next = waiting.popFirst() {
                        try multiplyHere(next, in: lightBuffers)
                        free = buffers.takeIfFree()
                    }
                    let block = free ?? buffers.take()
                    do {
                        ready.push(try readItem(index, into: block))
                    } catch {
                        buffers.give(block)
                        throw error
                    }
                }
                for index in waiting { try multiplyHere(index, in: lightBuffers) }
            }
            try failure.rethrow()
        }
        return (result, reduction.map { $0.0.combined(Array(partials.prefix(items.count))) } ?? 0)
    }

    /// The product's items in block order: each block whole, but a block
    /// with independent segments (`BlockForm.segmentLength`) whose share of x
    /// is large in pieces of whole segments, of at least 16 MB and of four
    /// times the block's parts (each piece reads them again), or of
    /// `pieceValues` values (rounded down to whole segments) when given.
    static func productItems(_ layouts: [(form: FormKind, parts: [StoredPart])], types: [(any BlockForm.Type)?],
                             _ collection: LayerCollection, pieceValues: Int? = nil) -> [ProductItem] {
        collection.entries.indices.flatMap { position -> [ProductItem] in
            let side = collection.range(at: position).count
            let layer = collection.entries[position].layer
            let shapes = partShapes(layouts[position].parts)
            guard let segment = types[position]?.segmentLength(partShapes: shapes, layer: layer),
                  segment > 0, side % segment == 0 else {
                return [ProductItem(position: position, values: 0 ..< side)]
            }
            // Parts read again by every piece (the segmented ones only in part).
            let segmented = types[position]?.segmentedParts(partShapes: shapes, layer: layer) ?? []
            let partValues = layouts[position].parts.filter { !segmented.contains($0.name) }.reduce(0) { $0 + $1.rows * $1.columns }
            let wanted = pieceValues ?? max((16 << 20) / MemoryLayout<Double>.size, 4 * partValues)
            let piece = max(1, wanted / segment) * segment
            return stride(from: 0, to: side, by: piece).map { ProductItem(position: position, values: $0 ..< min(side, $0 + piece)) }
        }
    }
}

extension Store {
    static func partShapes(_ parts: [StoredPart]) -> [String: [Int]] {
        Dictionary(parts.map { ($0.name, $0.shape) }, uniquingKeysWith: { first, _ in first })
    }

    /// The parts an item reads and which of their rows: all, but for a piece
    /// of a block with segments only its segments' rows of the segmented
    /// parts (`BlockForm.segmentedParts`).
    static func partRows(of item: ProductItem, _ parts: [StoredPart], type: (any BlockForm.Type)?,
                         _ collection: LayerCollection) -> [(part: StoredPart, rows: Range<Int>)] {
        let layer = collection.entries[item.position].layer
        let shapes = partShapes(parts)
        guard item.values.count < layer.numel, let type, let segment = type.segmentLength(partShapes: shapes, layer: layer), segment > 0 else {
            return parts.map { ($0, 0 ..< $0.rows) }
        }
        let segmented = type.segmentedParts(partShapes: shapes, layer: layer)
        let rows = item.values.lowerBound / segment ..< item.values.upperBound / segment
        return parts.map { ($0, segmented.contains($0.name) ? rows : 0 ..< $0.rows) }
    }
}

/// A share of one block's product: the whole block (`values` all of its
/// layer's), or some of its independent segments.
struct ProductItem: Equatable {
    let position: Int
    let values: Range<Int>
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

/// An item read and waiting for (or in) a worker: its block's parts in
/// `buffers` and its share of x at `x`.
private struct ReadBlock: @unchecked Sendable {
    /// Which of the product's items.
    let index: Int
    let buffers: BlockBuffers
    let parts: [String: PartBuffer]
    let x: SendablePointer<Double>
    /// Where its share of M x goes.
    let output: SendablePointer<Double>
}
