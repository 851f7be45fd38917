import Foundation

/// `λ -> (λ + regularization)^exponent` on the eigenvalues of one block,
/// with the domain checked so that no power is NaN: a fractional power needs
/// `λ + regul >= 0` and a negative one `λ + regul != 0`. Eigenvalues of a
/// positive semi-definite block can come out of LAPACK slightly negative
/// (round-off); within `side x eps x max|λ|` below zero they count as zero.
public struct EigenvalueFunction: Sendable {
    public let exponent: Double
    public let regularization: Double
    let layer: String
    let roundOff: Double

    /// `spectrum` is the block's, for its scale and size.
    public init(exponent: Double, regularization: Double, layer: String, spectrum: BlockSpectrum) throws(CoreError) {
        guard exponent.isFinite else { throw CoreError(.invalidArgument, "the exponent must be finite, got \(exponent)") }
        guard regularization.isFinite else { throw CoreError(.invalidArgument, "regul must be finite, got \(regularization)") }
        self.exponent = exponent
        self.regularization = regularization
        self.layer = layer
        let largest = max(abs(spectrum.extremes(1, largest: true).first ?? 0), abs(spectrum.minimum ?? 0))
        guard largest.isFinite else {
            throw CoreError(.invalidArgument, "block '\(layer)' holds NaN or an infinite value; its powers are undefined")
        }
        roundOff = Double(spectrum.count) * Double.ulpOfOne * largest
    }

    var isInteger: Bool { exponent == exponent.rounded() }

    public func callAsFunction(_ eigenvalue: Double) throws(CoreError) -> Double {
        var base = eigenvalue + regularization
        if !isInteger, base < 0 {
            guard base >= -roundOff else {
                throw CoreError(.invalidArgument, "block '\(layer)' is not positive semi-definite with regul \(regularization) (eigenvalue \(eigenvalue)); a power \(exponent) needs M + regul I >= 0: add a larger regul")
            }
            base = 0
        }
        if exponent < 0, base == 0 {
            throw BlockForms.singular(layer, regularization, detail: "an eigenvalue plus regul is zero, so the power \(exponent) is undefined")
        }
        if exponent == 1 { return base }
        if exponent == -1 { return 1 / base }
        if exponent == 0.5 { return base.squareRoot() }
        if exponent == -0.5 { return 1 / base.squareRoot() }
        return Foundation.pow(base, exponent)
    }

    public func map(_ values: [Double]) throws(CoreError) -> [Double] {
        var result = [Double](repeating: 0, count: values.count)
        for (index, value) in values.enumerated() { result[index] = try self(value) }
        return result
    }
}

extension BlockForm {
    /// From the spectrum: Σ log(λ + regul), after checking the smallest
    /// `λ + regul > 0`. A kfac block with regul 0 sums the factors' logs
    /// (`dim_R log det L + dim_L log det R`) instead of every product's.
    public func logDeterminant(regularization: Double, layer: String) throws(CoreError) -> Double {
        let spectrum = try spectrum(layer: layer)
        try Self.requirePositiveDefinite(spectrum, regularization: regularization, layer: layer)
        if case .kronecker(let a, let b) = spectrum, regularization == 0, a.allSatisfy({ $0 > 0 }) {
            return Double(b.count) * a.reduce(0) { $0 + log($1) } + Double(a.count) * b.reduce(0) { $0 + log($1) }
        }
        return spectrum.sum { log($0 + regularization) }
    }

    static func requirePositiveDefinite(_ spectrum: BlockSpectrum, regularization: Double, layer: String) throws(CoreError) {
        guard let smallest = spectrum.minimum else { return }
        guard smallest.isFinite, regularization.isFinite else {
            throw CoreError(.invalidArgument, "block '\(layer)' holds NaN or an infinite value; its log-determinant is undefined")
        }
        guard smallest + regularization > 0 else {
            let with = regularization == 0 ? "" : " + regul \(regularization)"
            throw CoreError(.invalidArgument, "block '\(layer)' is not positive definite (smallest eigenvalue \(smallest)\(with) <= 0); logdet needs M + regul I > 0: add a larger regul")
        }
    }
}
