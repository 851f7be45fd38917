import Foundation

/// Textbook algorithms the spectral operations are checked against: cyclic
/// Jacobi rotations for eigenvalues and eigenvectors (no LAPACK), and LU with
/// partial pivoting for log-determinants. Slow and simple, for small blocks.
enum SpectralReference {
    /// Eigenvalues (unsorted) and eigenvectors (columns of `vectors`, row-major) of symmetric `a`.
    static func jacobi(_ a: [Double], _ n: Int) -> (values: [Double], vectors: [Double]) {
        var a = a
        var v = [Double](repeating: 0, count: n * n)
        for i in 0 ..< n { v[i * n + i] = 1 }
        for _ in 0 ..< 100 {
            var off = 0.0
            for i in 0 ..< n { for j in 0 ..< n where i != j { off += a[i * n + j] * a[i * n + j] } }
            if off < 1e-30 { break }
            for p in 0 ..< n {
                for q in p + 1 ..< max(p + 1, n) where a[p * n + q] != 0 {
                    let theta = (a[q * n + q] - a[p * n + p]) / (2 * a[p * n + q])
                    let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                    let c = 1 / (t * t + 1).squareRoot(), s = t * c
                    for k in 0 ..< n {
                        let akp = a[k * n + p], akq = a[k * n + q]
                        a[k * n + p] = c * akp - s * akq
                        a[k * n + q] = s * akp + c * akq
                    }
                    for k in 0 ..< n {
                        let apk = a[p * n + k], aqk = a[q * n + k]
                        a[p * n + k] = c * apk - s * aqk
                        a[q * n + k] = s * apk + c * aqk
                    }
                    for k in 0 ..< n {
                        let vkp = v[k * n + p], vkq = v[k * n + q]
                        v[k * n + p] = c * vkp - s * vkq
                        v[k * n + q] = s * vkp + c * vkq
                    }
                }
            }
        }
        return ((0 ..< n).map { a[$0 * n + $0] }, v)
    }

    /// V diag(f(λ)) Vᵀ.
    static func function(_ a: [Double], _ n: Int, _ f: (Double) -> Double) -> [Double] {
        let (values, v) = jacobi(a, n)
        var result = [Double](repeating: 0, count: n * n)
        for i in 0 ..< n { for j in 0 ..< n { for k in 0 ..< n { result[i * n + j] += v[i * n + k] * f(values[k]) * v[j * n + k] } } }
        return result
    }

    /// log |det a| and the sign of det a, by LU with partial pivoting.
    static func logDeterminant(_ a: [Double], _ n: Int) -> (log: Double, sign: Double) {
        var a = a
        var sign = 1.0, total = 0.0
        for column in 0 ..< n {
            let pivot = (column ..< n).max { abs(a[$0 * n + column]) < abs(a[$1 * n + column]) }!
            if pivot != column {
                for k in 0 ..< n { a.swapAt(pivot * n + k, column * n + k) }
                sign = -sign
            }
            let d = a[column * n + column]
            if d == 0 { return (-.infinity, 0) }
            if d < 0 { sign = -sign }
            total += log(abs(d))
            for row in column + 1 ..< max(column + 1, n) {
                let factor = a[row * n + column] / d
                for k in column ..< n { a[row * n + k] -= factor * a[column * n + k] }
            }
        }
        return (total, sign)
    }

    /// a + s I.
    static func shifted(_ a: [Double], _ n: Int, _ s: Double) -> [Double] {
        var a = a
        for i in 0 ..< n { a[i * n + i] += s }
        return a
    }
}
