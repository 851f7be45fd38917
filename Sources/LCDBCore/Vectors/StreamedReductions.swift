/// The reductions of a vector (`norm` 1, 2 and infinity, `sum`, `mean`,
/// `max`, `min`, `argmax`, `argmin`) over values that arrive a piece at a
/// time, in order, as Doubles (float32 values widened, which is exact), with
/// the same results to the last bit as over the whole array in memory
/// (`ParameterVector.norm`, the shell's reductions): each sum is formed in
/// the same order and chunks (`InterleavedSum`, 2^30 values per BLAS-sized
/// chunk). So a stored vector larger than memory is reduced without being
/// loaded, and a smaller one without a copy of it.
///
/// A 2-norm whose squares overflow or underflow (values beyond about 1e154
/// or all below 1e-154) needs a second pass, scaled by the largest value,
/// as in memory: `needsSecondPass`, then the values again to `addAgain`.
public struct StreamedReductions: Sendable {
    public let count: Int
    /// Values seen in the first pass.
    public private(set) var seen = 0

    public private(set) var sum = 0.0
    private var squares: InterleavedSum
    private var magnitudes: InterleavedSum
    private var chunkLargest = 0.0
    private var chunkHasNaN = false
    /// The 2-norm of each finished chunk; nil for a chunk to scale (its largest magnitude beside it).
    private var chunkNorms: [Double?] = []
    private var scales: [Int: Double] = [:]
    private var absoluteSum = 0.0
    private var largestMagnitude = 0.0
    private var firstNaN: Int?
    private var largestAt = 0, smallestAt = 0
    private var largestValue = 0.0, smallestValue = 0.0

    /// Second pass: the scaled sums of the chunks that need one.
    private var againSeen = 0
    private var scaled: [Int: InterleavedSum] = [:]

    /// Values per chunk: the in-memory reductions' BLAS-sized chunks
    /// (2^30); tests give a small one to check the chunks' seams.
    private let chunkLength: Int

