/// Makes a row-major square matrix symmetric from one of its triangles: the
/// stored `upper` layout and LAPACK's one-triangle results both need it.
public enum SquareMirror {
    public enum Triangle: Sendable { case upper, lower }

    /// Copies the `from` triangle over the other, in 64 x 64 squares so that
    /// the rows read and the columns written stay in cache.
    public static func copy<Scalar>(_ a: UnsafeMutablePointer<Scalar>, side: Int, from triangle: Triangle) {
        let square = 64
        for rowStart in stride(from: 0, to: side, by: square) {
            for columnStart in stride(from: rowStart, to: side, by: square) {
                for i in rowStart ..< min(side, rowStart + square) {
                    for j in max(i + 1, columnStart) ..< max(i + 1, min(side, columnStart + square)) {
                        // (i, j) is above the diagonal, (j, i) below it.
                        if triangle == .upper { a[j * side + i] = a[i * side + j] } else { a[i * side + j] = a[j * side + i] }
                    }
                }
            }
        }
    }
}
