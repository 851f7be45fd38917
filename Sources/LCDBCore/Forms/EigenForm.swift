/// A dense symmetric block kept as its eigendecomposition, `U diag(λ) Uᵀ`:
/// what `eig` stores so that log-determinants, powers, solves, spectra and
/// samples at any regularization reuse one decomposition instead of
/// refactoring the block each time. Parts `U` (`side x side`, the
/// eigenvectors as columns, orthonormal) and `lambda` (`side` values).
public struct EigenForm: BlockForm {
    public static let kind = FormKind.eigen
    public static let partNames = ["U", "lambda"]
    public let basis: Matrix64
    public let eigenvalues: [Double]

    public init(basis: Matrix64, eigenvalues: [Double]) {
        self.basis = basis
        self.eigenvalues = eigenvalues
    }

    public init(parts: [String: FormPart], layer: Layer, name: String, validate: Bool = true) throws(CoreError) {
        let side = layer.numel
        let basisPart = try BlockForms.part("U", in: parts, layer: name, shapes: [[side, side]])
        let valuesPart = try BlockForms.part("lambda", in: parts, layer: name, shapes: [[side]])
        try BlockForms.requireFinite(valuesPart, layer: name)
        basis = Matrix64(rows: side, columns: side, values: basisPart.values)
        eigenvalues = valuesPart.values
        if validate {
            try KroneckerFactor.dense(basis).requireOrthonormal("layer '\(name)': eigenbasis U")
        }
    }

    /// The eigendecomposition of a symmetric dense block (LAPACK `dsyevd`).
    public init(decomposing block: DenseForm, layer: String) throws(CoreError) {
        try block.requireSymmetric(layer, for: "eig")
        let (values, vectors) = try block.block.symmetricEigen()
        self.init(basis: vectors, eigenvalues: values)
    }

    public var side: Int { eigenvalues.count }
    public var parts: [FormPart] {
        [FormPart("U", shape: [side, side], values: basis.values), FormPart("lambda", shape: [side], values: eigenvalues)]
    }

    /// U diag(f) Uᵀ x.
    private func applying(_ f: [Double], to x: [Double]) -> [Double] {
        var z = Matrix64.product(basis, Matrix64(rows: side, columns: 1, values: x), transposeA: true)
        for k in z.values.indices { z.values[k] *= f[k] }
        return Matrix64.product(basis, z).values
    }

    public func product(_ x: [Double]) -> [Double] { applying(eigenvalues, to: x) }
    public func trace() -> Double { eigenvalues.reduce(0, +) }
    public func frobeniusNorm() -> Double { Matrix64.norm(eigenvalues) }

    /// diag_i = Σ_k U_ik² λ_k.
    public func diagonal() -> [Double] {
        (0 ..< side).map { i in
            var total = 0.0
            for k in 0 ..< side { total += basis.values[i * side + k] * basis.values[i * side + k] * eigenvalues[k] }
            return total
        }
    }

    public func scaled(by alpha: Double) -> any BlockForm { EigenForm(basis: basis, eigenvalues: eigenvalues.map { $0 * alpha }) }

    public func solve(_ x: [Double], regularization: Double, layer: String) throws(CoreError) -> [Double] {
        applying(try damped(regularization, layer).map { 1 / $0 }, to: x)
    }

    public func inverse(regularization: Double, layer: String) throws(CoreError) -> any BlockForm {
        EigenForm(basis: basis, eigenvalues: try damped(regularization, layer).map { 1 / $0 })
    }

    private func damped(_ regularization: Double, _ layer: String) throws(CoreError) -> [Double] {
        let damped = eigenvalues.map { $0 + regularization }
        if let zero = damped.firstIndex(of: 0) {
            throw BlockForms.singular(layer, regularization, detail: "eigenvalue \(zero) plus regul is zero")
        }
        return damped
    }

    public func dense() -> Matrix64 { EigenForm.composed(basis, eigenvalues) }

    /// U diag(values) Uᵀ, exactly symmetric (the two triangles averaged).
    public static func composed(_ basis: Matrix64, _ values: [Double]) -> Matrix64 {
        var scaled = basis
        let n = basis.rows
        for i in 0 ..< n { for k in 0 ..< n { scaled.values[i * n + k] *= values[k] } }
        var m = Matrix64.product(scaled, basis, transposeB: true)
        for i in 0 ..< n {
            for j in i + 1 ..< max(i + 1, n) {
                let mean = 0.5 * (m.values[i * n + j] + m.values[j * n + i])
                m.values[i * n + j] = mean
                m.values[j * n + i] = mean
            }
        }
        return m
    }

    /// + s I shifts the eigenvalues; the same basis adds them.
    public func plus(_ other: any BlockForm, scaledBy alpha: Double) -> (any BlockForm)? {
        switch other {
        case let other as IdentityForm: EigenForm(basis: basis, eigenvalues: eigenvalues.map { $0 + alpha * other.scale })
        case let other as EigenForm where other.basis == basis:
            EigenForm(basis: basis, eigenvalues: zip(eigenvalues, other.eigenvalues).map { $0 + alpha * $1 })
        case is DenseForm: densePlus(other, scaledBy: alpha)
        default: nil
        }
    }

    public func times(_ other: any BlockForm) -> (any BlockForm)? {
        switch other {
        case let other as IdentityForm: scaled(by: other.scale)
        case let other as EigenForm where other.basis == basis:
            EigenForm(basis: basis, eigenvalues: zip(eigenvalues, other.eigenvalues).map { $0 * $1 })
        case let other as DenseForm: DenseForm(block: Matrix64.product(dense(), other.block))
        default: nil
        }
    }

    public func spectrum(layer: String) throws(CoreError) -> BlockSpectrum { .values(eigenvalues) }

    public static var spectrumParts: [String]? { ["lambda"] }

    public static func spectrum(parts: [String: FormPart], layer: Layer, name: String) throws(CoreError) -> BlockSpectrum {
        let part = try BlockForms.part("lambda", in: parts, layer: name, shapes: [[layer.numel]])
        try BlockForms.requireFinite(part, layer: name)
        return .values(part.values)
    }

    public func power(_ exponent: Double, regularization: Double, layer: String) throws(CoreError) -> any BlockForm {
        let f = try EigenvalueFunction(exponent: exponent, regularization: regularization, layer: layer, spectrum: .values(eigenvalues))
        return EigenForm(basis: basis, eigenvalues: try f.map(eigenvalues))
    }
}
