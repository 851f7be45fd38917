/// Level-1 operations over arrays of any length. OpenBLAS counts are 32-bit,
/// so arrays longer than `Int32.max` elements are processed in chunks.
extension BLASScalar {
    /// Largest count passed to one BLAS call.
    static var chunkLength: Int { 1 << 30 }

    private static func forEachChunk(_ count: Int, _ body: (_ start: Int, _ length: Int32) -> Void) {
        var start = 0
        while start < count {
            let length = Swift.min(chunkLength, count - start)
            body(start, Int32(length))
            start += length
        }
    }

    /// y += alpha * x
    public static func axpy(count: Int, alpha: Self, _ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>) {
        forEachChunk(count) { start, length in axpy(length, alpha, x + start, y + start) }
    }

    /// x *= alpha
    public static func scal(count: Int, alpha: Self, _ x: UnsafeMutablePointer<Self>) {
        forEachChunk(count) { start, length in scal(length, alpha, x + start) }
    }

    /// Dot product, accumulated in Double (float32 too).
    public static func dot(count: Int, _ x: UnsafePointer<Self>, _ y: UnsafePointer<Self>) -> Double {
        var total = 0.0
        forEachChunk(count) { start, length in total += dotInDouble(length, x + start, y + start) }
        return total
    }

    /// Euclidean norm, accumulated in Double, combining chunk norms without overflow.
    public static func nrm2(count: Int, _ x: UnsafePointer<Self>) -> Double {
        var norms: [Double] = []
        forEachChunk(count) { start, length in norms.append(nrm2InDouble(length, x + start)) }
        return Norms.combined(norms)
    }

    /// Sum of magnitudes, accumulated in Double.
    public static func asum(count: Int, _ x: UnsafePointer<Self>) -> Double {
        var total = 0.0
        forEachChunk(count) { start, length in total += asumInDouble(length, x + start) }
        return total
    }

    /// Largest magnitude (0 for an empty array), NaN when any value is NaN.
    public static func maxMagnitude(count: Int, _ x: UnsafePointer<Self>) -> Double {
        var best = 0.0
        forEachChunk(count) { start, length in
            let chunk = maxAbsInDouble(length, x + start)
            if chunk.isNaN || best.isNaN { best = .nan } else { best = Swift.max(best, chunk) }
        }
        return best
    }
}
