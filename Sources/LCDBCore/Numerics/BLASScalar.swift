import COpenBLAS

/// A floating-point type with OpenBLAS and LAPACK entry points: `Float`
/// (the `s` routines) and `Double` (the `d` routines).
///
/// Matrices are row-major throughout lcdb. LAPACK is column-major, so it sees
/// the transpose of each buffer: symmetric routines are unaffected, and the LU
/// routines pass `trans = "T"` where a solve with the matrix itself is meant.
/// Counts are 32-bit (`blasint`) in Debian's OpenBLAS; the level-1 helpers in
/// `BLASScalar+Chunked.swift` split longer arrays.
public protocol BLASScalar: BinaryFloatingPoint, Sendable {
    static var dtype: DType { get }

    /// y = alpha op(A) x + beta y for a row-major `rows x columns` A whose
    /// rows start `leadingDimension` values apart (a panel of a wider matrix).
    static func gemv(transposed: Bool, rows: Int32, columns: Int32, leadingDimension: Int32, alpha: Self,
                     _ a: UnsafePointer<Self>, _ x: UnsafePointer<Self>,
                     beta: Self, _ y: UnsafeMutablePointer<Self>)
    /// y = alpha A x + beta y for a symmetric row-major A, reading its lower triangle only.
    static func symv(side: Int32, alpha: Self, _ a: UnsafePointer<Self>, _ x: UnsafePointer<Self>,
                     beta: Self, _ y: UnsafeMutablePointer<Self>)
    static func gemm(rows: Int32, columns: Int32, inner: Int32,
                     _ a: UnsafePointer<Self>, _ b: UnsafePointer<Self>, _ c: UnsafeMutablePointer<Self>)
    static func axpy(_ n: Int32, _ alpha: Self, _ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>)
    static func scal(_ n: Int32, _ alpha: Self, _ x: UnsafeMutablePointer<Self>)
    static func dot(_ n: Int32, _ x: UnsafePointer<Self>, _ y: UnsafePointer<Self>) -> Self
    static func nrm2(_ n: Int32, _ x: UnsafePointer<Self>) -> Self
    static func asum(_ n: Int32, _ x: UnsafePointer<Self>) -> Self
    /// dot, nrm2 and asum accumulated in Double whatever the dtype: float32
    /// sums over millions of values drift by up to n * 6e-8 in float32.
    static func dotInDouble(_ n: Int32, _ x: UnsafePointer<Self>, _ y: UnsafePointer<Self>) -> Double
    static func nrm2InDouble(_ n: Int32, _ x: UnsafePointer<Self>) -> Double
    static func asumInDouble(_ n: Int32, _ x: UnsafePointer<Self>) -> Double
    /// The largest magnitude, NaN when any value is NaN (BLAS's iamax skips NaNs).
    static func maxAbsInDouble(_ n: Int32, _ x: UnsafePointer<Self>) -> Double
    /// Zero-based index of the element of largest magnitude.
    static func iamax(_ n: Int32, _ x: UnsafePointer<Self>) -> Int

    /// Cholesky factorisation in place; returns LAPACK's `info`.
    static func potrf(_ n: Int32, _ a: UnsafeMutablePointer<Self>) -> Int32
    /// The same on an `n x n` square of a wider row-major matrix (rows
    /// `leadingDimension` apart): the row-major lower triangle gets L.
    static func potrf(_ n: Int32, _ a: UnsafeMutablePointer<Self>, leadingDimension: Int32) -> Int32
    /// B := B L^-T for a row-major `rows x columns` B and lower-triangular
    /// `columns x columns` L, both rows `leadingDimension` apart.
    static func trsmRightLowerTransposed(rows: Int32, columns: Int32, _ l: UnsafePointer<Self>,
                                         _ b: UnsafeMutablePointer<Self>, leadingDimension: Int32)
    /// B := L^-1 B for a lower-triangular `rows x rows` L and a row-major
    /// `rows x columns` B, both rows `leadingDimension` apart.
    static func trsmLeftLower(rows: Int32, columns: Int32, _ l: UnsafePointer<Self>,
                              _ b: UnsafeMutablePointer<Self>, leadingDimension: Int32)
    /// The lower triangle of C := C + A^T A, A `inner x side`, all rows
    /// `leadingDimension` apart.
    static func syrkLowerAddTransposed(side: Int32, inner: Int32, _ a: UnsafePointer<Self>,
                                       _ c: UnsafeMutablePointer<Self>, leadingDimension: Int32)
    /// The lower triangle of C := C - A A^T, A `side x inner`, all rows
    /// `leadingDimension` apart.
    static func syrkLowerSubtract(side: Int32, inner: Int32, _ a: UnsafePointer<Self>,
                                  _ c: UnsafeMutablePointer<Self>, leadingDimension: Int32)
    static func potrs(_ n: Int32, _ a: UnsafePointer<Self>, _ b: UnsafeMutablePointer<Self>) -> Int32
    /// Inverse from a Cholesky factor; fills one triangle only.
    static func potri(_ n: Int32, _ a: UnsafeMutablePointer<Self>) -> Int32
    static func getrf(_ n: Int32, _ a: UnsafeMutablePointer<Self>, _ pivots: UnsafeMutablePointer<Int32>) -> Int32
    /// Solves with the row-major matrix whose LU factors `getrf` produced.
    static func getrs(_ n: Int32, _ a: UnsafePointer<Self>, _ pivots: UnsafePointer<Int32>,
                      _ b: UnsafeMutablePointer<Self>) -> Int32
    static func getri(_ n: Int32, _ a: UnsafeMutablePointer<Self>, _ pivots: UnsafePointer<Int32>) -> Int32
}

