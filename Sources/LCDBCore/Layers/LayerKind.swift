/// The kinds of layer NNGeometry differentiates, with their PyTorch signatures.
///
/// The signature drives argument binding, `help`, completion, JSON and diff:
/// adding a kind is one case here plus its shapes in `Layer+Shapes.swift`.
public enum LayerKind: String, CaseIterable, Sendable {
    case linear = "Linear"
    case conv1d = "Conv1d"
    case conv2d = "Conv2d"
    case convTranspose2d = "ConvTranspose2d"
    case batchNorm1d = "BatchNorm1d"
    case batchNorm2d = "BatchNorm2d"
    case groupNorm = "GroupNorm"
    case layerNorm = "LayerNorm"
    case rmsNorm = "RMSNorm"
    case embedding = "Embedding"
    case weightNorm1d = "WeightNorm1d"
    case weightNorm2d = "WeightNorm2d"
    case cosine1d = "Cosine1d"
    case affine1d = "Affine1d"
    case parameter = "Parameter"

    /// The kind named `name`, ignoring case (`linear`, `LINEAR`, `Linear`).
    public init?(named name: String) {
        guard let kind = LayerKind.allCases.first(where: { $0.rawValue.lowercased() == name.lowercased() })
        else { return nil }
        self = kind
    }

    /// Hyperparameters in PyTorch's positional order, with defaults.
    public var signature: [HyperparameterSpec] {
        let bias = HyperparameterSpec("bias", .bool, default: .bool(true))
        switch self {
        case .linear:
            return [.init("in_features", .size), .init("out_features", .size), bias]
        case .conv1d:
            return [.init("in_channels", .size), .init("out_channels", .size), .init("kernel_size", .size), bias]
        case .conv2d, .convTranspose2d:
            return [.init("in_channels", .size), .init("out_channels", .size), .init("kernel_size", .pair), bias]
        case .batchNorm1d, .batchNorm2d:
            return [.init("num_features", .size)]
        case .groupNorm:
            return [.init("num_groups", .size), .init("num_channels", .size)]
        case .layerNorm:
            return [.init("normalized_shape", .shape), bias]
        case .rmsNorm:
            return [.init("normalized_shape", .shape)]
        case .embedding:
            return [.init("num_embeddings", .size), .init("embedding_dim", .size)]
        case .weightNorm1d, .cosine1d:
            return [.init("in_features", .size), .init("out_features", .size)]
        case .weightNorm2d:
            return [.init("in_channels", .size), .init("out_channels", .size), .init("kernel_size", .pair)]
        case .affine1d:
            return [.init("num_features", .size), bias]
        case .parameter:
            // Parameter(*size): positional sizes are gathered into one shape.
            return [.init("size", .shape)]
        }
    }

    /// `Linear(in_features, out_features, bias=true)`
    public var usage: String {
        let parameters = signature.map { spec in
            if self == .parameter { return "*size" }
            return spec.defaultValue.map { "\(spec.name)=\($0)" } ?? spec.name
        }
        return "\(rawValue)(\(parameters.joined(separator: ", ")))"
    }
}
