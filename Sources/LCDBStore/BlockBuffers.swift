import LCDBCore

/// The buffers one block's parts are read into, by part name, kept (and
/// grown as needed) from one block to the next.
final class BlockBuffers: @unchecked Sendable {
    private var storage: [String: ProductScratch] = [:]

    func buffer(_ part: String, count: Int) -> UnsafeMutablePointer<Double> {
        let scratch = storage[part] ?? ProductScratch()
        storage[part] = scratch
        return scratch.buffer(count, slot: 0)
    }
}
