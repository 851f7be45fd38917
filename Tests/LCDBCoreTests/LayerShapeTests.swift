import Testing
@testable import LCDBCore

/// Shapes written out by hand from DOMAIN.md's table (PyTorch storage order).
struct LayerShapeTests {
    struct Row: Sendable, CustomStringConvertible {
        let layer: String
        let build: @Sendable () throws -> Layer
        let weight: [Int]
        let bias: [Int]?
        let numel: Int
        var description: String { layer }
    }

    static let table: [Row] = [
        Row(layer: "Linear(784, 256)", build: { try .linear(784, 256) }, weight: [256, 784], bias: [256], numel: 200_960),
        Row(layer: "Linear(3, 4, bias=false)", build: { try .linear(3, 4, bias: false) }, weight: [4, 3], bias: nil, numel: 12),
        Row(layer: "Conv1d(2, 5, 3)", build: { try .conv1d(2, 5, kernelSize: 3) }, weight: [5, 2, 3], bias: [5], numel: 35),
        Row(layer: "Conv2d(3, 64, (7, 7), bias=false)", build: { try .conv2d(3, 64, kernelSize: (7, 7), bias: false) },
            weight: [64, 3, 7, 7], bias: nil, numel: 9408),
        Row(layer: "Conv2d(3, 8, (3, 5))", build: { try .conv2d(3, 8, kernelSize: (3, 5)) }, weight: [8, 3, 3, 5], bias: [8], numel: 368),
        Row(layer: "ConvTranspose2d(4, 6, (2, 3))", build: { try .convTranspose2d(4, 6, kernelSize: (2, 3)) },
            weight: [4, 6, 2, 3], bias: [6], numel: 150),
        Row(layer: "BatchNorm1d(10)", build: { try .batchNorm1d(10) }, weight: [10], bias: [10], numel: 20),
        Row(layer: "BatchNorm2d(64)", build: { try .batchNorm2d(64) }, weight: [64], bias: [64], numel: 128),
        Row(layer: "GroupNorm(4, 12)", build: { try .groupNorm(numGroups: 4, numChannels: 12) }, weight: [12], bias: [12], numel: 24),
        Row(layer: "LayerNorm((768,))", build: { try .layerNorm([768]) }, weight: [768], bias: [768], numel: 1536),
        Row(layer: "LayerNorm((2, 3), bias=false)", build: { try .layerNorm([2, 3], bias: false) }, weight: [2, 3], bias: nil, numel: 6),
        Row(layer: "RMSNorm((5,))", build: { try .rmsNorm([5]) }, weight: [5], bias: nil, numel: 5),
        Row(layer: "Embedding(50257, 768)", build: { try .embedding(50257, 768) }, weight: [50257, 768], bias: nil, numel: 38_597_376),
        Row(layer: "WeightNorm1d(3, 4)", build: { try .weightNorm1d(3, 4) }, weight: [4, 3], bias: nil, numel: 12),
        Row(layer: "WeightNorm2d(3, 4, (5, 5))", build: { try .weightNorm2d(3, 4, kernelSize: (5, 5)) }, weight: [4, 3, 5, 5], bias: nil, numel: 300),
        Row(layer: "Cosine1d(3, 4)", build: { try .cosine1d(3, 4) }, weight: [4, 3], bias: nil, numel: 12),
        Row(layer: "Affine1d(7)", build: { try .affine1d(7) }, weight: [7], bias: [7], numel: 14),
        Row(layer: "Affine1d(7, bias=false)", build: { try .affine1d(7, bias: false) }, weight: [7], bias: nil, numel: 7),
        Row(layer: "Parameter(2, 3, 4)", build: { try .parameter([2, 3, 4]) }, weight: [2, 3, 4], bias: nil, numel: 24),
    ]

    @Test(arguments: table)
    func shapesAndNumel(row: Row) throws {
        let layer = try row.build()
        #expect(layer.weightShape == row.weight)
        #expect(layer.biasShape == row.bias)
        #expect(layer.hasBias == (row.bias != nil))
        #expect(layer.numel == row.numel)
        #expect(layer.transposed == (layer.kind == .embedding))
    }

    @Test func everyKindIsInTheTable() throws {
        let kinds = Set(try Self.table.map { try $0.build().kind })
        #expect(kinds == Set(LayerKind.allCases))
    }

