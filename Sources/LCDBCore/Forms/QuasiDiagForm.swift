import Foundation

/// Ollivier's quasi-diagonal block (NNGeometry's `PMatQuasiDiag`): the
/// diagonal, plus the entries that couple each output's bias with that
/// output's weights. For a layer whose bias has `B` entries and whose weight
/// is viewed as `B` rows of `r` (Linear, Conv1d, Conv2d: `out x in_eff`; the
/// norms and Affine1d, whose weight and bias have one shape: `r = 1`), the
/// block acts on lcdb's flattening (weight row-major, then bias) as
///
///     y_w[i, j] = d_w[i, j] x_w[i, j] + c[i, j] x_b[i]
///     y_b[i]    = d_b[i] x_b[i] + Σ_j c[i, j] x_w[i, j]
///
/// Parts: `diag` (side values, weight then bias) and `cross` (`B x r`; a
/// weight and bias of one shape: `(B,)`). Each output's `(r + 1)`-square
/// group is an arrowhead matrix, so solves and log-determinants are exact in
/// O(side) through its Schur complement `s_i = d_b[i] - Σ_j c_ij² / d_w[i, j]`;
/// its inverse and powers are dense within each group, and are formed as a
/// dense block only when that fits memory.
public struct QuasiDiagForm: BlockForm {
    public static let kind = FormKind.quasidiag
    public static let partNames = ["diag", "cross"]
    /// Outputs (bias entries) and weights per output.
    public let outputs: Int
    public let perOutput: Int
    public let diagonalValues: [Double]
    /// `cross` is never decomposed, square or not (a Linear(n, n)'s is n x n).
    public static func isDecomposed(part name: String, shape: [Int]) -> Bool { false }
    /// `outputs x perOutput`, row-major.
    public let cross: [Double]
    /// The shape `cross` is stored and exported with.
    let crossShape: [Int]

    public init(outputs: Int, perOutput: Int, diagonal: [Double], cross: [Double], crossShape: [Int]) {
        precondition(diagonal.count == outputs * (perOutput + 1) && cross.count == outputs * perOutput, "QuasiDiagForm: sizes")
        self.outputs = outputs
        self.perOutput = perOutput
        self.diagonalValues = diagonal
        self.cross = cross
        self.crossShape = crossShape
    }

    /// `(B, r)` and the shape of `cross` for `layer`, or the error naming the
    /// layer and what it can be instead.
    public static func shape(of layer: Layer, name: String) throws(CoreError) -> (outputs: Int, perOutput: Int, crossShape: [Int]) {
        let refusal = "layer '\(name)' is a \(layer.kind.rawValue)"
        guard let bias = layer.biasShape else {
            throw CoreError(.invalidArgument, "\(refusal) without a bias, which cannot be quasidiag (it couples each output's bias with its weights); its block can be diag, dense or identity")
        }
        let outputs = bias.reduce(1, *), weights = layer.weightShape.reduce(1, *)
        if layer.weightShape == bias { return (outputs, 1, [outputs]) }
        guard layer.kind != .convTranspose2d, layer.weightShape.first == outputs, outputs > 0 else {
            throw CoreError(.invalidArgument, "\(refusal), which cannot be quasidiag (only layers whose weight has a row per bias entry, Linear, Conv1d and Conv2d, or the bias's shape, the norms, can); its block can be dense, diag or identity")
        }
        return (outputs, weights / outputs, [outputs, weights / outputs])
    }

    public init(parts: [String: FormPart], layer: Layer, name: String, validate: Bool = true) throws(CoreError) {
        let (outputs, perOutput, crossShape) = try QuasiDiagForm.shape(of: layer, name: name)
        let diagonal = try BlockForms.part("diag", in: parts, layer: name, shapes: [[layer.numel]])
        let cross = try BlockForms.part("cross", in: parts, layer: name, shapes: [crossShape])
        if validate {
            try BlockForms.requireFinite(diagonal, layer: name)
            try BlockForms.requireFinite(cross, layer: name)
        }
        self.init(outputs: outputs, perOutput: perOutput, diagonal: diagonal.values, cross: cross.values, crossShape: crossShape)
    }

    public var side: Int { diagonalValues.count }
    private var weightCount: Int { outputs * perOutput }
    public var parts: [FormPart] {
        [FormPart("diag", shape: [side], values: diagonalValues), FormPart("cross", shape: crossShape, values: cross)]
    }

    private func with(diagonal: [Double], cross: [Double]) -> QuasiDiagForm {
        QuasiDiagForm(outputs: outputs, perOutput: perOutput, diagonal: diagonal, cross: cross, crossShape: crossShape)
    }

