import COpenBLAS

/// The `k` extreme eigenvalues of a symmetric operator known only by its
/// product: a stored dense block too large for memory, multiplied tile by
/// tile from the store. Lanczos with full reorthogonalisation (classical
/// Gram-Schmidt, twice, against every basis vector kept), so no spurious
/// copies of converged eigenvalues appear.
///
/// Stopping rule: a Ritz value θ_i counts as converged when its residual
/// bound `|β_j s_ji|` (`s_i` its eigenvector of the tridiagonal matrix) is at
/// most `tolerance x max|θ|`; since the operator is symmetric, θ_i is then
/// within that bound of an eigenvalue. The run stops when the `k` wanted
/// values have converged, or fails with an error after `iterationCap`
/// products. When the Krylov space reaches the whole space (`side`
/// products), the values are exact whatever the residuals.
public enum Lanczos {
    public static let tolerance = 1e-10

    /// At most `max(300, 10 k)` products, never more than `side`.
    public static func iterationCap(side: Int, k: Int) -> Int { min(side, max(300, 10 * k)) }

    /// The `k` largest eigenvalues descending, or the `k` smallest ascending.
    /// `multiply` computes the operator times a vector of `side` values.
    public static func extremes(side: Int, k: Int, largest: Bool, layer: String, seed: UInt64 = 0,
                                multiply: ([Double]) throws -> [Double]) throws -> [Double] {
        let k = min(k, side)
        guard k > 0 else { return [] }
        let cap = iterationCap(side: side, k: k)
        try MemoryBudget.require(Double(cap) * Double(side) * 8, for: "the Lanczos basis of block '\(layer)' (\(cap) vectors of \(side))")
        var basis = [Double](repeating: 0, count: cap * side)
        var alphas: [Double] = [], betas: [Double] = []
        var generator = SeededGenerator(seed: seed)
        var q = startVector(side: side, generator: &generator, against: basis, count: 0)
        var worstResidual = Double.infinity
        for j in 0 ..< cap {
            try Interruption.check()
            basis.withUnsafeMutableBufferPointer { $0.baseAddress!.advanced(by: j * side).update(from: q, count: side) }
            var w = try multiply(q)
            guard w.count == side, w.allSatisfy(\.isFinite) else {
                throw CoreError(.invalidArgument, "block '\(layer)' holds NaN or an infinite value; its eigenvalues are undefined")
            }
            let alpha = dot(q, w)
            alphas.append(alpha)
            // Full reorthogonalisation makes the three-term recurrence's
            // subtraction redundant: w minus its projection on every q_i.
            orthogonalize(&w, against: basis, count: j + 1, side: side)
            orthogonalize(&w, against: basis, count: j + 1, side: side)
            let beta = norm(w)
            let steps = j + 1
            let complete = steps == side
            if steps >= k, complete || steps % 5 == 0 || steps == cap || beta == 0 {
                let (ritz, residual) = try ritzValues(alphas, betas, lastBeta: beta, k: k, largest: largest)
                let scale = max(abs(ritz.first ?? 0), abs(ritz.last ?? 0), abs(alphas.max() ?? 0))
                worstResidual = residual
                if complete || residual <= tolerance * max(scale, Double.leastNormalMagnitude) {
                    return ritz
                }
            }
            guard steps < cap else { break }
            if beta <= 1e-14 * max(abs(alpha), 1e-300) {
                // An invariant subspace: restart orthogonally to it (the
                // tridiagonal matrix splits there, β = 0).
                betas.append(0)
                q = startVector(side: side, generator: &generator, against: basis, count: steps)
            } else {
                betas.append(beta)
                q = w.map { $0 / beta }
            }
        }
        throw CoreError(.invalidArgument, "the Lanczos iteration for the \(largest ? "largest" : "smallest") \(k) eigenvalues of block '\(layer)' did not converge in \(cap) products (largest residual bound \(worstResidual), tolerance \(tolerance) relative); ask for fewer eigenvalues, or read the block whole if memory allows")
    }

    /// The wanted Ritz values (largest descending or smallest ascending) and
    /// the largest residual bound among them.
    private static func ritzValues(_ alphas: [Double], _ betas: [Double], lastBeta: Double, k: Int,
                                   largest: Bool) throws(CoreError) -> ([Double], Double) {
        let n = alphas.count
        var t = Matrix64(zeros: n, n)
        for i in 0 ..< n { t[i, i] = alphas[i] }
        for i in 0 ..< n - 1 { t[i, i + 1] = betas[i]; t[i + 1, i] = betas[i] }
        let (values, vectors) = try t.symmetricEigen()
        let wanted = largest ? Array((n - k ..< n).reversed()) : Array(0 ..< k)
        let residual = wanted.map { abs(lastBeta * vectors[n - 1, $0]) }.max() ?? 0
        return (wanted.map { values[$0] }, residual)
    }

    /// A seeded random unit vector orthogonal to the first `count` basis vectors.
    private static func startVector(side: Int, generator: inout SeededGenerator, against basis: [Double], count: Int) -> [Double] {
        var v = (0 ..< side).map { _ in generator.nextNormal() }
        orthogonalize(&v, against: basis, count: count, side: side)
        orthogonalize(&v, against: basis, count: count, side: side)
        let length = norm(v)
        return v.map { $0 / length }
    }

    /// w -= Q (Qᵀ w), Q the first `count` rows of `basis` (each `side` long).
    private static func orthogonalize(_ w: inout [Double], against basis: [Double], count: Int, side: Int) {
        guard count > 0 else { return }
        var coefficients = [Double](repeating: 0, count: count)
        basis.withUnsafeBufferPointer { q in
            w.withUnsafeMutableBufferPointer { x in
                cblas_dgemv(CblasRowMajor, CblasNoTrans, Int32(count), Int32(side), 1, q.baseAddress!, Int32(side),
                            x.baseAddress!, 1, 0, &coefficients, 1)
                cblas_dgemv(CblasRowMajor, CblasTrans, Int32(count), Int32(side), -1, q.baseAddress!, Int32(side),
                            coefficients, 1, 1, x.baseAddress!, 1)
            }
        }
    }

    private static func dot(_ a: [Double], _ b: [Double]) -> Double {
        cblas_ddot(Int32(a.count), a, 1, b, 1)
    }

    private static func norm(_ a: [Double]) -> Double { Matrix64.norm(a) }
}
