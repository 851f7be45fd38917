/// Temporaries a worker reuses from one block's product to the next: a
/// fresh 20 MB buffer per product is 5,000 page faults, each page zeroed by
/// the kernel, for memory the product then overwrites. One thread uses it
/// at a time.
public final class ProductScratch: @unchecked Sendable {
    private var slots: [(pointer: UnsafeMutablePointer<Double>, capacity: Int)] = []
    private let hugePages: Bool

    /// `hugePages: false` keeps 4 KB pages for buffers faulted in once and
    /// reused by every block (a stored product's): on this kind of virtual
    /// machine a fresh 2 MB page costs anywhere from 0.1 to 5 ms, as the
    /// host has it ready or not, while 4 KB pages cost a steady 0.36 ms per
    /// MB (`Benchmarks/kfac_bench.py`'s mv: median 5.98 s against 6.33 s).
    public init(hugePages: Bool = true) {
        self.hugePages = hugePages
    }

    deinit { slots.forEach { $0.pointer.deallocate() } }

    /// At least `count` values in buffer `slot`, undefined until written;
    /// valid until the next call for the same slot.
    public func buffer(_ count: Int, slot: Int) -> UnsafeMutablePointer<Double> {
        while slots.count <= slot { slots.append((UnsafeMutablePointer<Double>.allocate(capacity: 1), 1)) }
        if slots[slot].capacity >= count { return slots[slot].pointer }
        slots[slot].pointer.deallocate()
        let fresh = UnsafeMutablePointer<Double>.allocate(capacity: max(1, count))
        if hugePages { HugePages.advise(UnsafeMutableRawPointer(fresh), bytes: count * MemoryLayout<Double>.stride) }
        slots[slot] = (fresh, max(1, count))
        return fresh
    }
}
