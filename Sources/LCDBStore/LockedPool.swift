import Dispatch
import LCDBCore

/// Reusable objects handed out and back under a lock (one per block in
/// flight, one per worker); `take` never waits: with all of them out it
/// makes another.
final class LockedPool<Element: AnyObject>: @unchecked Sendable {
    private var free: [Element]
    private let make: () -> Element
    private let lock = DispatchSemaphore(value: 1)

    init(count: Int, _ make: @escaping () -> Element) {
        self.make = make
        free = (0 ..< count).map { _ in make() }
    }

    func take() -> Element {
        lock.wait()
        defer { lock.signal() }
        return free.popLast() ?? make()
    }

    func give(_ element: Element) {
        lock.wait()
        defer { lock.signal() }
        free.append(element)
    }
}

typealias ScratchPool = LockedPool<ProductScratch>

extension LockedPool where Element == ProductScratch {
    convenience init(count: Int) { self.init(count: count) { ProductScratch() } }
}
