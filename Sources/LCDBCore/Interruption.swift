import Synchronization

/// Ctrl-C for long operations: a signal handler calls `request()` (an atomic
/// store, safe in a handler) and loops over blocks and tiles call `check()`
/// between units of work.
public enum Interruption {
    private static let requested = Atomic<Bool>(false)

    public static func request() { requested.store(true, ordering: .relaxed) }

    public static func clear() { requested.store(false, ordering: .relaxed) }

    public static var isRequested: Bool { requested.load(ordering: .relaxed) }

    /// Throws `CoreError(.interrupted)` once a request is pending.
    public static func check() throws(CoreError) {
        if isRequested { throw CoreError(.interrupted, "interrupted") }
    }
}
