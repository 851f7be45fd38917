import LCDBCore
import LCDBStore

/// `+ - * /` and negation on numbers, vectors and matrices (`*` and `/`
/// between vectors, and `/` with a vector, are element-wise: `ElementWise`).
enum Arithmetic {
    /// A matrix expression is kept lazy (one block at a time is computed), so
    /// a chain of matrix terms is a tree walked recursively: capped like nesting.
    static func apply(_ op: Character, _ left: Value, _ right: Value, session: Session,
                      at location: SourceLocation) throws -> Value {
        let result = try applyUnchecked(op, left, right, session: session, at: location)
        if case .matrix(let m) = result, m.depth > Expression.maxNesting {
            throw ShellError("more than \(Expression.maxNesting) matrix operations in one expression; store partial results with let", at: location)
        }
        return result
    }

    private static func applyUnchecked(_ op: Character, _ left: Value, _ right: Value, session: Session,
                                       at location: SourceLocation) throws -> Value {
        switch (op, left, right) {
        case ("+", .number(let a), .number(let b)): return .number(a + b)
        case ("-", .number(let a), .number(let b)): return .number(a - b)
        case ("*", .number(let a), .number(let b)): return .number(a * b)
        case ("/", .number(let a), .number(let b)): return .number(a / b)
        case ("*", .vector, .vector), ("/", .vector, .vector), ("/", .vector, .number), ("/", .number, .vector),
             ("+", .vector, .number), ("+", .number, .vector), ("-", .vector, .number), ("-", .number, .vector):
            return try ElementWise.arithmetic(op, left, right, at: location)
        case ("/", .matrix, .number(let b)), ("/", .whole, .number(let b)): return try scale(left, by: 1 / b, session: session, at: location)
        case ("*", .number(let a), _): return try scale(right, by: a, session: session, at: location)
        case ("*", _, .number(let b)): return try scale(left, by: b, session: session, at: location)
        case ("+", .vector(let a, let name), .vector(let b, _)):
            return .vector(try combine(a, b, alpha: 1, for: "+"), collectionName: name)
        case ("-", .vector(let a, let name), .vector(let b, _)):
            return .vector(try combine(a, b, alpha: -1, for: "-"), collectionName: name)
        case ("+", .matrix(let a), .matrix(let b)), ("-", .matrix(let a), .matrix(let b)):
            try a.collection.requireEqual(to: b.collection, for: op == "+" ? "add" : "subtract")
            return .matrix(MatrixValue(origin: .sum(a, b, alpha: op == "+" ? 1 : -1), collection: a.collection,
                                       collectionName: a.collectionName ?? b.collectionName,
                                       dtype: promote(a.dtype, b.dtype), isSymmetric: a.isSymmetric && b.isSymmetric))
        case ("+", .whole(let a), .matrix(let b)), ("-", .whole(let a), .matrix(let b)):
            return .whole(a.with(a.matrix.shifted(by: (op == "+" ? 1 : -1) * (try identityScale(b, beside: a, op, at: location)))))
        case ("+", .matrix(let a), .whole(let b)), ("-", .matrix(let a), .whole(let b)):
            let s = try identityScale(a, beside: b, op, at: location)
            return .whole(b.with((op == "+" ? b.matrix : b.matrix.scaled(by: -1)).shifted(by: s)))
        case ("*", .whole(let m), .vector(let v, _)):
            return try m.product(v)
        case ("*", .matrix(let m), .vector(let v, _)):
            return try MatrixOperations.product(m, v, matching: .identical, session: session)
        case ("*", .matrix(let a), .matrix(let b)):
            return .matrix(try MatrixOperations.matrixProduct(a, b))
        default:
            throw ShellError("cannot apply '\(op)' to \(left.kindName) and \(right.kindName)", at: location)
        }
    }

    static func scale(_ value: Value, by alpha: Double, session: Session, at location: SourceLocation) throws -> Value {
        switch value {
        case .number(let a):
            return .number(alpha * a)
        case .vector(.float32(let v), let name):
            return .vector(.float32(v.scaled(by: Float(alpha))), collectionName: name)
        case .vector(.float64(let v), let name):
            return .vector(.float64(v.scaled(by: alpha)), collectionName: name)
        case .matrix(let m):
            return .matrix(MatrixValue(origin: .scaled(m, alpha), collection: m.collection, collectionName: m.collectionName,
                                       dtype: m.dtype, isSymmetric: m.isSymmetric))
        case .whole(let m):
            return .whole(m.with(m.matrix.scaled(by: alpha)))
        default:
            throw ShellError("cannot scale \(value.kindName)", at: location)
        }
    }

    /// s when `m` is `s I` over the whole matrix's layers: the only
    /// matrices a low-rank or full one adds to and stays in its kind.
    private static func identityScale(_ m: MatrixValue, beside low: WholeMatrixValue, _ op: Character,
                                       at location: SourceLocation) throws -> Double {
        try m.collection.requireEqual(to: low.matrix.collection, for: op == "+" ? "add" : "subtract")
        guard let scale = m.scaledIdentity else {
            throw ShellError("a \(low.matrix.kindName) matrix \(op == "+" ? "plus" : "minus") a block-diagonal one has no exact form lcdb keeps; only a multiple of identity(C) adds to it (M + 1e-3 * identity(C)), and regul= damps it in solve, inv and logdet",
                             at: location)
        }
        return scale
    }

    /// a + alpha * b, float64 if either is.
    static func combine(_ a: AnyParameterVector, _ b: AnyParameterVector, alpha: Double,
                        matching: LayerMatching = .identical, for what: String = "axpy") throws -> AnyParameterVector {
        if a.dtype == .float32 && b.dtype == .float32 {
            return .float32(try a.typed(Float.self).adding(b.typed(Float.self), scaledBy: Float(alpha), matching: matching, for: what))
        }
        return .float64(try a.typed(Double.self).adding(b.typed(Double.self), scaledBy: alpha, matching: matching, for: what))
    }

    static func promote(_ a: DType, _ b: DType) -> DType { a == .float32 && b == .float32 ? .float32 : .float64 }
}
