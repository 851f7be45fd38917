import Foundation
import LCDBCore

/// Element-wise arithmetic, comparisons and functions on vectors (and
/// numbers), with NumPy's IEEE semantics: `1 / 0` is inf, `0 / 0`,
/// `sqrt(-1)` and `log(-1)` are NaN, `log(0)` is -inf, NaN propagates
/// through `maximum`, `minimum` and `clip`, and a comparison with NaN is
/// false (`!=` true). Dtype rules are NumPy's too: float32 with float32, or
/// with a number, stays float32; anything with float64 is float64.
/// Comparisons give a mask: a vector of 1 (true) and 0 (false).
enum ElementWise {
    /// One function, in both precisions (float32 values are computed in float32, as NumPy does).
    struct Function: Sendable {
        let single: @Sendable (Float, Float) -> Float
        let double: @Sendable (Double, Double) -> Double
    }

    /// `* / + -` with a number broadcast to every entry (`v + 1`, `1 / v`).
    static func arithmetic(_ op: Character, _ left: Value, _ right: Value, at location: SourceLocation) throws -> Value {
        let (function, what): (Function, String) = switch op {
        case "*": (Function(single: { $0 * $1 }, double: { $0 * $1 }), "element-wise product")
        case "/": (Function(single: { $0 / $1 }, double: { $0 / $1 }), "division")
        case "+": (Function(single: { $0 + $1 }, double: { $0 + $1 }), "addition")
        default: (Function(single: { $0 - $1 }, double: { $0 - $1 }), "subtraction")
        }
        return try apply(function, left, right, what: what, at: location)
    }

    static func compare(_ op: String, _ left: Value, _ right: Value, at location: SourceLocation) throws -> Value {
        if case .number(let a) = left, case .number(let b) = right { return .number(holds(op, a, b) ? 1 : 0) }
        let function = Function(single: { holds(op, Double($0), Double($1)) ? 1 : 0 }, double: { holds(op, $0, $1) ? 1 : 0 })
        return try apply(function, left, right, what: "comparison \(op)", at: location)
    }

    /// IEEE comparisons: NaN compares false, except `!=`.
    static func holds(_ op: String, _ a: Double, _ b: Double) -> Bool {
        switch op {
        case "<": a < b
        case "<=": a <= b
        case ">": a > b
        case ">=": a >= b
        case "==": a == b
        default: a != b
        }
    }

    /// `function` on two operands, each a vector or a number (at least one a
    /// vector); vectors must be over the same collection.
    static func apply(_ function: Function, _ left: Value, _ right: Value, what: String, at location: SourceLocation) throws -> Value {
        let (a, aName) = try operand(left, what, location), (b, bName) = try operand(right, what, location)
        let collection: LayerCollection
        switch (a, b) {
        case (.vector(let x), .vector(let y)):
            try ShellError.located(location) { try x.collection.requireEqual(to: y.collection, for: what) }
            collection = x.collection
        case (.vector(let x), _), (_, .vector(let x)): collection = x.collection
        default: throw ShellError("\(what) needs a vector", at: location)
        }
        let single = [a, b].allSatisfy { if case .vector(let v) = $0 { v.dtype == .float32 } else { true } }
        try ParameterVector<Double>.requireMemory(over: collection, copies: 3)
        let result: AnyParameterVector = single
            ? .float32(try ParameterVector(collection: collection, values: combined(a, b, function.single, { $0.typed(Float.self).values }, { Float($0) })))
            : .float64(try ParameterVector(collection: collection, values: combined(a, b, function.double, { $0.typed(Double.self).values }, { $0 })))
        return .vector(result, collectionName: aName ?? bName)
    }

    /// NumPy's where: `a` where `mask` is non-zero (NaN counts as true), `b`
    /// elsewhere, picked (not `mask * a + (1 - mask) * b`, which turns inf into
    /// NaN). float32 when every vector among a and b is float32.
    static func select(_ mask: AnyParameterVector, _ maskName: String?, _ a: Value, _ b: Value,
                       at location: SourceLocation) throws -> Value {
        let (x, xName) = try operand(a, "where", location), (y, yName) = try operand(b, "where", location)
        for case .vector(let v) in [x, y] {
            try ShellError.located(location) { try mask.collection.requireEqual(to: v.collection, for: "where") }
        }
        let vectors = [x, y].compactMap { if case .vector(let v) = $0 { v } else { nil } }
        let single = !vectors.isEmpty && vectors.allSatisfy { $0.dtype == .float32 }
        let keep = mask.typed(Double.self).values.map { $0 != 0 }
        func picked<Scalar>(_ values: (AnyParameterVector) -> [Scalar], _ scalar: (Double) -> Scalar) -> [Scalar] {
            let first: (Int) -> Scalar, second: (Int) -> Scalar
            switch x {
            case .vector(let v): let xs = values(v); first = { xs[$0] }
            case .number(let c): let s = scalar(c); first = { _ in s }
            }
            switch y {
            case .vector(let v): let ys = values(v); second = { ys[$0] }
            case .number(let c): let s = scalar(c); second = { _ in s }
            }
            return keep.indices.map { keep[$0] ? first($0) : second($0) }
        }
        let collection = mask.collection
        let result: AnyParameterVector = single
            ? .float32(try ParameterVector(collection: collection, values: picked({ $0.typed(Float.self).values }, { Float($0) })))
            : .float64(try ParameterVector(collection: collection, values: picked({ $0.typed(Double.self).values }, { $0 })))
        return .vector(result, collectionName: maskName ?? xName ?? yName)
    }

    /// `f` on every entry of a vector (or on a number).
    static func map(_ value: Value, _ single: (Float) -> Float, _ double: (Double) -> Double) -> Value {
        switch value {
        case .number(let x): return .number(double(x))
        case .vector(.float32(let v), let name):
            return .vector(.float32(v.mapValues(single)), collectionName: name)
        case .vector(.float64(let v), let name):
            return .vector(.float64(v.mapValues(double)), collectionName: name)
        default: preconditionFailure("element-wise functions take vectors or numbers")
        }
    }

    enum Operand {
        case vector(AnyParameterVector)
        case number(Double)
    }

    /// f(a_i, b_i), a number standing for every entry.
    private static func combined<Scalar>(_ a: Operand, _ b: Operand, _ f: (Scalar, Scalar) -> Scalar,
                                         _ values: (AnyParameterVector) -> [Scalar], _ scalar: (Double) -> Scalar) -> [Scalar] {
        switch (a, b) {
        case (.vector(let x), .vector(let y)):
            let xs = values(x), ys = values(y)
            return xs.indices.map { f(xs[$0], ys[$0]) }
        case (.vector(let x), .number(let y)):
            let c = scalar(y)
            return values(x).map { f($0, c) }
        case (.number(let x), .vector(let y)):
            let c = scalar(x)
            return values(y).map { f(c, $0) }
        case (.number(let x), .number(let y)):
            return [f(scalar(x), scalar(y))]
        }
    }

    private static func operand(_ value: Value, _ what: String, _ location: SourceLocation) throws -> (Operand, String?) {
        switch value {
        case .vector(let v, let name): return (.vector(v), name)
        case .number(let x): return (.number(x), nil)
        default: throw ShellError("\(what) takes vectors and numbers, not \(value.kindName)", at: location)
        }
    }
}
