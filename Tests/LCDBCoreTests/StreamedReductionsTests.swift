import Testing
@testable import LCDBCore

/// `StreamedReductions` fed random pieces must give the in-memory
/// reductions' numbers bit for bit (`Double.nrm2/asum/maxMagnitude(count:)`,
/// `reduce(0, +)`, Swift's max/min, the first extreme's index), for data
/// with NaN, infinities, values whose squares overflow or underflow (the
/// scaled second pass), ties and signed zeros; with small chunks too, so
/// that the seams between BLAS-sized chunks are crossed.
struct StreamedReductionsTests {
    enum Data: CaseIterable { case normal, nan, infinity, huge, tiny, ties, negativeZeros, mixedScale }

    static func values(_ data: Data, count: Int, _ generator: inout SeededGenerator) -> [Double] {
        var x = (0 ..< count).map { _ in Double.random(in: -3 ... 3, using: &generator) }
        guard count > 0 else { return x }
        switch data {
        case .normal: break
        case .nan: x[Int.random(in: 0 ..< count, using: &generator)] = .nan
        case .infinity: x[Int.random(in: 0 ..< count, using: &generator)] = -.infinity
        case .huge: x = x.map { $0 * 1e200 }
        case .tiny: x = x.map { $0 * 1e-200 }
        case .ties: x = x.map { $0.rounded() }
        case .negativeZeros: x = x.map { _ in -0.0 }
        case .mixedScale: x = x.enumerated().map { $0.offset % 97 == 0 ? $0.element * 1e180 : $0.element }
        }
        return x
    }

    static func same(_ a: Double, _ b: Double) -> Bool { a.bitPattern == b.bitPattern || (a.isNaN && b.isNaN) }

    /// Streams `x` in random pieces (twice when a second pass is asked for).
    static func streamed(_ x: [Double], chunkLength: Int?, needs: StreamedReductions.Needs = .all,
                         _ generator: inout SeededGenerator) -> StreamedReductions {
        var reductions = StreamedReductions(count: x.count, chunkLength: chunkLength, needs: needs)
        func feed(_ body: (UnsafeBufferPointer<Double>) -> Void) {
            x.withUnsafeBufferPointer { all in
                var start = 0
                while start < all.count {
                    let length = Swift.min(all.count - start, Int.random(in: 1 ... 700, using: &generator))
                    body(UnsafeBufferPointer(rebasing: all[start ..< start + length]))
                    start += length
                }
            }
        }
        feed { reductions.add($0) }
        if reductions.needsSecondPass { feed { reductions.addAgain($0) } }
        return reductions
    }

