import Dispatch

/// A first-in, first-out queue between one producer and `consumers`
/// threads: `pop` waits for an item, and returns nil once the producer has
/// closed the queue and everything before the close is taken.
final class WorkQueue<Element>: @unchecked Sendable {
    private var items: [Element?] = []
    private var head = 0
    private let lock = DispatchSemaphore(value: 1)
    private let queued = DispatchSemaphore(value: 0)

    func push(_ item: Element) { append(item) }

    /// Ends the queue for `consumers` threads (one end mark each).
    func close(consumers: Int) { for _ in 0 ..< consumers { append(nil) } }

    func pop() -> Element? {
        queued.wait()
        lock.wait()
        defer { lock.signal() }
        let item = items[head]
        items[head] = nil
        head += 1
        return item
    }

    private func append(_ item: Element?) {
        lock.wait()
        items.append(item)
        lock.signal()
        queued.signal()
    }
}