    public func product(_ x: [Double]) -> [Double] {
        let (r, w) = (perOutput, weightCount)
        var y = zip(diagonalValues, x).map { $0 * $1 }
        for i in 0 ..< outputs {
            let xb = x[w + i]
            var coupled = 0.0
            for j in 0 ..< r {
                let k = i * r + j
                y[k] += cross[k] * xb
                coupled += cross[k] * x[k]
            }
            y[w + i] += coupled
        }
        return y
    }

    public func trace() -> Double { diagonalValues.reduce(0, +) }

    /// Each coupling appears twice (above and below the diagonal).
    public func frobeniusNorm() -> Double {
        (diagonalValues.reduce(0) { $0 + $1 * $1 } + 2 * cross.reduce(0) { $0 + $1 * $1 }).squareRoot()
    }

    public func diagonal() -> [Double] { diagonalValues }

    public func scaled(by alpha: Double) -> any BlockForm {
        with(diagonal: diagonalValues.map { $0 * alpha }, cross: cross.map { $0 * alpha })
    }

    /// (M + λ I) x' = x group by group: the bias entry by the Schur
    /// complement, then the weights, O(side).
    public func solve(_ x: [Double], regularization: Double, layer: String) throws(CoreError) -> [Double] {
        try requireFinite(layer, for: "solve and inv")
        let (r, w) = (perOutput, weightCount)
        var out = [Double](repeating: 0, count: side)
        for i in 0 ..< outputs {
            let schur = try schurComplement(i, regularization, layer)
            var reduced = x[w + i]
            for j in 0 ..< r {
                let k = i * r + j
                reduced -= cross[k] * x[k] / (diagonalValues[k] + regularization)
            }
            let bias = reduced / schur
            out[w + i] = bias
            for j in 0 ..< r {
                let k = i * r + j
                out[k] = (x[k] - cross[k] * bias) / (diagonalValues[k] + regularization)
            }
        }
        return out
    }

    /// `s_i = d_b[i] + λ - Σ_j c_ij² / (d_w[i, j] + λ)`; singular when a
    /// weight's damped diagonal entry or `s_i` is zero.
    private func schurComplement(_ i: Int, _ regularization: Double, _ layer: String) throws(CoreError) -> Double {
        let (r, w) = (perOutput, weightCount)
        var schur = diagonalValues[w + i] + regularization
        for j in 0 ..< r {
            let k = i * r + j
            let damped = diagonalValues[k] + regularization
            guard damped != 0 else { throw BlockForms.singular(layer, regularization, detail: "diagonal entry \(k) is zero") }
            schur -= cross[k] * cross[k] / damped
        }
        guard schur != 0, schur.isFinite else {
            throw BlockForms.singular(layer, regularization, detail: "output \(i)'s bias is determined by its weights (Schur complement \(schur))")
        }
        return schur
    }

    private func requireFinite(_ layer: String, for what: String) throws(CoreError) {
        if let bad = diagonalValues.first(where: { !$0.isFinite }) ?? cross.first(where: { !$0.isFinite }) {
            throw CoreError(.invalidArgument, "block '\(layer)' holds \(bad.isNaN ? "NaN" : "an infinite value"); \(what) need finite values")
        }
    }

    /// Dense within each output's group, so formed as a dense block, exact
    /// (group by group: diag(1/D) + u uᵀ / s with u = [c / D; -1]), when it fits.
    public func inverse(regularization: Double, layer: String) throws(CoreError) -> any BlockForm {
        try requireFinite(layer, for: "solve and inv")
        try requireDenseFits(layer, "inv")
        let (r, w, n) = (perOutput, weightCount, side)
        var m = Matrix64(zeros: n, n)
        for i in 0 ..< outputs {
            let schur = try schurComplement(i, regularization, layer)
            // The group's indices: its weights, then its bias; u as above.
            let indices = (0 ..< r).map { i * r + $0 } + [w + i]
            let u = (0 ..< r).map { cross[i * r + $0] / (diagonalValues[i * r + $0] + regularization) } + [-1]
            for (a, p) in indices.enumerated() {
                for (b, q) in indices.enumerated() { m.values[p * n + q] = u[a] * u[b] / schur }
                if a < r { m.values[p * n + p] += 1 / (diagonalValues[p] + regularization) }
            }
        }
        return DenseForm(block: m, knownSymmetric: true)
    }

