import Testing
import LCDBCore

/// Each NNGeometry equality bug of DOMAIN.md, pinned so that lcdb never copies it.
struct NNGeometryBugTests {
    @Test func biasIsPartOfIdentity() throws {
        #expect(try Layer.linear(3, 4) != (try .linear(3, 4, bias: false)))
        // And merge does not keep a layer whose numel differs between the two.
        let a = try LayerCollection([("fc", .linear(3, 4))])
        let b = try LayerCollection([("fc", .linear(3, 4, bias: false))])
        #expect(a.commonLayers(with: b).isEmpty)
    }

    @Test func layerNormWithAndWithoutBiasCompareWithoutThrowing() throws {
        #expect(try Layer.layerNorm([8]) != (try .layerNorm([8], bias: false)))
    }

    @Test func groupNormEqualityIncludesNumGroups() throws {
        #expect(try Layer.groupNorm(numGroups: 2, numChannels: 8) != (try .groupNorm(numGroups: 4, numChannels: 8)))
    }

    @Test func kindIsPartOfIdentity() throws {
        #expect(try Layer.linear(3, 4, bias: false) != (try .weightNorm1d(3, 4)))
        #expect(try Layer.batchNorm1d(5) != (try .affine1d(5, bias: false)))
        #expect(try Layer.batchNorm1d(5) != (try .batchNorm2d(5)))
        // They are shape-compatible, which is a separate, explicit notion.
        #expect(try Layer.linear(3, 4, bias: false).isShapeCompatible(with: .weightNorm1d(3, 4)))
    }

    @Test func collectionEqualityIsOrderSensitive() throws {
        let a = try LayerCollection([("a", .linear(2, 2)), ("b", .linear(3, 3))])
        let b = try LayerCollection([("b", .linear(3, 3)), ("a", .linear(2, 2))])
        #expect(a != b)
        #expect(try a.offset(of: "b") != (try b.offset(of: "b")))
    }

    @Test func addingANameTwiceIsAnError() throws {
        var collection = try LayerCollection([("fc", .linear(2, 2))])
        #expect(throws: CoreError(.duplicateName, "layer 'fc' is already in the collection")) {
            try collection.append("fc", .linear(3, 3))
        }
        #expect(collection.numel == 6)
        #expect(collection.offsets == [0])
    }

    @Test func productOverDisjointCollectionsIsNotSilentlyEmpty() throws {
        let a = try LayerCollection([("a", .linear(2, 2))])
        let b = try LayerCollection([("b", .linear(2, 2))])
        let m = try BlockDiagonalMatrix<Double>.identity(over: a)
        let v = ParameterVector<Double>.ones(over: b)
        #expect(throws: CoreError(.noCommonLayers, "mv: the operands have no identical layer in common")) {
            _ = try m.product(with: v, matching: .common)
        }
    }
}
