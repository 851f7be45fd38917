import Dispatch
import LCDBCore

/// Reads tiles on the calling thread while a second thread works on the tile
/// read before, in two alternating buffers: copying pages out of SQLite and
/// the arithmetic each get a core. OpenBLAS runs single-threaded meanwhile,
/// so the two threads do not oversubscribe the cores. SQLite is only ever
/// called from the calling thread.
enum TileReadAhead {
    /// Calls `read(i, buffer)` for i in 0 ..< count, in order, then
    /// `work(i, buffer)` on the worker thread, in the same order. `capacity`
    /// is the largest tile, in values. If a read throws, the work already
    /// handed out finishes before the error is rethrown.
    static func run<Scalar: BLASScalar>(count: Int, capacity: Int,
                                        read: (Int, UnsafeMutablePointer<Scalar>) throws -> Void,
                                        work: @escaping @Sendable (Int, UnsafePointer<Scalar>) -> Void) throws {
        let buffers = [UnsafeMutablePointer<Scalar>.allocate(capacity: max(1, capacity)),
                       UnsafeMutablePointer<Scalar>.allocate(capacity: max(1, capacity))]
        defer { buffers.forEach { $0.deallocate() } }
        let free = [DispatchSemaphore(value: 1), DispatchSemaphore(value: 1)]
        let worker = DispatchQueue(label: "lcdb.tile-work")
        // Runs before the buffers are freed, on success and on error alike.
        defer { worker.sync {} }
        try BlockScheduler.withSingleThreadedBLAS {
            for index in 0 ..< count {
                let slot = index % 2
                free[slot].wait()
                do {
                    try read(index, buffers[slot])
                } catch {
                    free[slot].signal()
                    throw error
                }
                let buffer = SendablePointer(pointer: buffers[slot])
                let done = free[slot]
                worker.async {
                    work(index, buffer.pointer)
                    done.signal()
                }
            }
            worker.sync {}
        }
    }
}

/// A pointer handed to the worker thread, which alone uses it until it signals.
struct SendablePointer<Element>: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Element>
}
