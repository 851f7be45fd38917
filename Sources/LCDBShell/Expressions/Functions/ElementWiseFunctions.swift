import Foundation
import LCDBCore

/// Element-wise functions and reductions of vectors, NumPy's semantics (see
/// `ElementWise`): `abs`, `sqrt`, `square`, `exp`, `log`, `sign`, `clip`,
/// `maximum`, `minimum`, `where`; `sum`, `mean`, `max`, `min`, `argmax`, `argmin`.
enum ElementWiseFunctions {
    static let all: [FunctionSpec] = [
        unary("abs", "|x|, entry by entry.", "abs(g);", { abs($0) }, { abs($0) }),
        unary("sqrt", "The square root, entry by entry (NaN below zero, as NumPy).", "sqrt(diag(F));", { $0.squareRoot() }, { $0.squareRoot() }),
        unary("square", "x², entry by entry.", "sum(square(g));", { $0 * $0 }, { $0 * $0 }),
        unary("exp", "e^x, entry by entry.", "exp(g);", { Foundation.exp($0) }, { Foundation.exp($0) }),
        unary("log", "The natural logarithm, entry by entry (-inf at 0, NaN below, as NumPy).", "log(diag(F));", { Foundation.log($0) }, { Foundation.log($0) }),
        unary("sign", "-1, 0 or 1 by the sign of each entry (NaN stays NaN).", "sign(g);", { sign($0) }, { sign($0) }),
        FunctionSpec(name: "clip", parameters: [.init("x", .numeric), .init("low", .number), .init("high", .number)],
                     summary: "Each entry limited to [low, high] (NaN stays NaN; NumPy's clip).", example: "clip(g, -1, 1);") { args, _ in
            try clip(args)
        },
        FunctionSpec(name: "clamp", parameters: [.init("x", .numeric), .init("low", .number), .init("high", .number)],
                     summary: "The same as clip.", example: "clamp(g, 0, 1e999);") { args, _ in
            try clip(args)
        },
        binary("maximum", "The larger of a and b, entry by entry (NaN if either is NaN).", "maximum(g, 0);",
               ElementWise.Function(single: { $0.isNaN || $1.isNaN ? .nan : Swift.max($0, $1) },
                                    double: { $0.isNaN || $1.isNaN ? .nan : Swift.max($0, $1) })),
        binary("minimum", "The smaller of a and b, entry by entry (NaN if either is NaN).", "minimum(g, h);",
               ElementWise.Function(single: { $0.isNaN || $1.isNaN ? .nan : Swift.min($0, $1) },
                                    double: { $0.isNaN || $1.isNaN ? .nan : Swift.min($0, $1) })),
        FunctionSpec(name: "where", parameters: [.init("mask", .vector), .init("a", .numeric), .init("b", .numeric)],
                     summary: "a where mask is non-zero (a comparison's 1), b elsewhere; a and b are vectors or numbers (NumPy's where).",
                     example: "where(abs(g) > 1e-3, g, 0);") { args, _ in
            let (mask, name) = try args.vector("mask")
            return try ElementWise.select(mask, name, args.value("a")!, args.value("b")!, at: args.location)
        },
        reduction("sum", "The sum of the entries.", "sum(g);", .sum, \.sum) { values in values.reduce(0, +) },
        reduction("mean", "The mean of the entries.", "mean(g);", .sum, \.mean) { values in values.reduce(0, +) / Double(values.count) },
        reduction("max", "The largest entry (NaN if any is NaN, as NumPy).", "max(abs(g));", .extremes, \.max) { values in
            values.contains { $0.isNaN } ? .nan : values.max()!
        },
        reduction("min", "The smallest entry (NaN if any is NaN, as NumPy).", "min(diag(F));", .extremes, \.min) { values in
            values.contains { $0.isNaN } ? .nan : values.min()!
        },
        FunctionSpec(name: "argmax", parameters: [.init("v", .vector, mayStayStored: true)],
                     summary: "Where the largest entry is: its flat index, value, layer and parameter (e.g. fc1.weight[2, 3]); the first NaN if any, as NumPy.",
                     example: "argmax(abs(g));") { args, evaluator in
            try locate(args, evaluator, largest: true)
        },
        FunctionSpec(name: "argmin", parameters: [.init("v", .vector, mayStayStored: true)],
                     summary: "Where the smallest entry is, as argmax.", example: "argmin(diag(F));") { args, evaluator in
            try locate(args, evaluator, largest: false)
        },
    ]

    /// NumPy's sign: 0 for ±0, NaN for NaN.
    static func sign<T: BinaryFloatingPoint>(_ x: T) -> T { x.isNaN ? x : (x > 0 ? 1 : (x < 0 ? -1 : 0)) }

