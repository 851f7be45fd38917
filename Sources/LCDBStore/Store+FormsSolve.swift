import Dispatch
import GRDB
import LCDBCore

extension Store {
    /// (M + regularization I)^-1 x for a stored matrix in forms, a block at
    /// a time, never holding M whole: this thread reads blocks, largest
    /// decomposition first, and hands them to `cores` workers that solve
    /// with OpenBLAS single-threaded (`BlockForm.solve`, the same call the
    /// in-memory matrix makes per block), one block read ahead of them. A
    /// block costing more than a core's share is solved first, alone, with
    /// OpenBLAS's threads (`BlockScheduler`'s rule). GPT-2's float32 KFAC
    /// then needs its 1 GB result and a few blocks, not 4.6 GB (the factors
    /// widened to float64 beside the decompositions in flight). Errors are
    /// the blocks' own (a singular block names its layer); every block is
    /// solved even after one fails, so of several the first in block order
    /// is thrown, as by the in-memory solve, whichever worker met it first.
    public func formsSolve(_ name: String, _ x: ParameterVector<Double>, regularization: Double) throws -> ParameterVector<Double> {
        try read { db in
            let matrix = try Store.matrixRow(db, name: name, anyForm: true)
            guard matrix.collection == x.collection else {
                throw StoreError(.mismatch, "solve: the vector is not over the collection of matrix '\(name)'")
            }
            let collection = matrix.collection
            let layouts = try Store.blockLayouts(db, matrix)
            let workers = BlockScheduler.cores
            try MemoryBudget.require(Double(collection.numel) * 8 + Store.solveMemory(layouts, collection, inFlight: workers + 1),
                                     for: "solve with matrix '\(name)' (the result and \(workers + 1) blocks at a time)")
            let costs = layouts.enumerated().map { position, block in
                block.parts.reduce(Double(collection.range(at: position).count)) { cost, part in
                    cost + (part.rows == part.columns && part.shape.count == 2 ? pow3(part.rows) : Double(part.rows * part.columns))
                }
            }
            let total = costs.reduce(0, +)
            let order = costs.indices.sorted { costs[$0] > costs[$1] }
            let alone = order.filter { workers > 1 && costs[$0] > total / Double(workers) }
            let shared = order.filter { !alone.contains($0) }
            var result: [Double] = HugePages.array(count: collection.numel, zeroed: false)
            let failures = PositionedErrors()
            try result.withUnsafeMutableBufferPointer { buffer in
                let output = SendablePointer(pointer: buffer.baseAddress!)
                let names = collection.names
                @Sendable func solve(_ position: Int, _ block: any BlockForm) {
                    let range = collection.range(at: position)
                    do {
                        try Interruption.check()
                        let piece = try block.solve(Array(x.values[range]), regularization: regularization, layer: names[position])
                        (output.pointer + range.lowerBound).update(from: piece, count: range.count)
                    } catch {
                        failures.record(error, at: position)
                    }
                }
                for position in alone {
                    try Interruption.check()
                    solve(position, try Store.readForm(matrix, position: position, layouts[position]))
                }
                guard !shared.isEmpty else { return }
                let ready = WorkQueue<(Int, any BlockForm)>()
                // Blocks read and not yet solved: one per worker and one ahead.
                let slots = DispatchSemaphore(value: workers + 1)
                let group = DispatchGroup()
                let queue = DispatchQueue(label: "lcdb.forms-solve", attributes: .concurrent)
                try BlockScheduler.withSingleThreadedBLAS {
                    for _ in 0 ..< workers {
                        queue.async(group: group) {
                            while let (position, block) = ready.pop() {
                                solve(position, block)
                                slots.signal()
                            }
                        }
                    }
                    defer {
                        ready.close(consumers: workers)
                        group.wait()
                    }
                    for position in shared {
                        slots.wait()
                        do {
                            try Interruption.check()
                            ready.push((position, try Store.readForm(matrix, position: position, layouts[position])))
                        } catch {
                            slots.signal()
                            throw error
                        }
                    }
                }
                try failures.rethrow()
            }
            return try ParameterVector(collection: collection, values: result)
        }
    }

    /// Working memory of solving `inFlight` of the largest blocks at once:
    /// each block's parts in float64, its share of x and of the result
    /// twice (the piece and its copy), and about 4 n^2 values per square
    /// part (its copy, the eigenvectors and LAPACK's workspace).
    private static func solveMemory(_ layouts: [(form: FormKind, parts: [StoredPart])], _ collection: LayerCollection,
                                    inFlight: Int) -> Double {
        let perBlock = layouts.enumerated().map { position, block in
            block.parts.reduce(Double(collection.range(at: position).count) * 3 * 8) { bytes, part in
                let values = Double(part.rows) * Double(part.columns)
                return bytes + values * 8 + (part.rows == part.columns && part.shape.count == 2 ? 4 * values * 8 : 0)
            }
        }
        return perBlock.sorted(by: >).prefix(inFlight).reduce(0, +)
    }
}

private func pow3(_ n: Int) -> Double { Double(n) * Double(n) * Double(n) }

/// Errors of concurrent block workers, kept with their block's position:
/// the first in block order is thrown, whichever worker finished first.
private final class PositionedErrors: @unchecked Sendable {
    private var errors: [(position: Int, error: any Error)] = []
    private let lock = DispatchSemaphore(value: 1)

    func record(_ error: any Error, at position: Int) {
        lock.wait()
        errors.append((position, error))
        lock.signal()
    }

    func rethrow() throws {
        lock.wait()
        let first = errors.min { $0.position < $1.position }
        lock.signal()
        if let first { throw first.error }
    }
}
