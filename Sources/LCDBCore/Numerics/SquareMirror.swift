/// Makes a row-major square matrix symmetric from one of its triangles: the
/// stored `upper` layout and LAPACK's one-triangle results both need it.
public enum SquareMirror {
    public enum Triangle: Sendable { case upper, lower }

    /// Copies the `from` triangle over the other, in 32 x 32 squares (16 KiB
    /// of doubles read and written: both stay in L1 while the strided side
    /// is walked).
    @_specialize(where Scalar == Double)
    @_specialize(where Scalar == Float)
    public static func copy<Scalar>(_ a: UnsafeMutablePointer<Scalar>, side: Int, from triangle: Triangle) {
        let square = 32
        for rowStart in stride(from: 0, to: side, by: square) {
            let rowEnd = min(side, rowStart + square)
            for columnStart in stride(from: rowStart, to: side, by: square) {
                let columnEnd = min(side, columnStart + square)
                switch triangle {
                case .upper:
                    // Row j below the diagonal, written contiguously from column i's entries above.
                    for j in max(columnStart, rowStart + 1) ..< max(columnStart, columnEnd) {
                        let target = a + j * side
                        for i in rowStart ..< min(rowEnd, j) { target[i] = a[i * side + j] }
                    }
                case .lower:
                    for i in rowStart ..< rowEnd {
                        let target = a + i * side
                        for j in max(i + 1, columnStart) ..< max(i + 1, columnEnd) { target[j] = a[j * side + i] }
                    }
                }
            }
        }
    }
}