    @Test(arguments: table)
    func descriptionReadsBackAsTheSameLayer(row: Row) throws {
        // The description uses PyTorch's argument conventions; rebuild it through the binder.
        let layer = try row.build()
        let rebuilt = try Layer(layer.kind, [], keywords: layer.namedHyperparameters.map { ($0.name, $0.value) })
        #expect(rebuilt == layer)
    }

    @Test func descriptionsArePyTorchStyle() throws {
        #expect(try Layer.linear(784, 256).description == "Linear(784, 256)")
        #expect(try Layer.conv2d(3, 64, kernelSize: (7, 7), bias: false).description
            == "Conv2d(3, 64, kernel_size=(7, 7), bias=false)")
        #expect(try Layer.layerNorm([768]).description == "LayerNorm((768,))")
        #expect(try Layer.parameter([2, 3]).description == "Parameter(2, 3)")
        #expect(try Layer.linear(3, 4, bias: false).hyperparametersJSON
            == #"{"in_features":3,"out_features":4,"bias":false}"#)
    }

    @Test func bindingFollowsPyTorch() throws {
        let positional = try Layer(.conv2d, [.int(3), .int(64), .int(7)], keywords: [("bias", .bool(false))])
        #expect(positional == (try .conv2d(3, 64, kernelSize: (7, 7), bias: false)))
        let keywords = try Layer(.linear, [], keywords: [("out_features", .int(4)), ("in_features", .int(3))])
        #expect(keywords == (try .linear(3, 4)))
        #expect(try Layer(.layerNorm, [.int(768)]) == (try .layerNorm([768])))
        #expect(try Layer(.parameter, [.int(2), .int(3)]) == (try .parameter([2, 3])))
        #expect(try Layer(.parameter, [], keywords: [("size", .shape([2, 3]))]) == (try .parameter([2, 3])))
    }

    @Test func kindNamesIgnoreCase() {
        #expect(LayerKind(named: "conv2d") == .conv2d)
        #expect(LayerKind(named: "RMSNORM") == .rmsNorm)
        #expect(LayerKind(named: "Dense") == nil)
    }

    static let badArguments: [(kind: LayerKind, positional: [HyperparameterValue], keywords: [(String, HyperparameterValue)], message: String)] = [
        (.linear, [.int(0), .int(4)], [], "Linear: in_features must be a positive integer, got 0"),
        (.linear, [.int(3), .int(-4)], [], "Linear: out_features must be a positive integer, got -4"),
        (.linear, [.int(3)], [], "Linear: missing argument 'out_features'; usage: Linear(in_features, out_features, bias=true)"),
        (.linear, [.int(3), .int(4), .bool(true), .int(1)], [], "Linear: takes at most 3 positional arguments, got 4"),
        (.linear, [.int(3), .int(4)], [("bias", .int(1))], "Linear: bias must be true or false, got 1"),
        (.linear, [.int(3), .int(4)], [("in_features", .int(3))], "Linear: argument 'in_features' given twice"),
        (.conv2d, [.int(3), .int(4)], [("kernel", .int(3))],
         "Conv2d: unknown argument 'kernel' (arguments: in_channels, out_channels, kernel_size, bias)"),
        (.conv2d, [.int(3), .int(4), .shape([3, 3, 3])], [], "Conv2d: kernel_size must be a positive integer or a pair (h, w), got (3, 3, 3)"),
        (.conv2d, [.int(3), .int(4), .shape([3, 0])], [], "Conv2d: kernel_size must be a positive integer, got 0"),
        (.groupNorm, [.int(5), .int(12)], [], "GroupNorm: num_channels (12) must be divisible by num_groups (5)"),
        (.layerNorm, [.shape([])], [], "LayerNorm: normalized_shape must be a positive integer or a non-empty tuple of them, got ()"),
        (.parameter, [], [], "Parameter: missing argument 'size'; usage: Parameter(*size)"),
        (.parameter, [.int(2), .bool(true)], [], "Parameter: sizes must be integers, got true"),
        (.parameter, [.int(1 << 40), .int(1 << 40)], [], "Parameter: shape [1099511627776, 1099511627776] has more elements than a 64-bit integer holds"),
    ]

    @Test(arguments: badArguments.indices)
    func badArgumentsAreClearErrors(index: Int) {
        let row = Self.badArguments[index]
        #expect {
            _ = try Layer(row.kind, row.positional, keywords: row.keywords.map { ($0.0, $0.1) })
        } throws: { error in
            (error as? CoreError)?.message == row.message
        }
    }
}
