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

    /// `x` may be `output` itself (a stored vector's share read into the
    /// result's place): every path reads all of V before writing over it.
    static func apply(_ geometry: KroneckerGeometry, left: Factor, right: Factor,
                      _ x: UnsafePointer<Double>, into output: UnsafeMutablePointer<Double>, scratch: ProductScratch,
                      rowChunkBytes: Int = 4 << 20) {
        let (rows, columns, weightColumns) = (geometry.rows, geometry.columns, geometry.weightColumns)
        if case .diagonal(let d) = left, !geometry.biasColumn {
            rowwise(d, rows: rows, columns: columns, right: right, x, into: output, scratch: scratch, chunkBytes: rowChunkBytes)
            return
        }
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
        let t = scratch.buffer(count, slot: 1)
        multiply(v, rows: rows, columns: columns, by: right, into: t)
        // L T: into the output when it is laid out as V (no bias column);
        // else into scratch (V's buffer, no longer needed), then scattered.
        let y = geometry.biasColumn ? scratch.buffer(count, slot: 0) : output
        let (m, n) = (Int32(rows), Int32(columns))
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

    /// `t = V R` for `rows x columns` V, row-major; t is not V.
    private static func multiply(_ v: UnsafePointer<Double>, rows: Int, columns: Int, by right: Factor,
                                 into t: UnsafeMutablePointer<Double>) {
        let (m, n) = (Int32(rows), Int32(columns))
        switch right {
        case .diagonal(let d):
            for i in 0 ..< rows { for j in 0 ..< columns { t[i * columns + j] = v[i * columns + j] * d[j] } }
        case .general(let r):
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, n, 1, v, n, r, n, 0, t, n)
        case .symmetric(let r):
            cblas_dsymm(CblasRowMajor, CblasRight, CblasUpper, m, n, 1, r, n, v, n, 0, t, n)
        }
    }

    /// A diagonal L acts on each row alone (an Embedding: GPT-2's wte is
    /// 50,257 x 768, 309 MB), so `diag(d) V R` goes a few MB of rows at a
    /// time through scratch of that size, not a temporary as large as V.
    private static func rowwise(_ d: UnsafePointer<Double>, rows: Int, columns: Int, right: Factor,
                                _ x: UnsafePointer<Double>, into output: UnsafeMutablePointer<Double>, scratch: ProductScratch,
                                chunkBytes: Int) {
        let step = max(1, min(rows, chunkBytes / (columns * MemoryLayout<Double>.stride)))
        let t = scratch.buffer(step * columns, slot: 1)
        var first = 0
        while first < rows {
            let count = min(step, rows - first)
            multiply(x + first * columns, rows: count, columns: columns, by: right, into: t)
            for i in 0 ..< count {
                let scale = d[first + i], row = output + (first + i) * columns, source = t + i * columns
                for j in 0 ..< columns { row[j] = scale * source[j] }
            }
            first += count
        }
    }
}
