extension Layer {
    /// Parameter shapes of each kind, as PyTorch stores them (DOMAIN.md).
    static func shapes(of kind: LayerKind, _ values: [HyperparameterValue]) throws
        -> (weight: [Int], bias: [Int]?) {
        func size(_ index: Int) -> Int {
            if case .int(let value) = values[index] { return value }
            preconditionFailure("binder produced a non-size for \(kind.signature[index].name)")
        }
        func dims(_ index: Int) -> [Int] {
            if case .shape(let value) = values[index] { return value }
            preconditionFailure("binder produced a non-shape for \(kind.signature[index].name)")
        }
        func flag(_ index: Int) -> Bool {
            if case .bool(let value) = values[index] { return value }
            preconditionFailure("binder produced a non-flag for \(kind.signature[index].name)")
        }
        switch kind {
        case .linear:
            let (input, output) = (size(0), size(1))
            return ([output, input], flag(2) ? [output] : nil)
        case .conv1d:
            let (input, output) = (size(0), size(1))
            return ([output, input, size(2)], flag(3) ? [output] : nil)
        case .conv2d:
            let (input, output) = (size(0), size(1))
            return ([output, input] + dims(2), flag(3) ? [output] : nil)
        case .convTranspose2d:
            let (input, output) = (size(0), size(1))
            return ([input, output] + dims(2), flag(3) ? [output] : nil)
        case .batchNorm1d, .batchNorm2d:
            return ([size(0)], [size(0)])
        case .groupNorm:
            let (groups, channels) = (size(0), size(1))
            guard channels % groups == 0 else {
                throw CoreError(.invalidArgument,
                                "GroupNorm: num_channels (\(channels)) must be divisible by num_groups (\(groups))")
            }
            return ([channels], [channels])
        case .layerNorm:
            return (dims(0), flag(1) ? dims(0) : nil)
        case .rmsNorm:
            return (dims(0), nil)
        case .embedding:
            return ([size(0), size(1)], nil)
        case .weightNorm1d, .cosine1d:
            return ([size(1), size(0)], nil)
        case .weightNorm2d:
            return ([size(1), size(0)] + dims(2), nil)
        case .affine1d:
            return ([size(0)], flag(1) ? [size(0)] : nil)
        case .parameter:
            return (dims(0), nil)
        }
    }
}
