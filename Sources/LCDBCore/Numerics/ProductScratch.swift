/// Temporaries a worker reuses from one block's product to the next: a
/// fresh 20 MB buffer per product is 5,000 page faults, each page zeroed by
/// the kernel, for memory the product then overwrites. One thread uses it
/// at a time.
public final class ProductScratch: @unchecked Sendable {
    private var slots: [(pointer: UnsafeMutablePointer<Double>, capacity: Int)] = []

    public init() {}

    deinit { slots.forEach { $0.pointer.deallocate() } }

    /// At least `count` values in buffer `slot`, undefined until written;
    /// valid until the next call for the same slot.
    public func buffer(_ count: Int, slot: Int) -> UnsafeMutablePointer<Double> {
        while slots.count <= slot { slots.append((UnsafeMutablePointer<Double>.allocate(capacity: 1), 1)) }
        if slots[slot].capacity >= count { return slots[slot].pointer }
        slots[slot].pointer.deallocate()
        let fresh = UnsafeMutablePointer<Double>.allocate(capacity: max(1, count))
        HugePages.advise(UnsafeMutableRawPointer(fresh), bytes: count * MemoryLayout<Double>.stride)
        slots[slot] = (fresh, max(1, count))
        return fresh
    }
}
