/// A diagonal block: `side` values (NNGeometry's `PMatDiag`). Part `diag`.
public struct DiagForm: BlockForm {
    public static let kind = FormKind.diag
    public static let partNames = ["diag"]
    public let values: [Double]

    public init(values: [Double]) { self.values = values }

    public init(parts: [String: FormPart], layer: Layer, name: String, validate: Bool = true) throws(CoreError) {
        let part = try BlockForms.part("diag", in: parts, layer: name, shapes: [[layer.numel]])
        values = part.values
    }

    public var side: Int { values.count }
    public var parts: [FormPart] { [FormPart("diag", shape: [side], values: values)] }

    public func product(_ x: [Double]) -> [Double] { zip(values, x).map { $0 * $1 } }
    public func trace() -> Double { values.reduce(0, +) }
    public func frobeniusNorm() -> Double { Matrix64.norm(values) }
    public func diagonal() -> [Double] { values }
    public func scaled(by alpha: Double) -> any BlockForm { DiagForm(values: values.map { $0 * alpha }) }

    public func solve(_ x: [Double], regularization: Double, layer: String) throws(CoreError) -> [Double] {
        try damped(regularization, layer).enumerated().map { x[$0.offset] / $0.element }
    }

    public func inverse(regularization: Double, layer: String) throws(CoreError) -> any BlockForm {
        DiagForm(values: try damped(regularization, layer).map { 1 / $0 })
    }

    private func damped(_ regularization: Double, _ layer: String) throws(CoreError) -> [Double] {
        if let bad = values.first(where: { !$0.isFinite }) {
            throw BlockForms.notFinite(layer, bad)
        }
        let damped = values.map { $0 + regularization }
        if let zero = damped.firstIndex(of: 0) {
            throw BlockForms.singular(layer, regularization, detail: "diagonal entry \(zero) is zero")
        }
        return damped
    }

    public func dense() -> Matrix64 { KroneckerFactor.diagonal(values).dense }

    public func plus(_ other: any BlockForm, scaledBy alpha: Double) -> (any BlockForm)? {
        switch other {
        case let other as DiagForm: DiagForm(values: zip(values, other.values).map { $0 + alpha * $1 })
        case let other as IdentityForm: DiagForm(values: values.map { $0 + alpha * other.scale })
        case is DenseForm: densePlus(other, scaledBy: alpha)
        default: nil
        }
    }

    public func times(_ other: any BlockForm) -> (any BlockForm)? {
        switch other {
        case let other as DiagForm: DiagForm(values: zip(values, other.values).map { $0 * $1 })
        case let other as IdentityForm: scaled(by: other.scale)
        case let other as DenseForm: DenseForm(block: Matrix64.product(dense(), other.block))
        default: nil
        }
    }

    public func spectrum(layer: String) throws(CoreError) -> BlockSpectrum {
        if let bad = values.first(where: { !$0.isFinite }) {
            throw CoreError(.invalidArgument, "block '\(layer)' holds \(bad.isNaN ? "NaN" : "an infinite value"); its eigenvalues are undefined")
        }
        return .values(values)
    }

    public func power(_ exponent: Double, regularization: Double, layer: String) throws(CoreError) -> any BlockForm {
        let f = try EigenvalueFunction(exponent: exponent, regularization: regularization, layer: layer, spectrum: .values(values))
        return DiagForm(values: try f.map(values))
    }
}
