/// `sumInDouble` (BLASScalar.swift) fed a piece at a time: the terms of a
/// run of `count` go into the same four accumulators in the same order
/// (term i into accumulator i % 4, the last `count % 4` into the first), so
/// the total is the same to the last bit as summing the run at once. Stored
/// vectors larger than memory are reduced through it, with the results of
/// the in-memory reductions.
public struct InterleavedSum: Sendable {
    /// Terms before this index go round the four accumulators; from it on,
    /// into the first (`sumInDouble`'s tail loop).
    private let whole: Int
    /// How many terms were added.
    public private(set) var index = 0
    private var sums = (0.0, 0.0, 0.0, 0.0)

    public init(count: Int) {
        whole = count & ~3
    }

    /// Adds the next `n` terms, `term(k)` for k in 0 ..< n.
    @inline(__always)
    public mutating func add(_ n: Int, _ term: (Int) -> Double) {
        var k = 0
        // Up to a multiple of four (the accumulators' phase), one at a time.
        while k < n && index + k < whole && (index + k) & 3 != 0 {
            addOne(index + k, term(k))
            k += 1
        }
        // Whole groups of four, as sumInDouble's loop.
        let groups = max(0, min(n - k, whole - (index + k))) & ~3
        let end = k + groups
        while k < end {
            sums.0 += term(k)
            sums.1 += term(k + 1)
            sums.2 += term(k + 2)
            sums.3 += term(k + 3)
            k += 4
        }
        while k < n {
            addOne(index + k, term(k))
            k += 1
        }
        index += n
    }

    @inline(__always)
    private mutating func addOne(_ at: Int, _ value: Double) {
        guard at < whole else {
            sums.0 += value
            return
        }
        switch at & 3 {
        case 0: sums.0 += value
        case 1: sums.1 += value
        case 2: sums.2 += value
        default: sums.3 += value
        }
    }

    /// The sum, combined as sumInDouble combines it.
    public var total: Double { (sums.0 + sums.1) + (sums.2 + sums.3) }
}
