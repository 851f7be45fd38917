/// Cholesky factorisation of a row-major symmetric matrix, panel by panel, so
/// that Ctrl-C is answered within a fraction of a second even on a block of
/// ten thousand rows (one LAPACK `potrf` call on it runs for many seconds and
/// cannot be stopped). Right-looking: for each panel of columns, `potrf` on
/// its diagonal square, `trsm` for the rows below it, `syrk` to update the
/// rest. The result is LAPACK's: L in the row-major lower triangle (what
/// `potrs`/`potri` with uplo "U" read, since LAPACK sees the transpose); the
/// upper triangle is left as it was.
public enum PanelCholesky {
    /// Columns per panel: wide enough that `syrk` and `trsm` run at full
    /// speed (Benchmarks: cholesky, against one `potrf` call), narrow enough
    /// that one panel of a 10,000-wide block takes well under a second.
    public static let panel = 384

    /// Factors in place; false if the matrix is not positive definite (the
    /// values are then partly overwritten). Throws `interrupted` between panels.
    /// `checkInterruption` runs between panels (tests inject their own).
    public static func factor<Scalar: BLASScalar>(_ a: UnsafeMutablePointer<Scalar>, side: Int,
                                                  checkInterruption: () throws(CoreError) -> Void = { try Interruption.check() }) throws(CoreError) -> Bool {
        let lda = Int32(side)
        for start in stride(from: 0, to: side, by: panel) {
            try checkInterruption()
            let width = min(panel, side - start)
            let diagonal = a + start * side + start
            guard Scalar.potrf(Int32(width), diagonal, leadingDimension: lda) == 0 else { return false }
            let below = side - start - width
            guard below > 0 else { continue }
            let rowsBelow = diagonal + width * side
            Scalar.trsmRightLowerTransposed(rows: Int32(below), columns: Int32(width), diagonal, rowsBelow, leadingDimension: lda)
            Scalar.syrkLowerSubtract(side: Int32(below), inner: Int32(width), rowsBelow, rowsBelow + width, leadingDimension: lda)
        }
        return true
    }

    /// The inverse of the matrix whose factor `factor` made (L in the
    /// row-major lower triangle), whole and symmetric, row-major: X = L^-1 a
    /// panel of columns at a time (`trsm` on the trailing rows, as X is lower
    /// triangular), then A^-1 = X^T X a panel of rows at a time (`syrk` on the
    /// leading square). The same work as LAPACK's `potri`, checking for
    /// interruption between panels; one more `side x side` buffer.
    public static func inverse<Scalar: BLASScalar>(fromFactor l: UnsafePointer<Scalar>, side: Int,
                                                   checkInterruption: () throws(CoreError) -> Void = { try Interruption.check() }) throws(CoreError) -> [Scalar] {
        let lda = Int32(side)
        var x = [Scalar](repeating: 0, count: side * side)
        var result = [Scalar](repeating: 0, count: side * side)
        try x.withUnsafeMutableBufferPointer { (xBuffer: inout UnsafeMutableBufferPointer<Scalar>) throws(CoreError) in
            let x = xBuffer.baseAddress!
            for start in stride(from: 0, to: side, by: panel) {
                try checkInterruption()
                let width = min(panel, side - start)
                for t in 0 ..< width { x[(start + t) * side + start + t] = 1 }
                Scalar.trsmLeftLower(rows: Int32(side - start), columns: Int32(width), l + start * side + start,
                                     x + start * side + start, leadingDimension: lda)
            }
            try result.withUnsafeMutableBufferPointer { (resultBuffer: inout UnsafeMutableBufferPointer<Scalar>) throws(CoreError) in
                let c = resultBuffer.baseAddress!
                for start in stride(from: 0, to: side, by: panel) {
                    try checkInterruption()
                    let width = min(panel, side - start)
                    Scalar.syrkLowerAddTransposed(side: Int32(start + width), inner: Int32(width), x + start * side, c, leadingDimension: lda)
                }
                SquareMirror.copy(c, side: side, from: .lower)
            }
        }
        return result
    }
}
