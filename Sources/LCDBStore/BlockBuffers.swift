import LCDBCore

/// The memory one block's parts are read into: one region, reserved for
/// each block and carved into pieces in order, kept from one block to the
/// next and grown only when a block needs more. One region per set rather
/// than a buffer per part name: GPT-2's c_fc (`A` 769², `G` 3072²) and
/// mlp.c_proj (`A` 3073², `G` 768²) then share 80 MB instead of growing
/// both names to 75 MB each, and fresh memory costs a kernel page fault
/// and zeroing per page.
final class BlockBuffers: @unchecked Sendable {
    private let region = ProductScratch(hugePages: false)
    private var base: UnsafeMutablePointer<Double>?
    private var used = 0
    private var reserved = 0

    /// Pieces rounded up to whole 64-byte lines, so each starts aligned.
    static func rounded(_ count: Int) -> Int { (count + 7) / 8 * 8 }

    init() {}

    /// A set whose region is allocated for `capacity` values at once (not
    /// touched: pages cost nothing until written or `warm`ed), so it is
    /// never reallocated while blocks up to that size pass through it.
    init(capacity: Int) {
        _ = region.buffer(capacity, slot: 0)
    }

    /// Faults the first `count` values' pages in (`Prefault.populate`), on
    /// the calling thread, before the set is handed to a reader.
    func warm(_ count: Int) {
        Prefault.populate(UnsafeMutableRawPointer(region.buffer(count, slot: 0)), bytes: count * MemoryLayout<Double>.stride)
    }

    /// Room for pieces of `counts` values; earlier pieces are invalid after.
    func reserve(_ counts: [Int]) {
        reserved = counts.reduce(0) { $0 + BlockBuffers.rounded($1) }
        base = region.buffer(reserved, slot: 0)
        used = 0
    }

    /// The next `count` values of the reserved room, undefined until written.
    func next(_ count: Int) -> UnsafeMutablePointer<Double> {
        let piece = BlockBuffers.rounded(count)
        precondition(used + piece <= reserved, "BlockBuffers: more asked for than reserved")
        defer { used += piece }
        return base! + used
    }
}
