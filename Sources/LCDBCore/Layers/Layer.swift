/// One layer: a kind and its hyperparameters, from which the parameter shapes
/// follow (DOMAIN.md's table, PyTorch's storage order).
///
/// Two layers are *identical* (`==`) when the kind and every hyperparameter
/// agree, `bias` and `num_groups` included: `Linear(3, 4)` is not
/// `Linear(3, 4, bias=false)` and not `WeightNorm1d(3, 4)`. They are
/// *shape-compatible* (`isShapeCompatible(with:)`) when their weight and bias
/// shapes agree, whatever the kinds.
public struct Layer: Hashable, Sendable, CustomStringConvertible {
    public let kind: LayerKind
    /// Values in the order of `kind.signature`; pairs and shapes always as `.shape`.
    public let hyperparameters: [HyperparameterValue]
    /// The weight tensor's shape (for `Parameter`, the parameter's shape).
    public let weightShape: [Int]
    /// The bias tensor's shape, nil when the layer has no bias.
    public let biasShape: [Int]?
    /// Elements of weight plus elements of bias.
    public let numel: Int

    /// Binds arguments the way PyTorch's constructors do: positional values
    /// in signature order, then keywords, then defaults. Throws for a missing,
    /// unknown, repeated or ill-typed argument and for a size that is not a
    /// positive integer or overflows.
    public init(_ kind: LayerKind, _ positional: [HyperparameterValue] = [],
                keywords: [(name: String, value: HyperparameterValue)] = []) throws {
        let values = try LayerArgumentBinder(kind: kind).bind(positional: positional, keywords: keywords)
        try self.init(kind: kind, canonical: values)
    }

    /// Builds a layer from values already in canonical signature order.
    init(kind: LayerKind, canonical values: [HyperparameterValue]) throws {
        self.kind = kind
        self.hyperparameters = values
        let shapes = try Layer.shapes(of: kind, values)
        weightShape = shapes.weight
        biasShape = shapes.bias
        let weightCount = try Layer.elementCount(of: shapes.weight, kind: kind)
        let biasCount = try shapes.bias.map { try Layer.elementCount(of: $0, kind: kind) } ?? 0
        let (sum, overflow) = weightCount.addingReportingOverflow(biasCount)
        guard !overflow else { throw CoreError(.tooLarge, "\(kind.rawValue): the number of parameters overflows a 64-bit integer") }
        numel = sum
    }

    public static func == (lhs: Layer, rhs: Layer) -> Bool {
        lhs.kind == rhs.kind && lhs.hyperparameters == rhs.hyperparameters
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(kind)
        hasher.combine(hyperparameters)
    }

    public var hasBias: Bool { biasShape != nil }

    /// NNGeometry's flag: true for Embedding only, whose weight is used transposed.
    public var transposed: Bool { kind == .embedding }

    /// (name, value) in signature order.
    public var namedHyperparameters: [(name: String, value: HyperparameterValue)] {
        zip(kind.signature, hyperparameters).map { ($0.name, $1) }
    }

    public func value(of name: String) -> HyperparameterValue? {
        namedHyperparameters.first { $0.name == name }?.value
    }

    public func isShapeCompatible(with other: Layer) -> Bool {
        weightShape == other.weightShape && biasShape == other.biasShape
    }

    /// PyTorch style, readable back by the shell: required arguments by
    /// position, defaulted ones by keyword when they differ from the default.
    /// `Linear(784, 256)`, `Conv2d(3, 64, kernel_size=(7, 7), bias=false)`.
    public var description: String {
        if kind == .parameter { return "Parameter(\(weightShape.map(String.init).joined(separator: ", ")))" }
        var parts: [String] = []
        for (spec, value) in zip(kind.signature, hyperparameters) {
            if let defaultValue = spec.defaultValue {
                if value != defaultValue { parts.append("\(spec.name)=\(value)") }
            } else if spec.type == .pair {
                parts.append("kernel_size=\(value)")
            } else {
                parts.append(value.description)
            }
        }
        return "\(kind.rawValue)(\(parts.joined(separator: ", ")))"
    }

    /// `{"in_features":784,"out_features":256,"bias":true}`
    public var hyperparametersJSON: String {
        "{" + namedHyperparameters.map { "\"\($0.name)\":\($0.value.json)" }.joined(separator: ",") + "}"
    }

    private static func elementCount(of shape: [Int], kind: LayerKind) throws -> Int {
        var count = 1
        for dimension in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            guard !overflow else {
                throw CoreError(.tooLarge, "\(kind.rawValue): shape \(shape) has more elements than a 64-bit integer holds")
            }
            count = product
        }
        return count
    }
}