    /// What a reduction reads the values for; the others are skipped (a
    /// 2-norm alone does a third of the work of everything).
    public struct Needs: OptionSet, Sendable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }
        public static let l2 = Needs(rawValue: 1)
        public static let l1 = Needs(rawValue: 8)
        public static let infinity = Needs(rawValue: 16)
        /// The 1-, 2- and infinity norms.
        public static let norms: Needs = [.l2, .l1, .infinity]
        /// `sum` and `mean`.
        public static let sum = Needs(rawValue: 2)
        /// `max`, `min`, `argmax`, `argmin`.
        public static let extremes = Needs(rawValue: 4)
        public static let all: Needs = [.norms, .sum, .extremes]

        /// What `norm(kind)` needs.
        public static func norm(_ kind: VectorNorm) -> Needs {
            switch kind {
            case .l1: .l1
            case .l2: .l2
            case .infinity: .infinity
            }
        }
    }

    /// What `add` computes; asking for another result is a programming error.
    public let needs: Needs

    public init(count: Int, chunkLength: Int? = nil, needs: Needs = .all) {
        self.count = count
        self.needs = needs
        self.chunkLength = Swift.max(4, chunkLength ?? Double.chunkLength)
        let first = Swift.min(count, self.chunkLength)
        squares = InterleavedSum(count: first)
        magnitudes = InterleavedSum(count: first)
    }

    /// The next values, in order.
    public mutating func add(_ values: UnsafeBufferPointer<Double>) { addValues(values) }

    /// The next values of a float32 vector, in order: each widened as it
    /// is used (exact), as the float32 in-memory reductions do, with no
    /// widened copy.
    public mutating func add(_ values: UnsafeBufferPointer<Float>) { addValues(values) }

    @inline(__always)
    private mutating func addValues<T: BinaryFloatingPoint>(_ values: UnsafeBufferPointer<T>) {
        Self.spans(of: values, from: seen, count: count, chunkLength: chunkLength) { chunk, chunkEnd, x, n in
            if needs.contains(.l2) { squares.add(n) { Double(x[$0]) * Double(x[$0]) } }
            if needs.contains(.l1) { magnitudes.add(n) { abs(Double(x[$0])) } }
            // The largest magnitude: the infinity norm, and a float64 2-norm's
            // scale should its squares over- or underflow (float32 squares,
            // formed in Double, can do neither).
            if needs.contains(.infinity) || (needs.contains(.l2) && T.self == Double.self) {
                for k in 0 ..< n {
                    let magnitude = abs(Double(x[k]))
                    if magnitude > chunkLargest { chunkLargest = magnitude } else if magnitude.isNaN { chunkHasNaN = true }
                }
            }
            if needs.contains(.sum) {
                for k in 0 ..< n { sum += Double(x[k]) }
            }
            if needs.contains(.extremes) {
                for k in 0 ..< n {
                    let value = Double(x[k]), at = seen + k
                    if value.isNaN, firstNaN == nil { firstNaN = at }
                    // The first of equal extremes, as Swift's max()/min() and the
                    // in-memory argmax keep (a NaN anywhere decides the results).
                    if at == 0 {
                        (largestValue, smallestValue) = (value, value)
                    } else if value > largestValue {
                        (largestValue, largestAt) = (value, at)
                    } else if value < smallestValue {
                        (smallestValue, smallestAt) = (value, at)
                    }
                }
            }
            seen += n
            if seen == chunkEnd { finishChunk(chunk, length: chunkEnd - chunk * chunkLength) }
        }
    }

    /// `values`, the first at flat index `start`, cut at the chunks' seams:
    /// `body(chunk, its end, the piece, its length)` for each piece.
    @inline(__always)
    private static func spans<T>(of values: UnsafeBufferPointer<T>, from start: Int, count: Int, chunkLength: Int,
                                 _ body: (Int, Int, UnsafePointer<T>, Int) -> Void) {
        guard let base = values.baseAddress else { return }
        var done = 0
        while done < values.count {
            let chunk = (start + done) / chunkLength
            let chunkEnd = Swift.min(count, (chunk + 1) * chunkLength)
            let n = Swift.min(values.count - done, chunkEnd - (start + done))
            body(chunk, chunkEnd, base + done, n)
            done += n
        }
    }

    /// nrm2InDouble's choice for a finished chunk; asum and the largest
    /// magnitude as `BLASScalar.asum` and `maxMagnitude` combine them.
    private mutating func finishChunk(_ chunk: Int, length: Int) {
        let squared = squares.total
        let largest = chunkHasNaN ? Double.nan : chunkLargest
        if squared.isNaN || (squared.isFinite && squared >= 0x1p-900) {
            chunkNorms.append(squared.squareRoot())
        } else if largest == 0 || !largest.isFinite {
            chunkNorms.append(largest)
        } else {
            chunkNorms.append(nil)
            scales[chunk] = largest
            scaled[chunk] = InterleavedSum(count: length)
        }
        absoluteSum += magnitudes.total
        if largest.isNaN || largestMagnitude.isNaN { largestMagnitude = .nan } else { largestMagnitude = Swift.max(largestMagnitude, largest) }
        let next = Swift.min(count - seen, chunkLength)
        squares = InterleavedSum(count: next)
        magnitudes = InterleavedSum(count: next)
        chunkLargest = 0
        chunkHasNaN = false
    }

    /// True when the 2-norm needs the values again (`addAgain`).
    public var needsSecondPass: Bool { !scales.isEmpty }

    /// The values again, in order, for the chunks whose squares over- or underflowed.
    public mutating func addAgain(_ values: UnsafeBufferPointer<Double>) {
        Self.spans(of: values, from: againSeen, count: count, chunkLength: chunkLength) { chunk, _, x, n in
            if let largest = scales[chunk], var total = scaled[chunk] {
                let inverse = 1 / largest
                if inverse.isFinite {
                    total.add(n) { (x[$0] * inverse) * (x[$0] * inverse) }
                } else {
                    total.add(n) { (x[$0] / largest) * (x[$0] / largest) }
                }
                scaled[chunk] = total
            }
            againSeen += n
        }
    }

    /// The 1-, 2- or infinity norm (0 for no values).
    public func norm(_ kind: VectorNorm) -> Double {
        guard count > 0 else { return 0 }
        switch kind {
        case .l1: return absoluteSum
        case .infinity: return largestMagnitude
        case .l2:
            let norms = chunkNorms.enumerated().map { chunk, norm in
                norm ?? scales[chunk]! * (scaled[chunk]?.total ?? .nan).squareRoot()
            }
            return Norms.combined(norms)
        }
    }

    public var mean: Double { sum / Double(count) }
    /// The largest value; NaN when any is NaN.
    public var max: Double { firstNaN == nil ? largestValue : .nan }
    /// The smallest value; NaN when any is NaN.
    public var min: Double { firstNaN == nil ? smallestValue : .nan }
    /// The flat index of the largest value (the first of equals), or of the first NaN.
    public var argmax: Int { firstNaN ?? largestAt }
    /// The flat index of the smallest value (the first of equals), or of the first NaN.
    public var argmin: Int { firstNaN ?? smallestAt }
}
