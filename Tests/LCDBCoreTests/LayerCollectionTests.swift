import Testing
@testable import LCDBCore

struct LayerCollectionTests {
    static func oneOfEveryKind() throws -> LayerCollection {
        try LayerCollection(LayerShapeTests.table.map { ($0.layer, try $0.build()) })
    }

    @Test func offsetsAreRunningSumsOfNumel() throws {
        let collection = try Self.oneOfEveryKind()
        var expected = 0
        for (index, row) in LayerShapeTests.table.enumerated() {
            #expect(collection.offsets[index] == expected, "offset of \(row.layer)")
            #expect(try collection.offset(of: row.layer) == expected)
            expected += row.numel
        }
        #expect(collection.numel == expected)
    }

    @Test func publicFigures() throws {
        let resnet = try ReferenceModels.resnet18()
        #expect(resnet.count == 41)
        #expect(resnet.numel == 11_689_512)
        #expect(resnet.entries.filter { $0.layer.kind == .conv2d }.count == 20)
        #expect(resnet.entries.filter { $0.layer.kind == .batchNorm2d }.count == 20)
        let gpt2 = try ReferenceModels.gpt2()
        #expect(gpt2.count == 75)
        #expect(gpt2.numel == 124_439_808)
    }

    @Test func namedParametersFollowFlatteningOrder() throws {
        let collection = try LayerCollection([("fc1", .linear(3, 4)), ("ln", .layerNorm([4], bias: false))])
        let parameters = collection.namedParameters()
        #expect(parameters.map(\.name) == ["fc1.weight", "fc1.bias", "ln.weight"])
        #expect(parameters.map(\.shape) == [[4, 3], [4], [4]])
        #expect(parameters.map(\.offset) == [0, 12, 16])
    }

    @Test func numelCanExceed32Bits() throws {
        let collection = try LayerCollection([("a", .parameter([65536, 32768])), ("b", .parameter([65536, 32768]))])
        #expect(collection.numel == 4_294_967_296)
        #expect(collection.offsets == [0, 2_147_483_648])
    }

