/// A multiple of the identity, `scale I` (NNGeometry's `PMatEye`): one
/// number, whatever the layer's size. Part `scale`, a scalar tensor.
public struct IdentityForm: BlockForm {
    public static let kind = FormKind.identity
    public static let partNames = ["scale"]
    public let side: Int
    public let scale: Double

    public init(side: Int, scale: Double) {
        self.side = side
        self.scale = scale
    }

    public init(parts: [String: FormPart], layer: Layer, name: String, validate: Bool = true) throws(CoreError) {
        let part = try BlockForms.part("scale", in: parts, layer: name, shapes: [[], [1]])
        side = layer.numel
        scale = part.values[0]
    }

    public var parts: [FormPart] { [FormPart("scale", shape: [], values: [scale])] }

    public func product(_ x: [Double]) -> [Double] { x.map { $0 * scale } }
    public func trace() -> Double { scale * Double(side) }
    public func frobeniusNorm() -> Double { abs(scale) * Double(side).squareRoot() }
    public func diagonal() -> [Double] { [Double](repeating: scale, count: side) }
    public func scaled(by alpha: Double) -> any BlockForm { IdentityForm(side: side, scale: scale * alpha) }

    public func solve(_ x: [Double], regularization: Double, layer: String) throws(CoreError) -> [Double] {
        let damped = try dampedScale(regularization, layer)
        return x.map { $0 / damped }
    }

    public func inverse(regularization: Double, layer: String) throws(CoreError) -> any BlockForm {
        IdentityForm(side: side, scale: 1 / (try dampedScale(regularization, layer)))
    }

    private func dampedScale(_ regularization: Double, _ layer: String) throws(CoreError) -> Double {
        guard scale.isFinite else {
            throw BlockForms.notFinite(layer, scale)
        }
        guard scale + regularization != 0 else { throw BlockForms.singular(layer, regularization, detail: "its scale plus regul is zero") }
        return scale + regularization
    }

    public func dense() -> Matrix64 { KroneckerFactor.diagonal([Double](repeating: scale, count: side)).dense }

    /// s I + alpha N is N's form shifted (diag, dense, ekfac), or identity.
    public func plus(_ other: any BlockForm, scaledBy alpha: Double) -> (any BlockForm)? {
        if let other = other as? IdentityForm { return IdentityForm(side: side, scale: scale + alpha * other.scale) }
        return other.scaled(by: alpha).plus(self, scaledBy: 1)
    }

    public func times(_ other: any BlockForm) -> (any BlockForm)? { other.scaled(by: scale) }

    public func spectrum(layer: String) throws(CoreError) -> BlockSpectrum {
        guard scale.isFinite else {
            throw CoreError(.invalidArgument, "block '\(layer)' holds \(scale.isNaN ? "NaN" : "an infinite value"); its eigenvalues are undefined")
        }
        return .constant(scale, count: side)
    }

    public func power(_ exponent: Double, regularization: Double, layer: String) throws(CoreError) -> any BlockForm {
        let f = try EigenvalueFunction(exponent: exponent, regularization: regularization, layer: layer, spectrum: .constant(scale, count: side))
        return IdentityForm(side: side, scale: try f(scale))
    }
}
