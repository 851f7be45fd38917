import COpenBLAS

/// `V -> L V R` on lcdb's flattening of a layer (`KroneckerGeometry`), from
/// factors wherever they are: a kfac block in memory and a stored block's
/// parts in reused buffers take the same path. `V` is the weight in place,
/// or, with a bias column, gathered into scratch; nothing else is copied.
enum KroneckerProduct {
    /// A factor as the product reads it.
    enum Factor {
        /// Its diagonal.
        case diagonal(UnsafePointer<Double>)
        /// A square matrix, row-major, read whole (`dgemm`).
        case general(UnsafePointer<Double>)
        /// A symmetric matrix of which only the upper triangle is read
        /// (`dsymm`): a stored factor keeps one triangle, so it need not be mirrored.
        case symmetric(UnsafePointer<Double>)
    }

    static func apply(_ geometry: KroneckerGeometry, left: Factor, right: Factor,
                      _ x: UnsafePointer<Double>, into output: UnsafeMutablePointer<Double>, scratch: ProductScratch) {
        let (rows, columns, weightColumns) = (geometry.rows, geometry.columns, geometry.weightColumns)
        let count = rows * columns
        let v: UnsafePointer<Double>
        if geometry.biasColumn {
            let gathered = scratch.buffer(count, slot: 0)
            for i in 0 ..< rows {
                (gathered + i * columns).update(from: x + i * weightColumns, count: weightColumns)
                gathered[i * columns + weightColumns] = x[rows * weightColumns + i]
            }
            v = UnsafePointer(gathered)
        } else {
            v = x
        }
        // With a diagonal L and no bias column (an Embedding: GPT-2's wte is
        // 309 MB), V R goes straight into the output and L scales it there.
        let inPlace = !geometry.biasColumn && { if case .diagonal = left { true } else { false } }()
        let t = inPlace ? output : scratch.buffer(count, slot: 1)
        let (m, n) = (Int32(rows), Int32(columns))
        switch right {
        case .diagonal(let d):
            for i in 0 ..< rows { for j in 0 ..< columns { t[i * columns + j] = v[i * columns + j] * d[j] } }
        case .general(let r):
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, n, 1, v, n, r, n, 0, t, n)
        case .symmetric(let r):
            cblas_dsymm(CblasRowMajor, CblasRight, CblasUpper, m, n, 1, r, n, v, n, 0, t, n)
        }
        // L T: into the output when it is laid out as V (no bias column);
        // else into scratch (V's buffer, no longer needed), then scattered.
        let y = geometry.biasColumn ? scratch.buffer(count, slot: 0) : output  // t when inPlace: each value scaled where it is
        switch left {
        case .diagonal(let d):
            for i in 0 ..< rows { for j in 0 ..< columns { y[i * columns + j] = d[i] * t[i * columns + j] } }
        case .general(let l):
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, m, 1, l, m, t, n, 0, y, n)
        case .symmetric(let l):
            cblas_dsymm(CblasRowMajor, CblasLeft, CblasUpper, m, n, 1, l, m, t, n, 0, y, n)
        }
        if geometry.biasColumn {
            for i in 0 ..< rows {
                (output + i * weightColumns).update(from: y + i * columns, count: weightColumns)
                output[rows * weightColumns + i] = y[i * columns + weightColumns]
            }
        }
    }
}
