import COpenBLAS
import Dispatch

/// Runs one piece of work per block on all cores without oversubscribing them.
///
/// OpenBLAS threads each call itself, and lcdb runs independent blocks side by
/// side; doing both would put cores x cores threads on the machine. The rule:
/// a block that carries more than 1/cores of the total cost runs alone with
/// OpenBLAS's threads; the other blocks run concurrently, largest first, one
/// per core, with OpenBLAS single-threaded. OpenBLAS's thread count is restored
/// afterwards. Work must be independent across blocks.
public enum BlockScheduler {
    /// The number of threads OpenBLAS had when lcdb first looked (it honours
    /// OPENBLAS_NUM_THREADS), and so the number of cores lcdb uses.
    public static let cores: Int = max(1, Int(openblas_get_num_threads()))

    /// Runs `work(i)` for every block index, `cost[i]` being its relative cost
    /// (for example the block's element count).
    public static func run(costs: [Int], _ work: @Sendable (Int) -> Void) {
        let (large, small) = plan(costs: costs)
        for index in large { work(index) }
        guard !small.isEmpty else { return }
        if small.count == 1 {
            work(small[0])
            return
        }
        let order = small
        withSingleThreadedBLAS { DispatchQueue.concurrentPerform(iterations: order.count) { work(order[$0]) } }
    }

    /// The rule: the blocks that run alone with OpenBLAS's threads (each
    /// more than 1/cores of the total cost; all of them on one core), in
    /// block order, and the others, largest first, to run side by side.
    public static func plan(costs: [Int]) -> (alone: [Int], shared: [Int]) {
        let total = costs.reduce(0, +)
        let threshold = cores > 1 ? total / cores : 0
        let alone = costs.indices.filter { costs[$0] > threshold || cores == 1 }
        let shared = costs.indices.filter { !(costs[$0] > threshold || cores == 1) }.sorted { costs[$0] > costs[$1] }
        return (alone, shared)
    }

    /// `body(i)` for every block (`run`), each first checking for an
    /// interrupt; the results in block order, and of failures the first in
    /// block order is thrown.
    public static func map<T: Sendable>(costs: [Int], _ body: @escaping @Sendable (Int) throws(CoreError) -> T) throws(CoreError) -> [T] {
        var results = [Result<T, CoreError>?](repeating: nil, count: costs.count)
        results.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            let slots = SharedPointer(base: base)
            run(costs: costs) { index in
                do throws(CoreError) {
                    try Interruption.check()
                    slots.base[index] = .success(try body(index))
                } catch {
                    slots.base[index] = .failure(error)
                }
            }
        }
        return try results.map { result throws(CoreError) in
            guard let result else { preconditionFailure("run calls work for every index") }
            return try result.get()
        }
    }

    /// OpenBLAS on one thread until `endSingleThreadedBLAS(changed)`, for
    /// threads that outlive the call starting them (`FisherStream`'s
    /// workers). Returns whether it changed anything (false when OpenBLAS
    /// was already single-threaded, as inside `withSingleThreadedBLAS`).
    public static func beginSingleThreadedBLAS() -> Bool {
        guard openblas_get_num_threads() != 1 else { return false }
        openblas_set_num_threads(1)
        return true
    }

    /// Gives OpenBLAS its threads back if `beginSingleThreadedBLAS` took them.
    public static func endSingleThreadedBLAS(_ changed: Bool) {
        if changed { openblas_set_num_threads(Int32(cores)) }
    }

    /// Runs `body` with OpenBLAS on one thread (lcdb's own threads use the
    /// cores meanwhile), restoring its thread count afterwards. Nested in
    /// another such call (a builder's small product inside `LayerSplit`'s
    /// threads) it changes nothing: restoring there would give OpenBLAS its
    /// threads back while the outer threads still run.
    public static func withSingleThreadedBLAS<T>(_ body: () throws -> T) rethrows -> T {
        if openblas_get_num_threads() == 1 { return try body() }
        openblas_set_num_threads(1)
        defer { openblas_set_num_threads(Int32(cores)) }
        return try body()
    }
}

/// A pointer handed to concurrent block workers, each of which writes a
/// disjoint range.
struct SharedPointer<Element>: @unchecked Sendable {
    let base: UnsafeMutablePointer<Element>
}
