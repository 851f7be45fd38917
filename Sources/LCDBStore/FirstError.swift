import Dispatch

/// The first error a worker met, for the thread that started them to throw.
final class FirstError: @unchecked Sendable {
    private var error: (any Error)?
    private let lock = DispatchSemaphore(value: 1)

    func record(_ error: any Error) {
        lock.wait()
        defer { lock.signal() }
        if self.error == nil { self.error = error }
    }

    func rethrow() throws {
        lock.wait()
        let error = self.error
        lock.signal()
        if let error { throw error }
    }
}
