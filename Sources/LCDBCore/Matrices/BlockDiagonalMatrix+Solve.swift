/// Solves and inverses of M + regularization * I, block by block.
///
/// Route per block: if the regularized block is exactly symmetric, try
/// Cholesky (`PanelCholesky`, interruptible between panels); success means
/// positive definite, and `potrs` or `PanelCholesky.inverse` finish. Otherwise
/// (not symmetric, or not positive definite) LU with partial pivoting
/// (`getrf`, then `getrs`/`getri`: one LAPACK call each, not interruptible). A zero pivot, or any
/// non-finite value in the result, is a `singularBlock` error naming the layer.
extension BlockDiagonalMatrix {
    /// (M + regularization * I)^-1 x.
    public func solve(_ vector: ParameterVector<Scalar>, regularization: Scalar = 0,
                      matching: LayerMatching = .identical) throws -> ParameterVector<Scalar> {
        let (matrix, x) = try aligned(with: vector, matching, for: "solve")
        var result = x
        let offsets = matrix.collection.offsets
        let sides = matrix.sides
        let names = matrix.collection.names
        var failure: Error?
        result.withMutableValues { base in
            let output = SharedPointer(base: base)
            do {
                try matrix.forEachBlock(costPower: 3) { index throws(CoreError) in
                    guard sides[index] > 0 else { return }
                    var factor = BlockFactorization(block: matrix.blocks[index], side: sides[index],
                                                    regularization: regularization)
                    try factor.solve(output.base + offsets[index], layer: names[index])
                }
            } catch { failure = error }
        }
        if let failure { throw failure }
        return result
    }

    /// (M + regularization * I)^-1, block by block (NNGeometry's `inverse(regul)`).
    /// The inverse of a symmetric matrix is symmetric: blocks that went
    /// through LU are made exactly so by averaging with their transpose.
    public func inverse(regularization: Scalar = 0) throws -> BlockDiagonalMatrix {
        var result = self
        let sides = sides
        let names = collection.names
        let source = self
        try result.blocks.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            let output = SharedPointer(base: base)
            try source.forEachBlock(costPower: 3) { index throws(CoreError) in
                guard sides[index] > 0 else { return }
                var factor = BlockFactorization(block: source.blocks[index], side: sides[index],
                                                regularization: regularization)
                output.base[index] = try factor.inverse(layer: names[index], symmetrize: source.isSymmetric)
            }
        }
        return result
    }
}

/// One regularized block, factorized in place by Cholesky or LU.
struct BlockFactorization<Scalar: BLASScalar> {
    enum Method { case unfactored, cholesky, lu }

    private var values: [Scalar]
    private let side: Int
    private let regularization: Scalar
    private var pivots: [Int32] = []
    private(set) var method = Method.unfactored

    init(block: [Scalar], side: Int, regularization: Scalar) {
        values = block
        self.side = side
        self.regularization = regularization
        if regularization != 0 {
            for i in 0 ..< side { values[i * side + i] += regularization }
        }
    }

    private mutating func factorize(layer: String) throws(CoreError) {
        guard method == .unfactored else { return }
        let n = Int32(side)
        // LAPACK would call a block holding NaN or inf singular (or return NaN).
        if let bad = values.first(where: { !$0.isFinite }) {
            throw CoreError(.invalidArgument, "block '\(layer)' holds \(bad.isNaN ? "NaN" : "an infinite value"); solve and inv need finite values (`check` the inputs that made it)")
        }
        if BlockDiagonalMatrix<Scalar>.isExactlySymmetric(values, side: side) {
            // Factorized in a copy: a block that is not positive definite goes to LU as it was.
            var factor = values
            let side = side
            let positiveDefinite = try factor.withUnsafeMutableBufferPointer { a throws(CoreError) in
                try PanelCholesky.factor(a.baseAddress!, side: side)
            }
            if positiveDefinite {
                values = factor
                method = .cholesky
                return
            }
        }
        try Interruption.check()
        pivots = [Int32](repeating: 0, count: side)
        let info = values.withUnsafeMutableBufferPointer { a in
            pivots.withUnsafeMutableBufferPointer { Scalar.getrf(n, a.baseAddress!, $0.baseAddress!) }
        }
        if info > 0 { throw singular(layer, detail: "pivot \(info) is exactly zero") }
        if info < 0 { throw CoreError(.invalidArgument, "block '\(layer)': LAPACK getrf rejected argument \(-info)") }
        method = .lu
    }

    /// Overwrites `rhs` (side values) with the solution.
    mutating func solve(_ rhs: UnsafeMutablePointer<Scalar>, layer: String) throws(CoreError) {
        try factorize(layer: layer)
        let n = Int32(side)
        let info: Int32 = values.withUnsafeBufferPointer { a in
            switch method {
            case .cholesky: return Scalar.potrs(n, a.baseAddress!, rhs)
            default: return pivots.withUnsafeBufferPointer { Scalar.getrs(n, a.baseAddress!, $0.baseAddress!, rhs) }
            }
        }
        guard info == 0, UnsafeBufferPointer(start: rhs, count: side).allSatisfy(\.isFinite) else {
            throw singular(layer, detail: "the solution is not finite")
        }
    }

    /// The inverse, row-major.
    mutating func inverse(layer: String, symmetrize: Bool) throws(CoreError) -> [Scalar] {
        try factorize(layer: layer)
        let n = Int32(side)
        var info: Int32 = 0
        switch method {
        case .cholesky:
            let side = side
            values = try values.withUnsafeBufferPointer { l throws(CoreError) in
                try PanelCholesky.inverse(fromFactor: l.baseAddress!, side: side)
            }
        default:
            info = values.withUnsafeMutableBufferPointer { a in
                pivots.withUnsafeBufferPointer { Scalar.getri(n, a.baseAddress!, $0.baseAddress!) }
            }
            if symmetrize {
                for row in 0 ..< side {
                    for column in (row + 1) ..< max(row + 1, side) {
                        let mean = (values[row * side + column] + values[column * side + row]) / 2
                        values[row * side + column] = mean
                        values[column * side + row] = mean
                    }
                }
            }
        }
        guard info == 0, values.allSatisfy(\.isFinite) else {
            throw singular(layer, detail: "the inverse is not finite")
        }
        return values
    }

    private func singular(_ layer: String, detail: String) -> CoreError {
        let regularized = regularization == 0 ? "" : " even with regularization \(regularization)"
        return CoreError(.singularBlock,
                         "block '\(layer)' is singular\(regularized) (\(detail)); add a positive regularization")
    }
}
