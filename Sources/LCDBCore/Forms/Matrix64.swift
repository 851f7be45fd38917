import COpenBLAS

/// A small dense float64 matrix, row-major: the factors, eigenbases and
/// scalings of structured blocks (megabytes, not the layer's whole block).
/// Products go through OpenBLAS `dgemm`, eigendecompositions through LAPACK
/// `dsyevd`.
public struct Matrix64: Equatable, Sendable {
    public let rows: Int
    public let columns: Int
    public var values: [Double]

    public init(rows: Int, columns: Int, values: [Double]) {
        precondition(values.count == rows * columns, "Matrix64: \(values.count) values for \(rows) x \(columns)")
        self.rows = rows
        self.columns = columns
        self.values = values
    }

    public init(zeros rows: Int, _ columns: Int) {
        self.init(rows: rows, columns: columns, values: [Double](repeating: 0, count: rows * columns))
    }

    public static func identity(_ n: Int) -> Matrix64 {
        var m = Matrix64(zeros: n, n)
        for i in 0 ..< n { m.values[i * n + i] = 1 }
        return m
    }

    public subscript(row: Int, column: Int) -> Double {
        get { values[row * columns + column] }
        set { values[row * columns + column] = newValue }
    }

    /// op(a) op(b), op transposing when asked.
    public static func product(_ a: Matrix64, _ b: Matrix64, transposeA: Bool = false, transposeB: Bool = false) -> Matrix64 {
        let m = transposeA ? a.columns : a.rows
        let k = transposeA ? a.rows : a.columns
        let n = transposeB ? b.rows : b.columns
        precondition(k == (transposeB ? b.columns : b.rows), "Matrix64.product: inner sizes differ")
        guard m > 0, n > 0, k > 0 else { return Matrix64(zeros: m, n) }
        // dgemm with beta = 0 writes every entry: no zero fill first.
        let values = [Double](unsafeUninitializedCapacity: m * n) { pc, count in
            a.values.withUnsafeBufferPointer { pa in
                b.values.withUnsafeBufferPointer { pb in
                    cblas_dgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                                Int32(m), Int32(n), Int32(k), 1, pa.baseAddress!, Int32(a.columns),
                                pb.baseAddress!, Int32(b.columns), 0, pc.baseAddress!, Int32(n))
                }
            }
            count = m * n
        }
        return Matrix64(rows: m, columns: n, values: values)
    }

    public func transposed() -> Matrix64 {
        var t = Matrix64(zeros: columns, rows)
        for i in 0 ..< rows { for j in 0 ..< columns { t.values[j * rows + i] = values[i * columns + j] } }
        return t
    }

    public var trace: Double { (0 ..< min(rows, columns)).reduce(0) { $0 + values[$1 * columns + $1] } }

    public var diagonal: [Double] { (0 ..< min(rows, columns)).map { values[$0 * columns + $0] } }

    /// IEEE like NumPy: NaN if any NaN, no spurious overflow.
    public var frobeniusNorm: Double {
        Matrix64.norm(values)
    }

    /// The 2-norm of `values`, NaN- and overflow-aware (lcdb's own loops).
    public static func norm(_ values: [Double]) -> Double {
        values.isEmpty ? 0 : values.withUnsafeBufferPointer { Double.nrm2(count: $0.count, $0.baseAddress!) }
    }

    /// Largest |a_ij - a_ji| relative to the largest |a_ij|; 0 for an exactly symmetric matrix.
    public var asymmetry: Double {
        guard rows == columns else { return .infinity }
        var largest = 0.0, difference = 0.0
        values.withUnsafeBufferPointer { a in
            for value in a { largest = max(largest, abs(value)) }
            // In 64 x 64 squares, so that the column walked stays in cache.
            let square = 64
            for rowStart in stride(from: 0, to: rows, by: square) {
                for columnStart in stride(from: rowStart, to: rows, by: square) {
                    for i in rowStart ..< min(rows, rowStart + square) {
                        for j in max(i + 1, columnStart) ..< max(i + 1, min(rows, columnStart + square)) {
                            difference = max(difference, abs(a[i * rows + j] - a[j * rows + i]))
                        }
                    }
                }
            }
        }
        return largest == 0 ? difference : difference / largest
    }

    /// Largest entry of |QᵀQ - I|: 0 for an exactly orthonormal matrix.
    public var orthonormalityError: Double {
        let gram = Matrix64.product(self, self, transposeA: true)
        var worst = 0.0
        for i in 0 ..< gram.rows { for j in 0 ..< gram.columns { worst = max(worst, abs(gram[i, j] - (i == j ? 1 : 0))) } }
        return worst
    }

    /// Eigenvalues ascending and the orthonormal eigenvectors as columns, of
    /// this symmetric matrix (LAPACK `dsyevd`; its lower triangle is read).
    public func symmetricEigen() throws(CoreError) -> (values: [Double], vectors: Matrix64) {
        let (values, vectors) = try eigendecomposition(withVectors: true)
        // Column-major eigenvectors are the rows of the row-major buffer.
        return (values, Matrix64(rows: rows, columns: rows, values: vectors).transposed())
    }

    /// Eigenvalues ascending of this symmetric matrix, without eigenvectors
    /// (`dsyevd` then only reduces to tridiagonal form: a fraction of the work).
    public func symmetricEigenvalues() throws(CoreError) -> [Double] {
        try eigendecomposition(withVectors: false).values
    }

    private func eigendecomposition(withVectors: Bool) throws(CoreError) -> (values: [Double], vectors: [Double]) {
        precondition(rows == columns, "symmetric eigendecomposition of a non-square matrix")
        try MemoryBudget.require(Double(values.count) * 8, for: "a copy of a \(rows) x \(rows) matrix to decompose")
        var a = values
        return try Matrix64.eigendecomposition(overwriting: &a, side: rows, withVectors: withVectors)
    }

    /// Eigenvalues ascending of the symmetric `side x side` matrix in `a`,
    /// which LAPACK overwrites: a stored block read whole needs no second copy.
    public static func symmetricEigenvalues(overwriting a: inout [Double], side: Int) throws(CoreError) -> [Double] {
        try eigendecomposition(overwriting: &a, side: side, withVectors: false).values
    }

    private static func eigendecomposition(overwriting a: inout [Double], side n: Int,
                                           withVectors: Bool) throws(CoreError) -> (values: [Double], vectors: [Double]) {
        guard n > 0 else { return ([], []) }
        // LAPACK sees the row-major buffer transposed: the same symmetric matrix.
        var w = [Double](repeating: 0, count: n)
        var info: Int32 = 0
        var nn = Int32(n), lda = Int32(n)
        var lwork: Int32 = -1, liwork: Int32 = -1
        var workQuery = 0.0
        var iworkQuery: Int32 = 0
        let jobz: [CChar] = [CChar(UInt8(ascii: withVectors ? "V" : "N")), 0], uplo: [CChar] = [CChar(UInt8(ascii: "U")), 0]
        dsyevd_(jobz, uplo, &nn, &a, &lda, &w, &workQuery, &lwork, &iworkQuery, &liwork, &info, 1, 1)
        lwork = Int32(workQuery)
        liwork = max(1, iworkQuery)
        // LAPACK's workspace is about two more n x n matrices with vectors.
        try MemoryBudget.require(Double(max(1, lwork)) * 8 + Double(liwork) * 4, for: "LAPACK's workspace for a \(n) x \(n) eigendecomposition")
        var work = [Double](repeating: 0, count: Int(max(1, lwork)))
        var iwork = [Int32](repeating: 0, count: Int(liwork))
        dsyevd_(jobz, uplo, &nn, &a, &lda, &w, &work, &lwork, &iwork, &liwork, &info, 1, 1)
        guard info == 0 else {
            throw CoreError(.invalidArgument, "the symmetric eigendecomposition did not converge (LAPACK dsyevd info \(info))")
        }
        return (w, withVectors ? a : [])
    }
}