extension BLASScalar {
    /// gemv on a whole row-major matrix (rows start `columns` apart).
    public static func gemv(transposed: Bool, rows: Int32, columns: Int32, alpha: Self,
                            _ a: UnsafePointer<Self>, _ x: UnsafePointer<Self>,
                            beta: Self, _ y: UnsafeMutablePointer<Self>) {
        gemv(transposed: transposed, rows: rows, columns: columns, leadingDimension: columns,
             alpha: alpha, a, x, beta: beta, y)
    }
}

// The single-character LAPACK arguments, kept alive for the whole process.
private let upper: [CChar] = [CChar(UInt8(ascii: "U")), 0]
private let transpose: [CChar] = [CChar(UInt8(ascii: "T")), 0]

extension Double: BLASScalar {
    public static var dtype: DType { .float64 }

    public static func gemv(transposed: Bool, rows: Int32, columns: Int32, leadingDimension: Int32, alpha: Double,
                            _ a: UnsafePointer<Double>, _ x: UnsafePointer<Double>,
                            beta: Double, _ y: UnsafeMutablePointer<Double>) {
        cblas_dgemv(CblasRowMajor, transposed ? CblasTrans : CblasNoTrans, rows, columns,
                    alpha, a, leadingDimension, x, 1, beta, y, 1)
    }
    public static func symv(side: Int32, alpha: Double, _ a: UnsafePointer<Double>, _ x: UnsafePointer<Double>,
                            beta: Double, _ y: UnsafeMutablePointer<Double>) {
        cblas_dsymv(CblasRowMajor, CblasLower, side, alpha, a, side, x, 1, beta, y, 1)
    }
    public static func gemm(rows: Int32, columns: Int32, inner: Int32,
                            _ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, _ c: UnsafeMutablePointer<Double>) {
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, columns, inner,
                    1, a, inner, b, columns, 0, c, columns)
    }
    // Loops rather than daxpy/dscal, which skip the work when alpha is 0
    // (0 * inf gave 0, not NaN); the compiler vectorises these memory-bound loops.
    public static func axpy(_ n: Int32, _ alpha: Double, _ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>) {
        for index in 0 ..< Int(n) { y[index] += alpha * x[index] }
    }
    public static func scal(_ n: Int32, _ alpha: Double, _ x: UnsafeMutablePointer<Double>) {
        for index in 0 ..< Int(n) { x[index] *= alpha }
    }
    public static func dot(_ n: Int32, _ x: UnsafePointer<Double>, _ y: UnsafePointer<Double>) -> Double {
        cblas_ddot(n, x, 1, y, 1)
    }
    public static func nrm2(_ n: Int32, _ x: UnsafePointer<Double>) -> Double { cblas_dnrm2(n, x, 1) }
    public static func asum(_ n: Int32, _ x: UnsafePointer<Double>) -> Double { cblas_dasum(n, x, 1) }
    public static func dotInDouble(_ n: Int32, _ x: UnsafePointer<Double>, _ y: UnsafePointer<Double>) -> Double { dot(n, x, y) }
    // Loops rather than dnrm2/dasum: OpenBLAS's dnrm2 returns 0 over a NaN and
    // NaN over values near 1e308 whose norm is infinite; NumPy's answers are
    // NaN (any NaN), infinity (any infinity, or a true norm past the range).
    public static func nrm2InDouble(_ n: Int32, _ x: UnsafePointer<Double>) -> Double {
        let count = Int(n)
        let sum = sumInDouble(count) { x[$0] * x[$0] }
        // Squares overflow above about 1.3e154 and lose precision below 1.5e-154:
        // outside that range scale by the largest magnitude first.
        if sum.isNaN || (sum.isFinite && sum >= 0x1p-900) { return sum.squareRoot() }
        let largest = maxAbsInDouble(n, x)
        if largest == 0 || !largest.isFinite { return largest }
        let inverse = 1 / largest
        if inverse.isFinite {
            return largest * sumInDouble(count) { (x[$0] * inverse) * (x[$0] * inverse) }.squareRoot()
        }
        return largest * sumInDouble(count) { (x[$0] / largest) * (x[$0] / largest) }.squareRoot()
    }
    public static func asumInDouble(_ n: Int32, _ x: UnsafePointer<Double>) -> Double {
        sumInDouble(Int(n)) { abs(x[$0]) }
    }
    public static func maxAbsInDouble(_ n: Int32, _ x: UnsafePointer<Double>) -> Double {
        var best = 0.0
        for index in 0 ..< Int(n) {
            let magnitude = abs(x[index])
            if magnitude > best { best = magnitude } else if magnitude.isNaN { return .nan }
        }
        return best
    }
    public static func iamax(_ n: Int32, _ x: UnsafePointer<Double>) -> Int { Int(cblas_idamax(n, x, 1)) }

    public static func potrf(_ n: Int32, _ a: UnsafeMutablePointer<Double>) -> Int32 {
        var n = n, lda = max(n, 1), info: Int32 = 0
        dpotrf_(upper, &n, a, &lda, &info, 1)
        return info
    }
    public static func potrf(_ n: Int32, _ a: UnsafeMutablePointer<Double>, leadingDimension: Int32) -> Int32 {
        var n = n, lda = max(leadingDimension, 1), info: Int32 = 0
        dpotrf_(upper, &n, a, &lda, &info, 1)
        return info
    }
    public static func trsmRightLowerTransposed(rows: Int32, columns: Int32, _ l: UnsafePointer<Double>,
                                                _ b: UnsafeMutablePointer<Double>, leadingDimension: Int32) {
        cblas_dtrsm(CblasRowMajor, CblasRight, CblasLower, CblasTrans, CblasNonUnit, rows, columns, 1,
                    l, leadingDimension, b, leadingDimension)
    }
    public static func trsmLeftLower(rows: Int32, columns: Int32, _ l: UnsafePointer<Double>,
                                     _ b: UnsafeMutablePointer<Double>, leadingDimension: Int32) {
        cblas_dtrsm(CblasRowMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit, rows, columns, 1,
                    l, leadingDimension, b, leadingDimension)
    }
    public static func syrkLowerAddTransposed(side: Int32, inner: Int32, _ a: UnsafePointer<Double>,
                                              _ c: UnsafeMutablePointer<Double>, leadingDimension: Int32) {
        cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, side, inner, 1, a, leadingDimension, 1, c, leadingDimension)
    }
    public static func syrkLowerSubtract(side: Int32, inner: Int32, _ a: UnsafePointer<Double>,
                                         _ c: UnsafeMutablePointer<Double>, leadingDimension: Int32) {
        cblas_dsyrk(CblasRowMajor, CblasLower, CblasNoTrans, side, inner, -1, a, leadingDimension, 1, c, leadingDimension)
    }
    public static func potrs(_ n: Int32, _ a: UnsafePointer<Double>, _ b: UnsafeMutablePointer<Double>) -> Int32 {
        var n = n, nrhs: Int32 = 1, lda = max(n, 1), info: Int32 = 0
        dpotrs_(upper, &n, &nrhs, a, &lda, b, &lda, &info, 1)
        return info
    }
    public static func potri(_ n: Int32, _ a: UnsafeMutablePointer<Double>) -> Int32 {
        var n = n, lda = max(n, 1), info: Int32 = 0
        dpotri_(upper, &n, a, &lda, &info, 1)
        return info
    }
    public static func getrf(_ n: Int32, _ a: UnsafeMutablePointer<Double>, _ pivots: UnsafeMutablePointer<Int32>) -> Int32 {
        var n = n, lda = max(n, 1), info: Int32 = 0
        dgetrf_(&n, &n, a, &lda, pivots, &info)
        return info
    }
    public static func getrs(_ n: Int32, _ a: UnsafePointer<Double>, _ pivots: UnsafePointer<Int32>,
                             _ b: UnsafeMutablePointer<Double>) -> Int32 {
        var n = n, nrhs: Int32 = 1, lda = max(n, 1), info: Int32 = 0
        dgetrs_(transpose, &n, &nrhs, a, &lda, pivots, b, &lda, &info, 1)
        return info
    }
    public static func getri(_ n: Int32, _ a: UnsafeMutablePointer<Double>, _ pivots: UnsafePointer<Int32>) -> Int32 {
        var n = n, lda = max(n, 1), info: Int32 = 0
        var query: Double = 0, lwork: Int32 = -1
        dgetri_(&n, a, &lda, pivots, &query, &lwork, &info)
        lwork = max(Int32(query), n, 1)
        var work = [Double](repeating: 0, count: Int(lwork))
        dgetri_(&n, a, &lda, pivots, &work, &lwork, &info)
        return info
    }
}

