import Dispatch
import GRDB
import LCDBCore

extension Store {
    /// (M + regularization I)^-1 x for a stored matrix in forms, a block at
    /// a time (`mapForms`), never holding M whole: each worker solves its
    /// block with the form's own `solve`, the call the in-memory matrix makes
    /// per block. GPT-2's float32 KFAC then needs its 1 GB result and a few
    /// blocks, not 8.4 GB (the factors widened to float64 beside the
    /// decompositions). Errors are the blocks' own (a singular block names
    /// its layer), the first in block order, as in memory.
    public func formsSolve(_ name: String, _ x: ParameterVector<Double>, regularization: Double) throws -> ParameterVector<Double> {
        try read { db in
            let matrix = try Store.matrixRow(db, name: name, anyForm: true)
            guard matrix.collection == x.collection else {
                throw StoreError(.mismatch, "solve: the vector is not over the collection of matrix '\(name)'")
            }
            let collection = matrix.collection
            let layouts = try Store.blockLayouts(db, matrix)
            let inFlight = BlockScheduler.cores + 1
            try MemoryBudget.require(Double(collection.numel) * 8 + Store.decompositionMemory(layouts, collection, inFlight: inFlight),
                                     for: "solve with matrix '\(name)' (the result and \(inFlight) blocks at a time)")
            var result: [Double] = HugePages.array(count: collection.numel, zeroed: false)
            let names = collection.names
            try result.withUnsafeMutableBufferPointer { output in
                try Store.mapForms(matrix, layouts, inFlight: inFlight) { position, block in
                    let range = collection.range(at: position)
                    return try block.solve(Array(x.values[range]), regularization: regularization, layer: names[position])
                } finish: { position, piece in
                    let start = collection.range(at: position).lowerBound
                    (output.baseAddress! + start).update(from: piece, count: piece.count)
                }
            }
            return try ParameterVector(collection: collection, values: result)
        }
    }

    /// `work(position, block)` for every block of a stored matrix in forms,
    /// each read whole by its form on this thread (the only one that calls
    /// SQLite), largest decomposition first, and handed to `cores` workers
    /// running OpenBLAS single-threaded; `finish(position, result)` runs on
    /// this thread as results come back, at most `inFlight` blocks read and
    /// not yet finished. A block costing more than a core's share runs first,
    /// alone, with OpenBLAS's threads (`BlockScheduler.plan`, on the costs
    /// the in-memory matrix uses). Every block
    /// runs even after one fails, so the error thrown is the first in block
    /// order whichever worker met it first; after a failure `finish` is not
    /// called again. An error of `finish` itself is thrown at once.
    static func mapForms<Result: Sendable>(_ matrix: StoredMatrix, _ layouts: [(form: FormKind, parts: [StoredPart])], inFlight: Int,
                                           work: @escaping @Sendable (Int, any BlockForm) throws -> Result,
                                           finish: (Int, Result) throws -> Void) throws {
        let workers = BlockScheduler.cores
        let (alone, shared) = BlockScheduler.plan(costs: layouts.enumerated().map { position, block in
            StructuredMatrix.decompositionCost(side: matrix.collection.range(at: position).count, form: BlockForms.type(of: block.form),
                                               parts: block.parts.map { ($0.name, $0.shape) })
        })
        @Sendable func run(_ position: Int, _ block: any BlockForm) -> Swift.Result<Result, any Error> {
            do {
                try Interruption.check()
                return .success(try work(position, block))
            } catch {
                return .failure(error)
            }
        }
        var failures: [(position: Int, error: any Error)] = []
        func finished(_ position: Int, _ outcome: Swift.Result<Result, any Error>) throws {
            switch outcome {
            case .success(let value): if failures.isEmpty { try finish(position, value) }
            case .failure(let error): failures.append((position, error))
            }
        }
        for position in alone {
            try Interruption.check()
            try finished(position, run(position, try readForm(matrix, position: position, layouts[position])))
        }
        if !shared.isEmpty {
            let ready = WorkQueue<(Int, any BlockForm)>()
            let done = WorkQueue<(Int, Swift.Result<Result, any Error>)>()
            let group = DispatchGroup()
            let queue = DispatchQueue(label: "lcdb.forms-map", attributes: .concurrent)
            try BlockScheduler.withSingleThreadedBLAS {
                for _ in 0 ..< workers {
                    queue.async(group: group) {
                        while let (position, block) = ready.pop() { done.push((position, run(position, block))) }
                    }
                }
                defer {
                    ready.close(consumers: workers)
                    group.wait()
                }
                var unfinished = 0
                func finishOne() throws {
                    guard let (position, outcome) = done.pop() else { return }
                    unfinished -= 1
                    try finished(position, outcome)
                }
                for position in shared {
                    if unfinished >= inFlight { try finishOne() }
                    try Interruption.check()
                    ready.push((position, try readForm(matrix, position: position, layouts[position])))
                    unfinished += 1
                }
                while unfinished > 0 { try finishOne() }
            }
        }
        if let first = failures.min(by: { $0.position < $1.position }) { throw first.error }
    }

    /// Working memory of `inFlight` of the largest blocks at once: each
    /// block's parts in float64 twice (read, and a result as large), its
    /// share of the vector three times (x, the piece, its copy), and about
    /// 4 n^2 values per square part (its copy, the eigenvectors and LAPACK's
    /// workspace).
    static func decompositionMemory(_ layouts: [(form: FormKind, parts: [StoredPart])], _ collection: LayerCollection,
                                    inFlight: Int) -> Double {
        let perBlock = layouts.enumerated().map { position, block in
            block.parts.reduce(Double(collection.range(at: position).count) * 3 * 8) { bytes, part in
                let values = Double(part.rows) * Double(part.columns)
                let decomposed = BlockForms.type(of: block.form)?.isDecomposed(part: part.name, shape: part.shape) ?? false
                return bytes + 2 * values * 8 + (decomposed ? 4 * values * 8 : 0)
            }
        }
        return perBlock.sorted(by: >).prefix(inFlight).reduce(0, +)
    }
}
