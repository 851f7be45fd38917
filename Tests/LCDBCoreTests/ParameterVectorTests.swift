import Testing
@testable import LCDBCore

struct ParameterVectorTests {
    @Test func float32() throws { try checkVectorOperations(Float.self) }
    @Test func float64() throws { try checkVectorOperations(Double.self) }

    func checkVectorOperations<S: BLASScalar>(_: S.Type) throws {
        let collection = try smallCollection()
        let tol = tolerance(S.self)
        let x = ParameterVector<S>.random(over: collection, seed: 1)
        let y = ParameterVector<S>.random(over: collection, seed: 2)
        let (xd, yd) = (x.doubles, y.doubles)

        #expect(x.count == collection.numel && x.dtype == S.dtype)
        #expect(NaiveReference.relativeError(try (x + y).doubles, zip(xd, yd).map { $0 + $1 }) < tol)
        #expect(NaiveReference.relativeError(try (x - y).doubles, zip(xd, yd).map { $0 - $1 }) < tol)
        #expect(NaiveReference.relativeError(x.scaled(by: 2.5).doubles, xd.map { 2.5 * $0 }) < tol)
        #expect(NaiveReference.relativeError(try x.adding(y, scaledBy: -0.5).doubles, zip(xd, yd).map { $0 - 0.5 * $1 }) < tol)
        #expect(NaiveReference.relativeError(try x.dot(y), NaiveReference.dot(xd, yd)) < tol)
        #expect(NaiveReference.relativeError(x.norm(.l1), xd.reduce(0) { $0 + abs($1) }) < tol)
        #expect(NaiveReference.relativeError(x.norm(.l2), NaiveReference.dot(xd, xd).squareRoot()) < tol)
        #expect(x.norm(.infinity) == xd.map(abs).max())

        // Constructors.
        #expect(ParameterVector<S>.zeros(over: collection).values.allSatisfy { $0 == 0 })
        #expect(ParameterVector<S>.ones(over: collection).norm(.l1) == Double(collection.numel))
        #expect(ParameterVector<S>.filled(with: 3, over: collection).norm(.infinity) == 3)
        #expect(ParameterVector<S>.random(over: collection, seed: 1) == x)
        #expect(ParameterVector<S>.random(over: collection, seed: 3) != x)
    }

    @Test func randomIsTheDocumentedGenerator() {
        // Reference outputs from an independent Python implementation of
        // SplitMix64 seeding + xoshiro256** (the published recurrences).
        var zero = SeededGenerator(seed: 0)
        #expect([zero.next(), zero.next(), zero.next()] == [0x99EC_5F36_CB75_F2B4, 0xBF6E_1F78_4956_452A, 0x1A5F_849D_4933_E6E0])
        var fortyTwo = SeededGenerator(seed: 42)
        #expect([fortyTwo.next(), fortyTwo.next()] == [0x1578_0B2E_0C2E_C716, 0x6104_D986_6D11_3A7E])
        // SplitMix64's first output for state 0 is 0xE220A8397B1DCDAF (Vigna's reference).
        #expect(splitMixFirst(seed: 0) == 0xE220_A839_7B1D_CDAF)
        // Uniforms are in [0, 1); normals have mean ~0 and variance ~1 over many draws.
        var g = SeededGenerator(seed: 42)
        let uniforms = (0 ..< 10000).map { _ in g.nextUniform() }
        #expect(uniforms.allSatisfy { $0 >= 0 && $0 < 1 })
        let normals = (0 ..< 20000).map { _ in g.nextNormal() }
        let mean = normals.reduce(0, +) / Double(normals.count)
        let variance = normals.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(normals.count)
        #expect(abs(mean) < 0.03 && abs(variance - 1) < 0.05)
    }

