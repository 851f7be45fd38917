/// A name with the place it was written.
public struct Located<Value: Equatable & Sendable>: Equatable, Sendable {
    public let value: Value
    public let location: SourceLocation
}

/// The expression language: numbers, names, calls with positional and
/// keyword arguments, tuples, unary minus, and `+ - *`.
public indirect enum Expression: Equatable, Sendable {
    case number(Double, text: String, SourceLocation)
    case name(String, SourceLocation)
    case call(String, [Argument], SourceLocation)
    case tuple([Expression], SourceLocation)
    case negate(Expression, SourceLocation)
    case binary(Character, Expression, Expression, SourceLocation)

    public struct Argument: Equatable, Sendable {
        public let label: String?
        public let value: Expression
        public let location: SourceLocation
    }

    public var location: SourceLocation {
        switch self {
        case .number(_, _, let l), .name(_, let l), .call(_, _, let l), .tuple(_, let l), .negate(_, let l),
             .binary(_, _, _, let l): l
        }
    }
}
