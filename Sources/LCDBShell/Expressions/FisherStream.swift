import Foundation
import LCDBCore
import LCDBInterop
import LCDBStore

/// The dense Fisher blocks of gradient files when they fit in memory,
/// computed a layer at a time on background threads (one layer per core,
/// each reading only its layer's tensors, OpenBLAS single-threaded) and
/// handed out as each finishes. `let` writes block p into the store while
/// later blocks are still being computed, so storing a gigabyte of blocks
/// overlaps the arithmetic instead of following it.
///
/// A block `let` has stored (its last rows served) is released at once, so
/// memory holds only the blocks computed but not yet stored, usually two or
/// three; one asked for again is computed again. Dropping the stream stops
/// the workers after their current slab and waits for them.
public final class FisherStream: FisherBlockSource, @unchecked Sendable {
    private let work: Work

    /// Starts computing at once. `progress(rows)` is called from the workers
    /// (it must be safe to call from any thread) with the examples each slab
    /// added; `located` turns a worker's error into the statement's (the
    /// call's name and place).
    init(files: GradientFiles, weights: [Double]?, progress: @escaping (Int) -> Void,
         located: @escaping (any Error) -> any Error) throws {
        let collection = files.collection
        let bytes = collection.entries.reduce(0.0) { $0 + Double($1.layer.numel) * Double($1.layer.numel) * 8 }
        try MemoryBudget.require(bytes * 1.1, for: "the dense blocks of the Fisher (\(collection.count) layers)",
                                 advice: "; build the diag form, or a smaller collection")
        work = Work(files: files, weights: weights, progress: progress, located: located)
        work.start()
    }

    deinit { work.stop() }

    /// Blocks stored in full and released (what tests check before asking again).
    var releasedBlocks: Set<Int> { work.releasedBlocks }

    public func fill<Scalar: BLASScalar>(_ position: Int, _ rows: Range<Int>, _ columns: Range<Int>, into target: UnsafeMutablePointer<Scalar>) throws {
        let block = try work.wait(for: position)
        let side = work.files.collection.entries[position].layer.numel
        // let fills a block's panels in row order: after the last one it is stored.
        defer { if rows.upperBound == side { work.release(position) } }
        block.withUnsafeBufferPointer { values in
            if Scalar.self == Double.self {
                target.withMemoryRebound(to: Double.self, capacity: rows.count * columns.count) {
                    Store.copyPanel(from: values.baseAddress!, side: side, rows: rows, columns: columns, to: $0)
                }
                return
            }
            for (row, r) in rows.enumerated() {
                let source = values.baseAddress! + r * side + columns.lowerBound, destination = target + row * columns.count
                for k in 0 ..< columns.count { destination[k] = Scalar(source[k]) }
            }
        }
    }

    public func block<Scalar: BLASScalar>(at position: Int, as _: Scalar.Type) throws -> [Scalar] {
        let block = try work.wait(for: position)
        if Scalar.self == Double.self { return unsafeBitCast(block, to: [Scalar].self) }
        return block.map { Scalar($0) }
    }

    /// What the workers share with the stream, under one condition lock. The
    /// workers hold this, not the stream, so dropping the stream stops them.
    private final class Work: @unchecked Sendable {
        let files: GradientFiles
        private let weights: [Double]?
        private let progress: (Int) -> Void
        private let located: (any Error) -> any Error
        private let condition = NSCondition()
        private var blocks: [[Double]?]
        /// Blocks handed to `let` in full and released.
        private var released: Set<Int> = []
        private var failure: (any Error)?
        private var next = 0
        private var stopped = false
        private var running = 0
        private var tookBLASThreads = false
        /// The layers to compute, in the order `let` stores them.
        private let order: [Int]

        init(files: GradientFiles, weights: [Double]?, progress: @escaping (Int) -> Void,
             located: @escaping (any Error) -> any Error) {
            self.files = files
            self.weights = weights
            self.progress = progress
            self.located = located
            let entries = files.collection.entries
            blocks = entries.map { $0.layer.numel == 0 ? [] : nil }
            order = entries.indices.filter { entries[$0].layer.numel > 0 }
        }

        func start() {
            let workers = min(BlockScheduler.cores, order.count)
            guard workers > 0 else { return }
            condition.withLock {
                running = workers
                // One layer alone keeps OpenBLAS's threads.
                tookBLASThreads = workers > 1 && BlockScheduler.beginSingleThreadedBLAS()
            }
            for _ in 0 ..< workers {
                let thread = Thread { [self] in run() }
                thread.stackSize = 4 << 20
                thread.start()
            }
        }

        /// Stops the workers after their current slab and waits for them.
        func stop() {
            condition.lock()
            stopped = true
            while running > 0 { condition.wait() }
            condition.unlock()
        }

        func wait(for position: Int) throws -> [Double] {
            condition.lock()
            while true {
                if let block = blocks[position] {
                    condition.unlock()
                    return block
                }
                if let failure {
                    condition.unlock()
                    throw failure
                }
                if released.contains(position) { break }
                condition.wait()
            }
            condition.unlock()
            // Stored and released already, asked for again: computed again here.
            return try compute(position)
        }

        var releasedBlocks: Set<Int> { condition.withLock { released } }

        /// Frees block `position` (stored by `let`).
        func release(_ position: Int) {
            condition.withLock {
                guard blocks[position] != nil, !(blocks[position]?.isEmpty ?? true) else { return }
                blocks[position] = nil
                released.insert(position)
            }
        }

        private func run() {
            while let position = claim() {
                do {
                    let block = try compute(position)
                    condition.withLock {
                        blocks[position] = block
                        condition.broadcast()
                    }
                } catch {
                    condition.withLock {
                        if failure == nil { failure = located(error) }
                        condition.broadcast()
                    }
                    break
                }
            }
            condition.withLock {
                running -= 1
                if running == 0 { BlockScheduler.endSingleThreadedBLAS(tookBLASThreads) }
                condition.broadcast()
            }
        }

        private func claim() -> Int? {
            condition.withLock {
                guard !stopped, failure == nil, next < order.count else { return nil }
                next += 1
                return order[next - 1]
            }
        }

        private var isStopped: Bool { condition.withLock { stopped } }

        /// One layer's block: its examples in slabs of about 128 MB (deep
        /// dsyrk calls, each rewriting the block's triangle less often).
        private func compute(_ position: Int) throws -> [Double] {
            var fisher = try EmpiricalFisher(collection: files.collection, form: .dense, only: [position])
            var start = 0
            try files.forEachSlab(rows: files.rowsPerSlab(bytes: 128 * 1024 * 1024), layers: [position]) { rows, layer, _, slab in
                try Interruption.check()
                if isStopped { throw CoreError(.interrupted, "stopped") }
                fisher.add(rows: rows, position: layer, slab: slab, weights: weights?[start ..< start + rows])
                start += rows
                progress(rows)
            }
            return try fisher.takeBlock(position)
        }
    }
}