    private func splitMixFirst(seed: UInt64) -> UInt64 {
        var z = seed &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    @Test func float32IsTheRoundedFloat64() throws {
        let collection = try smallCollection()
        let double = ParameterVector<Double>.random(over: collection, seed: 7)
        let single = ParameterVector<Float>.random(over: collection, seed: 7)
        #expect(double.converted(to: Float.self) == single)
        #expect(single.converted(to: Double.self).converted(to: Float.self) == single)
    }

    @Test func perLayerViews() throws {
        let collection = try LayerCollection([("fc", .linear(2, 3)), ("ln", .layerNorm([2, 2], bias: false))])
        let vector = try ParameterVector<Double>(collection: collection, values: (0 ..< 13).map(Double.init))
        let fc = try vector.tensors(of: "fc")
        #expect(fc.weight == Tensor(shape: [3, 2], values: [0, 1, 2, 3, 4, 5]))
        #expect(fc.bias == Tensor(shape: [3], values: [6, 7, 8]))
        let ln = try vector.tensors(of: "ln")
        #expect(ln.weight == Tensor(shape: [2, 2], values: [9, 10, 11, 12]) && ln.bias == nil)
        #expect(throws: CoreError(.unknownName, "no layer 'f'; did you mean 'fc'?")) { _ = try vector.tensors(of: "f") }
    }

    @Test func errors() throws {
        let a = try LayerCollection([("fc", .linear(2, 3))])
        let b = try LayerCollection([("fc", .linear(2, 3, bias: false))])
        #expect(throws: CoreError(.invalidSize, "a vector over this collection needs 9 values, got 2")) {
            _ = try ParameterVector<Float>(collection: a, values: [1, 2])
        }
        let x = ParameterVector<Double>.ones(over: a)
        let y = ParameterVector<Double>.ones(over: b)
        #expect(throws: CoreError(.mismatchedCollections,
                                  "dot: the operands are over different collections: layer 1 is 'fc' Linear(2, 3) in the first and 'fc' Linear(2, 3, bias=false) in the second; to operate on the layers they share, add layers=common (dot, axpy, mv, vtmv and solve take it; for u + v write axpy(1, v, u, layers=common))")) {
            _ = try x.dot(y)
        }
        #expect(throws: CoreError(.noCommonLayers, "dot: the operands have no identical layer in common")) {
            _ = try x.dot(y, matching: .common)
        }
    }

    @Test func commonLayersOptIn() throws {
        let a = try LayerCollection([("p", .linear(2, 2)), ("q", .batchNorm1d(2)), ("r", .linear(1, 1))])
        let b = try LayerCollection([("r", .linear(1, 1)), ("p", .linear(2, 2))])
        let x = try ParameterVector<Double>(collection: a, values: (0 ..< 12).map(Double.init))
        let y = ParameterVector<Double>.ones(over: b)
        // Common layers in a's order: p (values 0..5) then r (values 10, 11).
        #expect(try x.dot(y, matching: .common) == 0 + 1 + 2 + 3 + 4 + 5 + 10 + 11)
        let sum = try x.adding(y, matching: .common)
        #expect(sum.collection.names == ["p", "r"])
        #expect(sum.values == [1, 2, 3, 4, 5, 6, 11, 12])
    }

    @Test func emptyCollection() throws {
        let empty = LayerCollection()
        let x = ParameterVector<Double>.ones(over: empty)
        #expect(try x.dot(x) == 0 && x.norm() == 0 && x.norm(.infinity) == 0)
        #expect(try (x + x).count == 0)
    }

    /// Float32 reductions are accumulated in Double. Ten million copies of
    /// 0.1f: summed in float32 the running totals lose low bits at every step
    /// (checked below, so this data does tell the two apart).
    @Test func float32ReductionsDoNotDrift() throws {
        let count = 10_000_000
        let collection = try LayerCollection([("p", .parameter([count]))])
        let x = try ParameterVector<Float>(collection: collection, values: [Float](repeating: 0.1, count: count))
        // The exact sums are n v and n v^2 (v = 0.1f widened, its square exact in Double).
        let value = Double(Float(0.1))
        let sum = Double(count) * value
        let squares = Double(count) * (value * value)
        #expect(abs(x.norm(.l1) - sum) / sum < 1e-9)
        #expect(abs(try x.dot(x) - squares) / squares < 1e-9)
        #expect(abs(x.norm() - squares.squareRoot()) / squares.squareRoot() < 1e-9)
        // What float32 accumulation (sasum, sdot) gives on the same data.
        let float32Sum = x.values.withUnsafeBufferPointer { Double(Float.asum(Int32(count), $0.baseAddress!)) }
        let float32Dot = x.values.withUnsafeBufferPointer { Double(Float.dot(Int32(count), $0.baseAddress!, $0.baseAddress!)) }
        #expect(abs(float32Sum - sum) / sum > 1e-6 || abs(float32Dot - squares) / squares > 1e-6)
        // Random signs and sizes, against a naive Double loop.
        let random = ParameterVector<Float>.random(over: collection, seed: 4)
        let reference = random.values.reduce(0.0) { $0 + abs(Double($1)) }
        #expect(abs(random.norm(.l1) - reference) / reference < 1e-9)
    }
}
