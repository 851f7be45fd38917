import COpenBLAS

/// `V -> L V R` on lcdb's flattening of a layer (`KroneckerGeometry`), from
/// factors wherever they are: a kfac block in memory and a stored block's
/// parts in reused buffers take the same path. `V` is read in place (with a
/// bias column, as the weight's rows and the bias), and only the result of
/// a layer with a bias is copied, from scratch to weight-then-bias.
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
        /// A square matrix, row-major, used transposed (an ekfac eigenbasis `Uᵀ`).
        case transposed(UnsafePointer<Double>)
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
        guard geometry.biasColumn else {
            // (V R), then L into the output, laid out as V.
            let t = scratch.buffer(count, slot: 1)
            multiply(x, rows: rows, columns: columns, by: right, into: t)
            multiply(left, t, rows: rows, columns: columns, ld: columns, into: output, ldc: columns)
            return
        }
        // With a bias column, L first, straight from the flattening (W's rows
        // `weightColumns` apart, then b) into scratch laid out as V = [W | b],
        // so V is never gathered; then (L V) R into the output's own memory,
        // laid out as [W | b], and moved in place to weight-then-bias: no
        // second temporary as large as V (fresh memory is the slowest part
        // of a cold process's first products).
        let s = scratch.buffer(count, slot: 1)
        multiply(left, x, rows: rows, columns: weightColumns, ld: weightColumns, into: s, ldc: columns)
        multiply(left, x + rows * weightColumns, rows: rows, columns: 1, ld: 1, into: s + weightColumns, ldc: columns)
        multiply(s, rows: rows, columns: columns, by: right, into: output)
        // Row i moves left (from i * columns to i * weightColumns), front
        // to back, so it never lands on a later row or its bias entry,
        // which is kept aside first.
        let bias = scratch.buffer(rows, slot: 0)
        for i in 0 ..< rows {
            bias[i] = output[i * columns + weightColumns]
            (output + i * weightColumns).update(from: output + i * columns, count: weightColumns)
        }
        (output + rows * weightColumns).update(from: bias, count: rows)
    }

    /// `c = L b` for `rows x columns` b whose rows are `ld` apart, into c
    /// whose rows are `ldc` apart; c is not b.
    private static func multiply(_ left: Factor, _ b: UnsafePointer<Double>, rows: Int, columns: Int, ld: Int,
                                 into c: UnsafeMutablePointer<Double>, ldc: Int) {
        let (m, n) = (Int32(rows), Int32(columns))
        switch left {
        case .diagonal(let d):
            for i in 0 ..< rows { for j in 0 ..< columns { c[i * ldc + j] = d[i] * b[i * ld + j] } }
        case .general(let l):
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, m, 1, l, m, b, Int32(ld), 0, c, Int32(ldc))
        case .symmetric(let l):
            cblas_dsymm(CblasRowMajor, CblasLeft, CblasUpper, m, n, 1, l, m, b, Int32(ld), 0, c, Int32(ldc))
        case .transposed(let l):
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, m, n, m, 1, l, m, b, Int32(ld), 0, c, Int32(ldc))
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
        case .transposed(let r):
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, n, 1, v, n, r, n, 0, t, n)
        }
    }

    /// A diagonal L acts on each row alone (an Embedding: GPT-2's wte is
    /// 50,257 x 768, 309 MB), so `diag(d) V R` goes a few MB of rows at a
    /// time through scratch of that size, not a temporary as large as V.
    static func rowwise(_ d: UnsafePointer<Double>, rows: Int, columns: Int, right: Factor,
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