    private func requireDenseFits(_ layer: String, _ what: String) throws(CoreError) {
        try MemoryBudget.require(Double(side) * Double(side) * 8 * 3,
                                 for: "\(what) of quasidiag block '\(layer)' is dense within each output's weights and bias; as a dense block (\(side) x \(side)) it",
                                 advice: "; solve(M, v, regul) and logdet are exact without it")
    }

    public func dense() -> Matrix64 {
        let (r, w, n) = (perOutput, weightCount, side)
        var m = KroneckerFactor.diagonal(diagonalValues).dense
        for i in 0 ..< outputs {
            for j in 0 ..< r {
                let k = i * r + j
                m.values[k * n + w + i] = cross[k]
                m.values[(w + i) * n + k] = cross[k]
            }
        }
        return m
    }

    /// quasidiag + quasidiag, diag or s I stays quasidiag; + dense is dense.
    public func plus(_ other: any BlockForm, scaledBy alpha: Double) -> (any BlockForm)? {
        switch other {
        case let other as QuasiDiagForm where other.outputs == outputs && other.perOutput == perOutput:
            with(diagonal: zip(diagonalValues, other.diagonalValues).map { $0 + alpha * $1 },
                 cross: zip(cross, other.cross).map { $0 + alpha * $1 })
        case let other as DiagForm: with(diagonal: zip(diagonalValues, other.values).map { $0 + alpha * $1 }, cross: cross)
        case let other as IdentityForm: with(diagonal: diagonalValues.map { $0 + alpha * other.scale }, cross: cross)
        case is DenseForm: densePlus(other, scaledBy: alpha)
        default: nil
        }
    }

    public func times(_ other: any BlockForm) -> (any BlockForm)? {
        switch other {
        case let other as IdentityForm: scaled(by: other.scale)
        case let other as DenseForm: DenseForm(block: Matrix64.product(dense(), other.block))
        default: nil
        }
    }

    /// Each group's eigenvalues (LAPACK on the `(r + 1)`-square group; a
    /// weight without coupling is its own eigenvalue), all together.
    public func spectrum(layer: String) throws(CoreError) -> BlockSpectrum {
        try requireFinite(layer, for: "its eigenvalues")
        let (r, w, g) = (perOutput, weightCount, perOutput + 1)
        // One group at a time, in one buffer (LAPACK's workspace is about as large again).
        try MemoryBudget.require(Double(g) * Double(g) * 8 * 3, for: "the eigenvalues of quasidiag block '\(layer)' (groups of \(g) x \(g))")
        var values: [Double] = []
        values.reserveCapacity(side)
        var group = [Double](repeating: 0, count: g * g)
        for i in 0 ..< outputs {
            try Interruption.check()
            group.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
            for j in 0 ..< r {
                group[j * g + j] = diagonalValues[i * r + j]
                group[j * g + r] = cross[i * r + j]
                group[r * g + j] = cross[i * r + j]
            }
            group[r * g + r] = diagonalValues[w + i]
            values += try Matrix64.symmetricEigenvalues(overwriting: &group, side: g)
        }
        return .values(values)
    }

    /// Σ_i [Σ_j log(d_w[i, j] + λ) + log s_i]: exact in O(side); the block
    /// must be positive definite (every damped weight entry and every s_i > 0).
    public func logDeterminant(regularization: Double, layer: String) throws(CoreError) -> Double {
        try requireFinite(layer, for: "logdet")
        let (r, w) = (perOutput, weightCount)
        var total = 0.0
        for i in 0 ..< outputs {
            var schur = diagonalValues[w + i] + regularization
            for j in 0 ..< r {
                let damped = diagonalValues[i * r + j] + regularization
                guard damped > 0 else { throw notPositiveDefinite(layer, regularization) }
                total += log(damped)
                schur -= cross[i * r + j] * cross[i * r + j] / damped
            }
            guard schur > 0 else { throw notPositiveDefinite(layer, regularization) }
            total += log(schur)
        }
        return total
    }

    private func notPositiveDefinite(_ layer: String, _ regularization: Double) -> CoreError {
        let with = regularization == 0 ? "" : " with regul \(regularization)"
        return CoreError(.invalidArgument, "block '\(layer)' is not positive definite\(with); logdet needs M + regul I > 0: add a larger regul")
    }

    /// Dense within each group, so through the dense block when it fits.
    public func power(_ exponent: Double, regularization: Double, layer: String) throws(CoreError) -> any BlockForm {
        try requireFinite(layer, for: "pow")
        try requireDenseFits(layer, "pow")
        return try DenseForm(block: dense(), knownSymmetric: true).power(exponent, regularization: regularization, layer: layer)
    }
}
