import Dispatch

/// A fixed set of reusable objects (the buffers of the blocks in flight,
/// the workers' temporaries):
/// `take` waits until one is given back, so memory stays bounded however
/// far the reader runs ahead of the workers.
final class BoundedPool<Element: AnyObject>: @unchecked Sendable {
    private var free: [Element]
    private let lock = DispatchSemaphore(value: 1)
    private let available: DispatchSemaphore

    init(_ elements: [Element]) {
        free = elements
        available = DispatchSemaphore(value: elements.count)
    }

    func take() -> Element {
        available.wait()
        return pop()
    }

    /// One if any is free now, else nil.
    func takeIfFree() -> Element? {
        available.wait(timeout: .now()) == .success ? pop() : nil
    }

    func give(_ element: Element) {
        lock.wait()
        free.append(element)
        lock.signal()
        available.signal()
    }

    private func pop() -> Element {
        lock.wait()
        defer { lock.signal() }
        return free.removeLast()
    }
}
