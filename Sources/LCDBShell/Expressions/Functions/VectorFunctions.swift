import Foundation
import LCDBCore

enum VectorFunctions {
    static let all: [FunctionSpec] = [
        FunctionSpec(name: "dot", parameters: [.init("u", .vector), .init("v", .vector), FunctionSpec.layers],
                     summary: "Inner product of two vectors (BLAS dot).", example: "dot(g, g);") { args, _ in
            let (u, v) = (try args.vector("u").vector, try args.vector("v").vector)
            if u.dtype == .float32 && v.dtype == .float32 {
                return .number(try u.typed(Float.self).dot(v.typed(Float.self), matching: args.matching))
            }
            return .number(try u.typed(Double.self).dot(v.typed(Double.self), matching: args.matching))
        },
        FunctionSpec(name: "norm", parameters: [.init("v", .vector, mayStayStored: true, mayStayProduct: true), .init("p", .norm, default: .word("2"))],
                     summary: "The 1-, 2- or infinity norm of a vector (of mv(K, g), K in forms and g stored: block by block, K g never whole).",
                     example: "norm(g, inf);") { args, evaluator in
            let kind = VectorNorm(rawValue: args.word("p") ?? "2") ?? .l2
            // norm(mv(K, g)) of a stored K in forms and a stored g: each
            // block's share of K g reduced as it is computed, never held whole.
            if let product = args.storedProduct("v"),
               let value = try MatrixOperations.storedProduct(product.matrix, vectorNamed: product.vector, reducedTo: .norm(kind),
                                                              session: evaluator.session) {
                return .number(value)
            }
            // A stored vector: read a chunk at a time, never loaded.
            if let stored = args.storedVector("v") {
                return .number(try StoredVectorStreams.reductions(of: stored, .norm(kind), evaluator.store).0.norm(kind))
            }
            return switch try args.vector("v").vector {
            case .float32(let v): .number(v.norm(kind))
            case .float64(let v): .number(v.norm(kind))
            }
        },
        FunctionSpec(name: "axpy", parameters: [.init("alpha", .number), .init("x", .vector), .init("y", .vector), FunctionSpec.layers],
                     summary: "alpha * x + y (BLAS axpy).", example: "let w = axpy(-0.1, step, w);") { args, _ in
            let (x, y) = (try args.vector("x"), try args.vector("y"))
            let result = try Arithmetic.combine(y.vector, x.vector, alpha: try args.number("alpha"), matching: args.matching)
            // With layers=common the result is over the shared layers: named after
            // an operand's collection only when it is that collection (else `let`
            // finds the stored collection with exactly those layers, as for mv).
            let name = result.collection == y.vector.collection ? y.collectionName
                : result.collection == x.vector.collection ? x.collectionName : nil
            return .vector(result, collectionName: name)
        },
        FunctionSpec(name: "cast", parameters: [.init("x", .object), .init("dtype", .choice(["float32", "float64"]))],
                     summary: "The same vector or matrix in another dtype.", example: "let g32 = cast(g, float32);") { args, _ in
            let dtype = args.dtype
            switch args.value("x") {
            case .vector(let vector, let name)?:
                return .vector(vector.converted(to: dtype), collectionName: name)
            case .matrix(let m)?:
                return .matrix(MatrixValue(origin: m.origin, collection: m.collection, collectionName: m.collectionName,
                                           dtype: dtype, isSymmetric: m.isSymmetric))
            default:
                throw args.error("x must be a vector or a matrix")
            }
        },
        FunctionSpec(name: "round", parameters: [.init("x", .number), .init("digits", .number, default: .number(0))],
                     summary: "x rounded to a number of decimal digits (residuals print the same on every CPU).",
                     example: "round(norm(mv(F, step) - g, inf), 9);") { args, _ in
            let digits = try args.number("digits")
            guard digits == digits.rounded(), (0 ... 15).contains(digits) else { throw args.error("digits must be an integer from 0 to 15") }
            let scale = pow(10, digits)
            let rounded = (try args.number("x") * scale).rounded() / scale
            return .number(rounded == 0 ? 0 : rounded)
        },
        FunctionSpec(name: "numel", parameters: [.init("x", .name)],
                     summary: "The number of parameters of a collection, vector or matrix.", example: "numel(mlp);") { args, evaluator in
            // From the schema: the object's collection, never its values.
            let name = try args.name("x")
            let store = evaluator.store
            let collection: String = switch try store.kind(of: name) {
            case "collection": name
            case "vector": try store.collectionName(ofVector: name)
            case "matrix": try store.matrix(named: name).collectionName
            default: throw args.error("x must be a collection, vector or matrix name") // unknown names are refused when binding
            }
            return .number(Double(try store.collection(named: collection).numel))
        },
    ]
}
