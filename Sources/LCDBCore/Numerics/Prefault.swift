import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Faults fresh memory in on another core, ahead of the thread filling it.
/// The first write to a fresh page makes the kernel zero it: reading GPT-2's
/// 1 GB gradient from the store spent as long zeroing pages as copying
/// values, on one core while the other waited. `MADV_POPULATE_WRITE`
/// (Linux 5.14) maps the pages writable without writing them, so it is safe
/// beside the thread that writes; where the kernel lacks it nothing happens.
public enum Prefault {
    /// Regions smaller than this are faulted in by their writer.
    static let minimum = 64 << 20
    /// Populated a piece at a time, so the filler soon has pages to write to.
    static let piece = 16 << 20
    /// `LCDB_PREFAULT=0` turns it off (to measure it).
    static let enabled = getenv("LCDB_PREFAULT").map { String(cString: $0) != "0" } ?? true

    /// Runs `body`, which fills `bytes` from `start` front to back, while a
    /// background thread faults the region in from the front.
    public static func whileFilling<T>(_ start: UnsafeMutableRawPointer, bytes: Int, _ body: () throws -> T) rethrows -> T {
        guard enabled, bytes >= minimum else { return try body() }
        let stop = StopFlag()
        let region = RawRegion(start: start)
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            var offset = 0
            while offset < bytes, !stop.stopped.load(ordering: .relaxed) {
                guard populate(region.start + offset, bytes: min(piece, bytes - offset)) else { break }
                offset += piece
            }
            done.signal()
        }
        defer {
            stop.stopped.store(true, ordering: .relaxed)
            done.wait()
        }
        return try body()
    }

    /// Faults in the whole pages inside `bytes` from `start`, writable;
    /// false when the kernel refused (too old, or not anonymous memory).
    @discardableResult
    public static func populate(_ start: UnsafeMutableRawPointer, bytes: Int) -> Bool {
        #if canImport(Glibc)
        let page = 4096
        let first = (Int(bitPattern: start) + page - 1) / page * page
        let end = (Int(bitPattern: start) + bytes) / page * page
        guard end > first, let aligned = UnsafeMutableRawPointer(bitPattern: first) else { return true }
        return madvise(aligned, end - first, 23 /* MADV_POPULATE_WRITE */) == 0
        #else
        return false
        #endif
    }
}

/// The region handed to the faulting thread, which only populates its
/// pages (never reads or writes them), and only until the filler is done.
private struct RawRegion: @unchecked Sendable {
    let start: UnsafeMutableRawPointer
}

private final class StopFlag: Sendable {
    let stopped = Atomic<Bool>(false)
}
