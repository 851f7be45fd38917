import COpenBLAS
import Foundation

/// An explicit `side x side` block held in memory (part `block`): the form of
/// the small blocks of a mixed matrix (norm layers beside KFAC layers), and
/// what any form converts to. Large dense blocks stay in the store, tile by
/// tile, and are never made into this.
public struct DenseForm: BlockForm {
    public static let kind = FormKind.dense
    public static let partNames = ["block"]
    public let block: Matrix64
    /// True when the block is symmetric by construction (read from an
    /// `upper` layout, mirrored): spectral operations skip their check.
    let knownSymmetric: Bool

    public init(block: Matrix64, knownSymmetric: Bool = false) {
        self.block = block
        self.knownSymmetric = knownSymmetric
    }

    public init(parts: [String: FormPart], layer: Layer, name: String, validate: Bool = true) throws(CoreError) {
        let part = try BlockForms.part("block", in: parts, layer: name, shapes: [[layer.numel, layer.numel]])
        block = Matrix64(rows: layer.numel, columns: layer.numel, values: part.values)
        knownSymmetric = false
    }

    /// True when the block equals its transpose exactly; free when it was
    /// built symmetric (a Fisher's `Gᵀ G`: checking 16 blocks of 4,160² took
    /// a third of building them).
    public var isExactlySymmetric: Bool { knownSymmetric || block.asymmetry == 0 }

    public var side: Int { block.rows }
    public var parts: [FormPart] { [FormPart("block", shape: [side, side], values: block.values)] }

    public func product(_ x: [Double]) -> [Double] {
        Matrix64.product(block, Matrix64(rows: side, columns: 1, values: x)).values
    }

    /// From the stored block in a buffer: `dsymv` on a block kept as its
    /// upper triangle (never mirrored), else `dgemv`.
    public static func product(parts: [String: PartBuffer], layer: Layer, name: String, _ x: UnsafeBufferPointer<Double>,
                               into output: UnsafeMutableBufferPointer<Double>, scratch: ProductScratch) throws(CoreError) {
        let side = layer.numel
        guard let part = parts["block"], part.shape == [side, side] else {
            throw CoreError(.invalidArgument, "layer '\(name)': its dense block is missing or not \(side) x \(side)")
        }
        let n = Int32(side)
        // x may be the output's memory; BLAS needs them apart (x is side
        // values beside a side^2 block, so the copy costs nothing).
        let input = scratch.buffer(side, slot: 0)
        input.update(from: x.baseAddress!, count: side)
        if part.upperOnly {
            cblas_dsymv(CblasRowMajor, CblasUpper, n, 1, part.values, n, input, 1, 0, output.baseAddress!, 1)
        } else {
            cblas_dgemv(CblasRowMajor, CblasNoTrans, n, n, 1, part.values, n, input, 1, 0, output.baseAddress!, 1)
        }
    }

    public func trace() -> Double { block.trace }
    public func frobeniusNorm() -> Double { block.frobeniusNorm }
    public func diagonal() -> [Double] { block.diagonal }
    public func scaled(by alpha: Double) -> any BlockForm {
        DenseForm(block: Matrix64(rows: side, columns: side, values: block.values.map { $0 * alpha }))
    }

    public func solve(_ x: [Double], regularization: Double, layer: String) throws(CoreError) -> [Double] {
        var factor = BlockFactorization(block: block.values, side: side, regularization: regularization)
        var result = x
        try result.withUnsafeMutableBufferPointer { (buffer: inout UnsafeMutableBufferPointer<Double>) throws(CoreError) in
            try factor.solve(buffer.baseAddress!, layer: layer)
        }
        return result
    }

    public func inverse(regularization: Double, layer: String) throws(CoreError) -> any BlockForm {
        var factor = BlockFactorization(block: block.values, side: side, regularization: regularization)
        let symmetric = BlockDiagonalMatrix<Double>.isExactlySymmetric(block.values, side: side)
        return DenseForm(block: Matrix64(rows: side, columns: side, values: try factor.inverse(layer: layer, symmetrize: symmetric)))
    }

    public func dense() -> Matrix64 { block }

    public func plus(_ other: any BlockForm, scaledBy alpha: Double) -> (any BlockForm)? { densePlus(other, scaledBy: alpha) }

    public func times(_ other: any BlockForm) -> (any BlockForm)? {
        DenseForm(block: Matrix64.product(block, other.dense()))
    }

    /// Eigenvalues only (`dsyevd` without vectors).
    public func spectrum(layer: String) throws(CoreError) -> BlockSpectrum {
        try requireSymmetric(layer, for: "the spectrum")
        return .values(try block.symmetricEigenvalues())
    }

    /// 2 Σ log L_ii of the Cholesky factor of M + regul I (half the work of
    /// an LU, and a failed factorisation is the positive-definiteness test).
    public func logDeterminant(regularization: Double, layer: String) throws(CoreError) -> Double {
        try requireSymmetric(layer, for: "logdet")
        var a = block.values
        return try DenseForm.logDeterminant(overwriting: &a, side: side, regularization: regularization, layer: layer)
    }

    /// The same, factoring `a` (a symmetric `side x side` block, row-major)
    /// in place: a stored block read whole is factored without a second copy.
    public static func logDeterminant(overwriting a: inout [Double], side n: Int, regularization: Double,
                                      layer: String) throws(CoreError) -> Double {
        guard regularization.isFinite, !a.contains(where: { !$0.isFinite }) else {
            throw CoreError(.invalidArgument, "block '\(layer)' holds NaN or an infinite value; its log-determinant is undefined")
        }
        for i in 0 ..< n { a[i * n + i] += regularization }
        let factored = try a.withUnsafeMutableBufferPointer { (buffer: inout UnsafeMutableBufferPointer<Double>) throws(CoreError) -> Bool in
            try PanelCholesky.factor(buffer.baseAddress!, side: n)
        }
        guard factored else {
            let with = regularization == 0 ? "" : " with regul \(regularization)"
            throw CoreError(.invalidArgument, "block '\(layer)' is not positive definite\(with) (its Cholesky factorisation failed); logdet needs M + regul I > 0: add a larger regul")
        }
        return (0 ..< n).reduce(0.0) { $0 + 2 * log(a[$1 * n + $1]) }
    }

    /// U f(λ) Uᵀ through the block's eigendecomposition.
    public func power(_ exponent: Double, regularization: Double, layer: String) throws(CoreError) -> any BlockForm {
        try requireSymmetric(layer, for: "pow")
        let (values, vectors) = try block.symmetricEigen()
        let f = try EigenvalueFunction(exponent: exponent, regularization: regularization, layer: layer, spectrum: .values(values))
        return DenseForm(block: EigenForm.composed(vectors, try f.map(values)))
    }

    /// Spectral operations read one triangle: a block that is not symmetric
    /// (relative 1e-10) is refused rather than silently symmetrised.
    public func requireSymmetric(_ layer: String, for what: String) throws(CoreError) {
        if let bad = block.values.first(where: { !$0.isFinite }) {
            throw CoreError(.invalidArgument, "block '\(layer)' holds \(bad.isNaN ? "NaN" : "an infinite value"); \(what) needs finite values")
        }
        let asymmetry = knownSymmetric ? 0 : block.asymmetry
        guard asymmetry <= KroneckerFactor.symmetryTolerance else {
            throw CoreError(.invalidArgument, "block '\(layer)' is not symmetric (largest |a_ij - a_ji| is \(asymmetry) of its largest entry); \(what) needs a symmetric matrix")
        }
    }
}
