import LCDBCore
import LCDBStore

/// Every function of the expression language, in `help functions` order.
enum FunctionRegistry {
    static let all: [FunctionSpec] = ConstructorFunctions.all + VectorFunctions.all + MatrixFunctions.all + ElementWiseFunctions.all + FormFunctions.all + SpectralFunctions.all + CompareFunctions.all + InspectFunctions.all + DataFunctions.all

    static func function(named name: String) -> FunctionSpec? {
        all.first { $0.name == name.lowercased() }
    }
}

enum ConstructorFunctions {
    static let all: [FunctionSpec] = [
        FunctionSpec(name: "zeros", parameters: [.init("collection", .collection), FunctionSpec.dtype],
                     summary: "A vector of zeros over a collection.", example: "let v = zeros(mlp, dtype=float32);") { args, evaluator in
            try filled(args, evaluator, 0)
        },
        FunctionSpec(name: "ones", parameters: [.init("collection", .collection), FunctionSpec.dtype],
                     summary: "A vector of ones over a collection.", example: "let v = ones(mlp);") { args, evaluator in
            try filled(args, evaluator, 1)
        },
        FunctionSpec(name: "full", parameters: [.init("collection", .collection), .init("value", .number), FunctionSpec.dtype],
                     summary: "A vector with every entry equal to value.", example: "let v = full(mlp, 0.5);") { args, evaluator in
            try filled(args, evaluator, try args.number("value"))
        },
        FunctionSpec(name: "randn", parameters: [.init("collection", .collection), .init("seed", .number, default: .number(0)), FunctionSpec.dtype],
                     summary: "Standard normal entries from the documented seeded generator (xoshiro256**, Marsaglia polar).",
                     example: "let g = randn(mlp, seed=1);") { args, evaluator in
            let name = try args.collection("collection")
            let collection = try evaluator.store.collection(named: name)
            try ParameterVector<Double>.requireMemory(over: collection, copies: args.dtype == .float32 ? 2 : 1)
            let vector = ParameterVector<Double>.random(over: collection, seed: try args.seed("seed"))
            return .vector(AnyParameterVector(vector).converted(to: args.dtype), collectionName: name)
        },
        FunctionSpec(name: "identity", parameters: [.init("collection", .collection), .init("scale", .number, default: .number(1)), FunctionSpec.dtype],
                     summary: "scale times the identity, as a block-diagonal matrix.", example: "let I = identity(mlp, scale=0.1);") { args, evaluator in
            try generated(args, evaluator, .identity(scale: try args.number("scale")))
        },
        FunctionSpec(name: "random_spd", parameters: [.init("collection", .collection), .init("seed", .number, default: .number(0)), FunctionSpec.dtype],
                     summary: "Seeded random symmetric positive-definite blocks (strictly diagonally dominant).",
                     example: "let F = random_spd(mlp, seed=1);") { args, evaluator in
            try generated(args, evaluator, .randomSPD(seed: try args.seed("seed")))
        },
    ]

    private static func filled(_ args: CallArguments, _ evaluator: Evaluator, _ value: Double) throws -> Value {
        let name = try args.collection("collection")
        let collection = try evaluator.store.collection(named: name)
        try ParameterVector<Double>.requireMemory(over: collection, copies: args.dtype == .float32 ? 2 : 1)
        return .vector(AnyParameterVector(ParameterVector<Double>.filled(with: value, over: collection)).converted(to: args.dtype),
                       collectionName: name)
    }

    private static func generated(_ args: CallArguments, _ evaluator: Evaluator, _ source: BlockSource) throws -> Value {
        let name = try args.collection("collection")
        let collection = try evaluator.store.collection(named: name)
        for entry in collection.entries where entry.layer.numel > Int(Int32.max) {
            throw args.error("layer '\(entry.name)' has \(entry.layer.numel) parameters: its block is too large")
        }
        return .matrix(MatrixValue(origin: .source(source), collection: collection, collectionName: name,
                                   dtype: args.dtype, isSymmetric: source.isSymmetric))
    }
}
