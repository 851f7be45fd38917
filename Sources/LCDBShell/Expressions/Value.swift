import LCDBCore

/// The value of an expression.
public enum Value: Sendable {
    case number(Double)
    /// A vector and the stored collection it is over, when known.
    case vector(AnyParameterVector, collectionName: String?)
    case matrix(MatrixValue)
    /// A low-rank matrix (spans layers; not block-diagonal).
    case whole(WholeMatrixValue)
    /// A stored collection, by name.
    case collection(String)
    /// A keyword argument's bare word (`dtype=float32`, `layers=common`, `p=inf`).
    case word(String)
    /// Rows a function returns (the eigenvalues with their layers): printed, not stored.
    case table(ResultTable)

    var kindName: String {
        switch self {
        case .number: "a number"
        case .vector: "a vector"
        case .matrix: "a matrix"
        case .whole(let value): "a \(value.matrix.kindName) matrix"
        case .collection: "a collection"
        case .word(let word): "'\(word)'"
        case .table: "a table"
        }
    }
}
