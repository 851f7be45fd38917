/// A name with the place it was written.
public struct Located<Value: Equatable & Sendable>: Equatable, Sendable {
    public let value: Value
    public let location: SourceLocation
}

/// The expression language: numbers, names, calls with positional and
/// keyword arguments, tuples, unary minus, `+ - * /`, and one comparison
/// (`< <= > >= == !=`, element-wise on vectors: a mask of 0 and 1).
///
/// A run of operators of one precedence (`a + b - c + ...`) is one flat
/// `chain`, evaluated left to right in a loop: a 9,400-term sum was a
/// left-deep tree whose recursive evaluation overflowed the stack. Real
/// nesting (parentheses, calls) is capped at `maxNesting`, in the parser
/// and in the evaluator alike.
public indirect enum Expression: Equatable, Sendable {
    case number(Double, text: String, SourceLocation)
    /// `'layer1.*'`: text (layer patterns), evaluated to a word.
    case string(String, SourceLocation)
    case name(String, SourceLocation)
    case call(String, [Argument], SourceLocation)
    case tuple([Expression], SourceLocation)
    case negate(Expression, SourceLocation)
    /// `first op1 operand1 op2 operand2 ...`, left-associative.
    case chain(Expression, [Link], SourceLocation)
    /// `left op right`, op one of `< <= > >= == !=` (comparisons do not chain).
    case compare(String, Expression, Expression, SourceLocation)

    /// Deepest nesting of parentheses and calls accepted.
    public static let maxNesting = 200

    public struct Link: Equatable, Sendable {
        public let op: Character
        public let operand: Expression
        public let location: SourceLocation
    }

    public struct Argument: Equatable, Sendable {
        public let label: String?
        public let value: Expression
        public let location: SourceLocation
    }

    public var location: SourceLocation {
        switch self {
        case .number(_, _, let l), .string(_, let l), .name(_, let l), .call(_, _, let l), .tuple(_, let l), .negate(_, let l),
             .chain(_, _, let l), .compare(_, _, _, let l): l
        }
    }
}
