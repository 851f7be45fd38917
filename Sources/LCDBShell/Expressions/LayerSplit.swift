import Dispatch
import Foundation
import LCDBCore

/// One pass over data files with the layers split between the cores: the
/// layers' accumulators are independent, so each thread reads its own layers
/// (`pread`, nothing shared) and accumulates them with OpenBLAS on one thread,
/// and the builders are combined after. Reading then overlaps arithmetic, and
/// small factors stop waking OpenBLAS's threads for each product.
enum LayerSplit {
    /// Layer positions in groups, one per core: the largest cost first, each to
    /// the least loaded group; layers of cost 0 and empty groups left out.
    static func groups(costs: [Double]) -> [Set<Int>] {
        var groups = [Set<Int>](repeating: [], count: BlockScheduler.cores)
        var loads = [Double](repeating: 0, count: groups.count)
        for position in costs.indices.filter({ costs[$0] > 0 }).sorted(by: { costs[$0] > costs[$1] }) {
            let least = loads.indices.min { loads[$0] < loads[$1] } ?? 0
            groups[least].insert(position)
            loads[least] += costs[position]
        }
        return groups.filter { !$0.isEmpty }
    }

    /// `work(group)` for every group, each on its own thread; the results in
    /// the groups' order, or the first error thrown.
    static func run<Result>(_ groups: [Set<Int>], _ work: @escaping (Set<Int>) throws -> Result) throws -> [Result] {
        let shared = Shared<Result>(groups.count, work)
        BlockScheduler.withSingleThreadedBLAS {
            DispatchQueue.concurrentPerform(iterations: groups.count) { index in
                do {
                    let result = try shared.work(groups[index])
                    shared.lock.withLock { shared.results[index] = result }
                } catch {
                    shared.lock.withLock { shared.errors.append(error) }
                }
            }
        }
        if let error = shared.errors.first { throw error }
        return shared.results.map { $0! }
    }

    /// `report` made safe to call from the threads of `run`.
    static func synchronized(_ report: @escaping (Int) -> Void) -> (Int) -> Void {
        let lock = NSLock()
        return { done in lock.withLock { report(done) } }
    }

    /// What the threads share: the work (reading files with pread and
    /// accumulating into its own builder), and what they hand back, under a lock.
    private final class Shared<Result>: @unchecked Sendable {
        let work: (Set<Int>) throws -> Result
        let lock = NSLock()
        var results: [Result?]
        var errors: [any Error] = []
        init(_ count: Int, _ work: @escaping (Set<Int>) throws -> Result) {
            self.work = work
            results = Array(repeating: nil, count: count)
        }
    }
}