extension Float: BLASScalar {
    public static var dtype: DType { .float32 }

    public static func gemv(transposed: Bool, rows: Int32, columns: Int32, leadingDimension: Int32, alpha: Float,
                            _ a: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
                            beta: Float, _ y: UnsafeMutablePointer<Float>) {
        cblas_sgemv(CblasRowMajor, transposed ? CblasTrans : CblasNoTrans, rows, columns,
                    alpha, a, leadingDimension, x, 1, beta, y, 1)
    }
    public static func symv(side: Int32, alpha: Float, _ a: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
                            beta: Float, _ y: UnsafeMutablePointer<Float>) {
        cblas_ssymv(CblasRowMajor, CblasLower, side, alpha, a, side, x, 1, beta, y, 1)
    }
    public static func gemm(rows: Int32, columns: Int32, inner: Int32,
                            _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, columns, inner,
                    1, a, inner, b, columns, 0, c, columns)
    }
    // Loops rather than saxpy/sscal, which skip the work when alpha is 0
    // (0 * inf gave 0, not NaN); the compiler vectorises these memory-bound loops.
    public static func axpy(_ n: Int32, _ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        for index in 0 ..< Int(n) { y[index] += alpha * x[index] }
    }
    public static func scal(_ n: Int32, _ alpha: Float, _ x: UnsafeMutablePointer<Float>) {
        for index in 0 ..< Int(n) { x[index] *= alpha }
    }
    public static func dot(_ n: Int32, _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>) -> Float {
        cblas_sdot(n, x, 1, y, 1)
    }
    public static func nrm2(_ n: Int32, _ x: UnsafePointer<Float>) -> Float { cblas_snrm2(n, x, 1) }
    public static func asum(_ n: Int32, _ x: UnsafePointer<Float>) -> Float { cblas_sasum(n, x, 1) }
    // OpenBLAS's dsdot rounds each product to float32 before summing in
    // Double (a bias of up to 6e-8 on constant data), so these are loops: a
    // float32 product is exact in Double.
    public static func dotInDouble(_ n: Int32, _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>) -> Double {
        sumInDouble(Int(n)) { Double(x[$0]) * Double(y[$0]) }
    }
    public static func nrm2InDouble(_ n: Int32, _ x: UnsafePointer<Float>) -> Double {
        // A float32 value squared can neither overflow nor underflow a Double.
        sumInDouble(Int(n)) { Double(x[$0]) * Double(x[$0]) }.squareRoot()
    }
    public static func asumInDouble(_ n: Int32, _ x: UnsafePointer<Float>) -> Double {
        sumInDouble(Int(n)) { Double(abs(x[$0])) }
    }
    public static func maxAbsInDouble(_ n: Int32, _ x: UnsafePointer<Float>) -> Double {
        var best: Float = 0
        for index in 0 ..< Int(n) {
            let magnitude = abs(x[index])
            if magnitude > best { best = magnitude } else if magnitude.isNaN { return .nan }
        }
        return Double(best)
    }

    public static func iamax(_ n: Int32, _ x: UnsafePointer<Float>) -> Int { Int(cblas_isamax(n, x, 1)) }

    public static func potrf(_ n: Int32, _ a: UnsafeMutablePointer<Float>) -> Int32 {
        var n = n, lda = max(n, 1), info: Int32 = 0
        spotrf_(upper, &n, a, &lda, &info, 1)
        return info
    }
    public static func potrf(_ n: Int32, _ a: UnsafeMutablePointer<Float>, leadingDimension: Int32) -> Int32 {
        var n = n, lda = max(leadingDimension, 1), info: Int32 = 0
        spotrf_(upper, &n, a, &lda, &info, 1)
        return info
    }
    public static func trsmRightLowerTransposed(rows: Int32, columns: Int32, _ l: UnsafePointer<Float>,
                                                _ b: UnsafeMutablePointer<Float>, leadingDimension: Int32) {
        cblas_strsm(CblasRowMajor, CblasRight, CblasLower, CblasTrans, CblasNonUnit, rows, columns, 1,
                    l, leadingDimension, b, leadingDimension)
    }
    public static func trsmLeftLower(rows: Int32, columns: Int32, _ l: UnsafePointer<Float>,
                                     _ b: UnsafeMutablePointer<Float>, leadingDimension: Int32) {
        cblas_strsm(CblasRowMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit, rows, columns, 1,
                    l, leadingDimension, b, leadingDimension)
    }
    public static func syrkLowerAddTransposed(side: Int32, inner: Int32, _ a: UnsafePointer<Float>,
                                              _ c: UnsafeMutablePointer<Float>, leadingDimension: Int32) {
        cblas_ssyrk(CblasRowMajor, CblasLower, CblasTrans, side, inner, 1, a, leadingDimension, 1, c, leadingDimension)
    }
    public static func syrkLowerSubtract(side: Int32, inner: Int32, _ a: UnsafePointer<Float>,
                                         _ c: UnsafeMutablePointer<Float>, leadingDimension: Int32) {
        cblas_ssyrk(CblasRowMajor, CblasLower, CblasNoTrans, side, inner, -1, a, leadingDimension, 1, c, leadingDimension)
    }
    public static func potrs(_ n: Int32, _ a: UnsafePointer<Float>, _ b: UnsafeMutablePointer<Float>) -> Int32 {
        var n = n, nrhs: Int32 = 1, lda = max(n, 1), info: Int32 = 0
        spotrs_(upper, &n, &nrhs, a, &lda, b, &lda, &info, 1)
        return info
    }
    public static func potri(_ n: Int32, _ a: UnsafeMutablePointer<Float>) -> Int32 {
        var n = n, lda = max(n, 1), info: Int32 = 0
        spotri_(upper, &n, a, &lda, &info, 1)
        return info
    }
    public static func getrf(_ n: Int32, _ a: UnsafeMutablePointer<Float>, _ pivots: UnsafeMutablePointer<Int32>) -> Int32 {
        var n = n, lda = max(n, 1), info: Int32 = 0
        sgetrf_(&n, &n, a, &lda, pivots, &info)
        return info
    }
    public static func getrs(_ n: Int32, _ a: UnsafePointer<Float>, _ pivots: UnsafePointer<Int32>,
                             _ b: UnsafeMutablePointer<Float>) -> Int32 {
        var n = n, nrhs: Int32 = 1, lda = max(n, 1), info: Int32 = 0
        sgetrs_(transpose, &n, &nrhs, a, &lda, pivots, b, &lda, &info, 1)
        return info
    }
    public static func getri(_ n: Int32, _ a: UnsafeMutablePointer<Float>, _ pivots: UnsafePointer<Int32>) -> Int32 {
        var n = n, lda = max(n, 1), info: Int32 = 0
        var query: Float = 0, lwork: Int32 = -1
        sgetri_(&n, a, &lda, pivots, &query, &lwork, &info)
        lwork = max(Int32(query), n, 1)
        var work = [Float](repeating: 0, count: Int(lwork))
        sgetri_(&n, a, &lda, pivots, &work, &lwork, &info)
        return info
    }
}

/// The sum of `term(i)` for i in 0 ..< count, in four interleaved Double
/// accumulators so the loop does not wait on one addition at a time
/// (`InterleavedSum`, which streamed reductions feed a piece at a time).
@inline(__always)
private func sumInDouble(_ count: Int, _ term: (Int) -> Double) -> Double {
    var sum = InterleavedSum(count: count)
    sum.add(count, term)
    return sum.total
}