    private static func unary(_ name: String, _ summary: String, _ example: String,
                              _ single: @escaping @Sendable (Float) -> Float, _ double: @escaping @Sendable (Double) -> Double) -> FunctionSpec {
        FunctionSpec(name: name, parameters: [.init("x", .numeric)], summary: summary, example: example) { args, _ in
            ElementWise.map(args.value("x")!, single, double)
        }
    }

    private static func binary(_ name: String, _ summary: String, _ example: String, _ function: ElementWise.Function) -> FunctionSpec {
        FunctionSpec(name: name, parameters: [.init("a", .numeric), .init("b", .numeric)], summary: summary, example: example) { args, _ in
            let a = args.value("a")!, b = args.value("b")!
            if case .number(let x) = a, case .number(let y) = b { return .number(function.double(x, y)) }
            return try ElementWise.apply(function, a, b, what: name, at: args.location)
        }
    }

    /// A reduction of a vector: `streamed` picks it from a stored vector's
    /// `StreamedReductions` (read a chunk at a time, the same number to the
    /// last bit), `reduce` computes it from any other vector's values.
    private static func reduction(_ name: String, _ summary: String, _ example: String,
                                  _ needs: StreamedReductions.Needs, _ streamed: KeyPath<StreamedReductions, Double> & Sendable,
                                  _ reduce: @escaping @Sendable ([Double]) -> Double) -> FunctionSpec {
        FunctionSpec(name: name, parameters: [.init("v", .vector, mayStayStored: true)], summary: summary, example: example) { args, evaluator in
            if let stored = args.storedVector("v") {
                let (reductions, _, _) = try StoredVectorStreams.reductions(of: stored, needs, evaluator.store)
                guard reductions.count > 0 else { throw args.error("the vector has no entries") }
                return .number(reductions[keyPath: streamed])
            }
            let (vector, _) = try args.vector("v")
            guard vector.collection.numel > 0 else { throw args.error("the vector has no entries") }
            return .number(reduce(vector.typed(Double.self).values))
        }
    }

    private static func clip(_ args: CallArguments) throws -> Value {
        let low = try args.number("low"), high = try args.number("high")
        guard !(low > high) else { throw args.error("low (\(ResultTable.format(low))) is above high (\(ResultTable.format(high)))") }
        let (single, double) = (Float(low), Float(high))
        return ElementWise.map(args.value("x")!,
                               { $0.isNaN ? $0 : Swift.min(Swift.max($0, single), double) },
                               { $0.isNaN ? $0 : Swift.min(Swift.max($0, low), high) })
    }

    /// The entry's flat index, value, layer and parameter name with its index.
    private static func locate(_ args: CallArguments, _ evaluator: Evaluator, largest: Bool) throws -> Value {
        let best: Int, value: Double, collection: LayerCollection
        if let stored = args.storedVector("v") {
            // Streamed: the first NaN, else the first of the extremes, as below.
            let reductions: StreamedReductions
            (reductions, collection, _) = try StoredVectorStreams.reductions(of: stored, .extremes, evaluator.store)
            guard reductions.count > 0 else { throw args.error("the vector has no entries") }
            best = largest ? reductions.argmax : reductions.argmin
            value = largest ? reductions.max : reductions.min
        } else {
            let (vector, _) = try args.vector("v")
            let values = vector.typed(Double.self).values
            guard !values.isEmpty else { throw args.error("the vector has no entries") }
            var found = 0
            if let nan = values.firstIndex(where: { $0.isNaN }) {
                found = nan
            } else {
                for index in values.indices where largest ? values[index] > values[found] : values[index] < values[found] { found = index }
            }
            (best, value, collection) = (found, values[found], vector.collection)
        }
        // The layer holding flat index `best`: the last to start at or before it.
        let position = collection.entries.indices.last { collection.offsets[$0] <= best } ?? 0
        let entry = collection.entries[position]
        let within = best - collection.offsets[position]
        return .table(ResultTable(columns: ["index", "value", "layer", "parameter"],
                                  rows: [[.integer(best), .real(value), .text(entry.name), .text(parameterName(entry, within))]]))
    }

    /// `[2, 3]`: the row-major multi-index of flat position `flat` in `shape`.
    static func indices(_ flat: Int, _ shape: [Int]) -> String {
        var rest = flat
        var result: [Int] = []
        for size in shape.reversed() {
            result.append(rest % max(size, 1))
            rest /= max(size, 1)
        }
        return "[" + result.reversed().map(String.init).joined(separator: ", ") + "]"
    }

    /// `fc1.weight[2, 3]`, `fc1.bias[1]`, `scale[0]` (a Parameter layer is its own tensor).
    static func parameterName(_ entry: LayerCollection.Entry, _ index: Int) -> String {
        let layer = entry.layer
        let weightCount = layer.weightShape.reduce(1, *)
        if index < weightCount {
            return (layer.kind == .parameter ? entry.name : "\(entry.name).weight") + indices(index, layer.weightShape)
        }
        return "\(entry.name).bias" + indices(index - weightCount, layer.biasShape ?? [])
    }
}
