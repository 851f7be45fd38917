/// The value of one hyperparameter of a layer: a size, a flag or a shape.
public enum HyperparameterValue: Hashable, Sendable, CustomStringConvertible {
    case int(Int)
    case bool(Bool)
    case shape([Int])

    /// PyTorch's spelling: `3`, `true`, `(7, 7)`, `(768,)`.
    public var description: String {
        switch self {
        case .int(let value): String(value)
        case .bool(let value): value ? "true" : "false"
        case .shape(let dims):
            dims.count == 1 ? "(\(dims[0]),)" : "(" + dims.map(String.init).joined(separator: ", ") + ")"
        }
    }

    /// JSON text: a number, a boolean or an array of numbers.
    public var json: String {
        switch self {
        case .int(let value): String(value)
        case .bool(let value): value ? "true" : "false"
        case .shape(let dims): "[" + dims.map(String.init).joined(separator: ",") + "]"
        }
    }
}

/// One hyperparameter in a layer kind's signature, with PyTorch's name.
public struct HyperparameterSpec: Sendable, Equatable {
    public enum ValueType: Sendable, Equatable {
        /// A positive size.
        case size
        case bool
        /// A positive size or a pair of them (`kernel_size=3` means `(3, 3)`).
        case pair
        /// A positive size or a tuple of them (`normalized_shape=768` means `(768,)`).
        case shape
    }

    public let name: String
    public let type: ValueType
    public let defaultValue: HyperparameterValue?

    init(_ name: String, _ type: ValueType, default defaultValue: HyperparameterValue? = nil) {
        self.name = name
        self.type = type
        self.defaultValue = defaultValue
    }
}