    @Test(arguments: [nil, 4, 9, 1000] as [Int?])
    func matchesTheInMemoryReductionsBitForBit(chunkLength: Int?) {
        var generator = SeededGenerator(seed: 7)
        for data in Data.allCases {
            for count in [0, 1, 3, 4, 5, 17, 1001, 4099] {
                let x = Self.values(data, count: count, &generator)
                let streamed = Self.streamed(x, chunkLength: chunkLength, &generator)
                // The in-memory side, in the same chunks (one chunk of 2^30 by default).
                let chunk = chunkLength.map { Swift.max(4, $0) } ?? count
                let starts = Array(stride(from: 0, to: count, by: Swift.max(1, chunk)))
                let (l2, l1, largest) = x.withUnsafeBufferPointer { all -> (Double, Double, Double) in
                    guard let base = all.baseAddress, count > 0 else { return (0, 0, 0) }
                    let norms = starts.map { Double.nrm2(count: Swift.min(chunk, count - $0), base + $0) }
                    var total = 0.0, best = 0.0
                    for start in starts {
                        total += Double.asum(count: Swift.min(chunk, count - start), base + start)
                        let piece = Double.maxMagnitude(count: Swift.min(chunk, count - start), base + start)
                        best = piece.isNaN || best.isNaN ? .nan : Swift.max(best, piece)
                    }
                    return (Norms.combined(norms), total, best)
                }
                let what = "\(data), \(count) values, chunks of \(chunkLength.map(String.init) ?? "2^30")"
                #expect(Self.same(streamed.norm(.l2), l2), "2-norm: \(what): \(streamed.norm(.l2)) vs \(l2)")
                #expect(Self.same(streamed.norm(.l1), l1), "1-norm: \(what)")
                #expect(Self.same(streamed.norm(.infinity), largest), "inf-norm: \(what)")
                guard count > 0 else { continue }
                #expect(Self.same(streamed.sum, x.reduce(0, +)), "sum: \(what)")
                #expect(Self.same(streamed.mean, x.reduce(0, +) / Double(count)), "mean: \(what)")
                let hasNaN = x.contains { $0.isNaN }
                #expect(Self.same(streamed.max, hasNaN ? .nan : x.max()!), "max: \(what)")
                #expect(Self.same(streamed.min, hasNaN ? .nan : x.min()!), "min: \(what)")
                var argmax = 0, argmin = 0
                if let nan = x.firstIndex(where: { $0.isNaN }) {
                    (argmax, argmin) = (nan, nan)
                } else {
                    for index in x.indices where x[index] > x[argmax] { argmax = index }
                    for index in x.indices where x[index] < x[argmin] { argmin = index }
                }
                #expect(streamed.argmax == argmax && streamed.argmin == argmin, "argmax/argmin: \(what)")
                // Asked for less, the same numbers.
                let norms = Self.streamed(x, chunkLength: chunkLength, needs: .norms, &generator)
                let l2Alone = Self.streamed(x, chunkLength: chunkLength, needs: .norm(.l2), &generator)
                #expect(Self.same(l2Alone.norm(.l2), l2), "the 2-norm alone: \(what)")
                let sums = Self.streamed(x, chunkLength: chunkLength, needs: .sum, &generator)
                let extremes = Self.streamed(x, chunkLength: chunkLength, needs: .extremes, &generator)
                #expect(Self.same(norms.norm(.l2), l2) && Self.same(norms.norm(.l1), l1) && Self.same(norms.norm(.infinity), largest), "norms alone: \(what)")
                #expect(Self.same(sums.sum, streamed.sum) && Self.same(extremes.max, streamed.max) && extremes.argmin == argmin, "sum or extremes alone: \(what)")
            }
        }
    }

    /// float32 vectors are streamed widened to Double: the same norms as
    /// the float32 in-memory ones (whose squares are formed in Double).
    @Test func float32ValuesWidenedGiveTheFloat32Norms() {
        var generator = SeededGenerator(seed: 11)
        for count in [1, 5, 1000, 4097] {
            let x = (0 ..< count).map { _ in Float.random(in: -1e30 ... 1e30, using: &generator) }
            let widened = x.map(Double.init)
            let streamed = Self.streamed(widened, chunkLength: nil, &generator)
            // Fed as Floats, in two pieces: the same numbers.
            var floats = StreamedReductions(count: count)
            x.withUnsafeBufferPointer { all in
                floats.add(UnsafeBufferPointer(rebasing: all[0 ..< count / 2]))
                floats.add(UnsafeBufferPointer(rebasing: all[count / 2 ..< count]))
            }
            var l2 = StreamedReductions(count: count, needs: .norm(.l2))
            x.withUnsafeBufferPointer { l2.add($0) }
            x.withUnsafeBufferPointer { all in
                #expect(Self.same(l2.norm(.l2), Float.nrm2(count: count, all.baseAddress!)), "the 2-norm alone, from Floats")
                for reduced in [streamed, floats] {
                    #expect(Self.same(reduced.norm(.l2), Float.nrm2(count: count, all.baseAddress!)))
                    #expect(Self.same(reduced.norm(.l1), Float.asum(count: count, all.baseAddress!)))
                    #expect(Self.same(reduced.norm(.infinity), Float.maxMagnitude(count: count, all.baseAddress!)))
                    #expect(Self.same(reduced.sum, widened.reduce(0, +)) && reduced.argmax == streamed.argmax)
                }
            }
        }
    }

    /// The second pass is taken exactly when the in-memory 2-norm scales.
    @Test func overflowingSquaresTakeTheScaledPass() {
        var generator = SeededGenerator(seed: 3)
        let huge = Self.values(.huge, count: 100, &generator)
        var once = StreamedReductions(count: huge.count)
        huge.withUnsafeBufferPointer { once.add($0) }
        #expect(once.needsSecondPass)
        let normal = Self.values(.normal, count: 100, &generator)
        var plain = StreamedReductions(count: normal.count)
        normal.withUnsafeBufferPointer { plain.add($0) }
        #expect(!plain.needsSecondPass)
    }
}