    @Test func unknownNameSuggestsCloseOnes() throws {
        let collection = try LayerCollection([("fc1", .linear(2, 2)), ("fc2", .linear(2, 2)), ("conv", .conv1d(1, 1, kernelSize: 1))])
        #expect(throws: CoreError(.unknownName, "no layer 'fc3'; did you mean 'fc1' or 'fc2'?")) {
            _ = try collection.layer(named: "fc3")
        }
        #expect(throws: CoreError(.unknownName, "no layer 'xyzzy'")) { _ = try collection.offset(of: "xyzzy") }
    }

    @Test func badNames() throws {
        var collection = LayerCollection()
        #expect(throws: CoreError(.invalidArgument, "a layer name cannot be empty")) { try collection.append("", .linear(1, 1)) }
        #expect(throws: CoreError(.invalidArgument, #"layer name "a\nb" contains a control character"#)) {
            try collection.append("a\nb", .linear(1, 1))
        }
    }

    @Test func mergeKeepsIdenticalLayersInFirstOrder() throws {
        let a = try LayerCollection([("x", .linear(2, 3)), ("y", .linear(3, 3)), ("z", .batchNorm1d(3))])
        let b = try LayerCollection([("z", .batchNorm1d(3)), ("y", .linear(3, 3, bias: false)), ("x", .linear(2, 3))])
        let common = a.commonLayers(with: b)
        #expect(common.names == ["x", "z"])
        #expect(common.offsets == [0, 9])
    }

    @Test func unionAddsTheOthersLayersAndRejectsConflicts() throws {
        let a = try LayerCollection([("x", .linear(2, 3)), ("y", .linear(3, 3))])
        let b = try LayerCollection([("w", .batchNorm1d(3)), ("x", .linear(2, 3))])
        #expect(try a.union(with: b).names == ["x", "y", "w"])
        let c = try LayerCollection([("y", .linear(3, 4))])
        #expect(throws: CoreError(.conflictingDefinition,
                                  "layer 'y' is Linear(3, 3) in the first collection but Linear(3, 4) in the second")) {
            _ = try a.union(with: c)
        }
    }

    @Test func diffListsAddedRemovedAndChangedFields() throws {
        let resnet = try ReferenceModels.resnet18()
        let finetuned = try ReferenceModels.resnet18(classes: 10)
        let diff = resnet.diff(to: finetuned)
        #expect(diff.added.isEmpty && diff.removed.isEmpty && !diff.reordered)
        #expect(diff.changed.map(\.name) == ["fc"])
        #expect(diff.changed[0].changes == [.init(field: "out_features", old: "1000", new: "10")])

        let a = try LayerCollection([("x", .linear(2, 3)), ("y", .groupNorm(numGroups: 2, numChannels: 4)), ("z", .linear(1, 1))])
        let b = try LayerCollection([("y", .groupNorm(numGroups: 4, numChannels: 4)), ("x", .weightNorm1d(2, 3)), ("n", .rmsNorm([3]))])
        let d = a.diff(to: b)
        #expect(d.added.map(\.name) == ["n"])
        #expect(d.removed.map(\.name) == ["z"])
        #expect(d.reordered)
        #expect(d.reorderedSpan.old == "x, y" && d.reorderedSpan.new == "y, x")
        #expect(d.changed.map(\.name) == ["x", "y"])
        #expect(d.changed[0].changes == [.init(field: "kind", old: "Linear", new: "WeightNorm1d"),
                                         .init(field: "bias", old: "true", new: "(none)")])
        #expect(d.changed[1].changes == [.init(field: "num_groups", old: "2", new: "4")])
        #expect(a.diff(to: a).isEmpty)
        #expect(d.renamed.isEmpty) // z (position 2) and n (position 2) differ in definition

        // In a long collection only the span that moved is shown.
        let names = (0 ..< 10).map { "l\($0)" }
        let long = try LayerCollection(names.map { ($0, try Layer.linear(1, 1)) })
        var swapped = names
        swapped.swapAt(4, 6)
        let swappedCollection = try LayerCollection(swapped.map { ($0, try Layer.linear(1, 1)) })
        let span = long.diff(to: swappedCollection).reorderedSpan
        #expect(span.old == "..., l4, l5, l6, ..." && span.new == "..., l6, l5, l4, ...")
    }

    @Test func diffFindsLayersRenamedInPlace() throws {
        let a = try LayerCollection([("conv", .conv2d(3, 8, kernelSize: (3, 3))), ("fc", .linear(8, 10)), ("bn", .batchNorm1d(10))])
        var b = a
        try b.rename("fc", to: "head")
        let d = a.diff(to: b)
        #expect(d.renamed == [.init(old: a.entries[1], new: b.entries[1])])
        #expect(d.added.isEmpty && d.removed.isEmpty && d.changed.isEmpty && !d.reordered && !d.isEmpty)
        // Renamed and changed, or renamed and moved: removed plus added.
        let changed = try LayerCollection([("conv", .conv2d(3, 8, kernelSize: (3, 3))), ("head", .linear(8, 5)), ("bn", .batchNorm1d(10))])
        #expect(a.diff(to: changed).renamed.isEmpty && a.diff(to: changed).removed.map(\.name) == ["fc"])
        let moved = try LayerCollection([("conv", .conv2d(3, 8, kernelSize: (3, 3))), ("bn", .batchNorm1d(10)), ("head", .linear(8, 10))])
        #expect(a.diff(to: moved).renamed.isEmpty && a.diff(to: moved).added.map(\.name) == ["head"])
    }

    @Test func renameAndRemoveRecomputeOffsets() throws {
        var collection = try LayerCollection([("a", .linear(2, 2)), ("b", .linear(3, 3)), ("c", .linear(1, 1))])
        try collection.rename("b", to: "middle")
        #expect(collection.names == ["a", "middle", "c"])
        #expect(collection.position(of: "b") == nil)
        try collection.remove("a")
        #expect(collection.offsets == [0, 12])
        #expect(throws: CoreError(.duplicateName, "cannot rename 'c' to 'middle': that name is already in the collection")) {
            try collection.rename("c", to: "middle")
        }
        #expect(throws: CoreError(.unknownName, "no layer 'zz'")) { try collection.remove("zz") }
    }

    @Test func firstDifferenceNamesTheLayer() throws {
        let a = try LayerCollection([("x", .linear(2, 3)), ("y", .linear(3, 3))])
        let b = try LayerCollection([("x", .linear(2, 3)), ("y", .linear(3, 4))])
        #expect(a.firstDifference(from: b) == "layer 2 is 'y' Linear(3, 3) in the first and 'y' Linear(3, 4) in the second")
        let c = try LayerCollection([("x", .linear(2, 3))])
        #expect(a.firstDifference(from: c) == "layer 2 'y' is only in the first (the second has 1 layers)")
        #expect(a.firstDifference(from: a) == nil)
        let norm = try LayerCollection([("x", .batchNorm1d(3)), ("fc", .linear(2, 3, bias: false))])
        let affine = try LayerCollection([("y", .affine1d(3)), ("w", .weightNorm1d(2, 3))])
        #expect(norm.isShapeCompatible(with: affine) && norm != affine)
        #expect(!a.isShapeCompatible(with: b))
    }
}
