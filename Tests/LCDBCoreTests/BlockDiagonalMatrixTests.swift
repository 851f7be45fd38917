import Testing
@testable import LCDBCore

struct BlockDiagonalMatrixTests {
    @Test func float32() throws { try checkAgainstReference(Float.self) }
    @Test func float64() throws { try checkAgainstReference(Double.self) }

    /// Every operation against naive Double loops on seeded random data.
    func checkAgainstReference<S: BLASScalar>(_: S.Type) throws {
        let collection = try smallCollection()
        let tol = tolerance(S.self)
        let m = try BlockDiagonalMatrix<S>.randomSPD(over: collection, seed: 11)
        let n = try BlockDiagonalMatrix<S>.randomSPD(over: collection, seed: 12)
        let x = ParameterVector<S>.random(over: collection, seed: 13)

        // Reference mv, vTMv, mm, trace, Frobenius, diagonal per block.
        var expectedMv: [Double] = []
        var expectedTrace = 0.0, expectedSquares = 0.0
        var expectedDiagonal: [Double] = []
        for (index, entry) in collection.entries.enumerated() {
            let side = entry.layer.numel
            let block = m.doubleBlock(index)
            let xs = Array(x.doubles[collection.range(at: index)])
            expectedMv += NaiveReference.matvec(block, side, xs)
            expectedTrace += (0 ..< side).reduce(0) { $0 + block[$1 * side + $1] }
            expectedSquares += block.reduce(0) { $0 + $1 * $1 }
            expectedDiagonal += (0 ..< side).map { block[$0 * side + $0] }
            let product = try m.matrixProduct(n)
            #expect(NaiveReference.relativeError(product.doubleBlock(index),
                                                 NaiveReference.matmul(block, n.doubleBlock(index), side)) < tol)
            // Symmetric with a dominant diagonal, as documented.
            for i in 0 ..< side {
                #expect(block[i * side + i] >= Double(side))
                for j in 0 ..< side where i != j { #expect(block[i * side + j] == block[j * side + i] && abs(block[i * side + j]) <= 1) }
            }
        }
        let mv = try m.product(with: x)
        #expect(NaiveReference.relativeError(mv.doubles, expectedMv) < tol)
        #expect(NaiveReference.relativeError(try m.quadraticForm(x), NaiveReference.dot(x.doubles, expectedMv)) < tol)
        #expect(NaiveReference.relativeError(m.trace(), expectedTrace) < tol)
        #expect(NaiveReference.relativeError(m.frobeniusNorm(), expectedSquares.squareRoot()) < tol)
        #expect(m.diagonal().doubles == expectedDiagonal)

        // Elementwise operations.
        for index in collection.entries.indices {
            let (a, b) = (m.doubleBlock(index), n.doubleBlock(index))
            #expect(NaiveReference.relativeError(try (m.adding(n)).doubleBlock(index), zip(a, b).map { $0 + $1 }) < tol)
            #expect(NaiveReference.relativeError(try (m.subtracting(n)).doubleBlock(index), zip(a, b).map { $0 - $1 }) < tol)
            #expect(NaiveReference.relativeError(m.scaled(by: -3).doubleBlock(index), a.map { -3 * $0 }) < tol)
        }

        // Properties: mv is linear; solve undoes mv; inverse times M is the identity.
        let y = ParameterVector<S>.random(over: collection, seed: 14)
        let lhs = try m.product(with: x.adding(y, scaledBy: 2))
        let rhs = try m.product(with: x).adding(m.product(with: y), scaledBy: 2)
        #expect(NaiveReference.relativeError(lhs.doubles, rhs.doubles) < tol)
        #expect(NaiveReference.relativeError(try m.solve(mv).doubles, x.doubles) < tol)
        let identity = try BlockDiagonalMatrix<S>.identity(over: collection)
        let inverseTimesM = try m.inverse().matrixProduct(m)
        for index in collection.entries.indices {
            #expect(NaiveReference.relativeError(inverseTimesM.doubleBlock(index), identity.doubleBlock(index)) < tol)
        }
        // Regularized: (M + 2 I)^-1 (M x + 2 x) = x.
        let shifted = try mv.adding(x, scaledBy: 2)
        #expect(NaiveReference.relativeError(try m.solve(shifted, regularization: 2).doubles, x.doubles) < tol)
        #expect(NaiveReference.relativeError(try m.inverse(regularization: 2).product(with: shifted).doubles, x.doubles) < tol)

        // Non-symmetric blocks go through LU: M N is not symmetric in general.
        let mn = try m.matrixProduct(n)
        let z = try mn.product(with: x)
        #expect(NaiveReference.relativeError(try mn.solve(z).doubles, x.doubles) < tol * 10)
        let mnInverse = try mn.inverse().matrixProduct(mn)
        for index in collection.entries.indices {
            #expect(NaiveReference.relativeError(mnInverse.doubleBlock(index), identity.doubleBlock(index)) < tol * 10)
        }

        // Identity and scale.
        let twice = try BlockDiagonalMatrix<S>.identity(over: collection, scale: 2)
        #expect(try twice.product(with: x) == x.scaled(by: 2))
        #expect(twice.trace() == 2 * Double(collection.numel))
    }

    @Test func symmetryIsTrackedAndSymvAgreesWithGemv() throws {
        let collection = try smallCollection()
        let m = try BlockDiagonalMatrix<Double>.randomSPD(over: collection, seed: 21)
        let n = try BlockDiagonalMatrix<Double>.randomSPD(over: collection, seed: 22)
        #expect(m.isSymmetric)
        // Blocks from outside are checked: the same values are recognised, a changed entry is not.
        #expect(try BlockDiagonalMatrix(collection: collection, blocks: m.blocks).isSymmetric)
        var skewed = m.blocks
        skewed[0][1] += 1
        #expect(try !BlockDiagonalMatrix(collection: collection, blocks: skewed).isSymmetric)
        // Bit for bit: 0 against -0 differs (a stored triangle mirrored back would lose the sign);
        // a NaN mirrored by the same NaN does not.
        let three = try LayerCollection([("p", .parameter([3]))])
        #expect(try !BlockDiagonalMatrix<Double>(collection: three, blocks: [[1, 0, 2, -0.0, 1, 0, 2, 0, 1]]).isSymmetric)
        #expect(try BlockDiagonalMatrix<Double>(collection: three, blocks: [[1, .nan, 2, .nan, 1, 0, 2, 0, 1]]).isSymmetric)
        #expect(try !BlockDiagonalMatrix<Float>(collection: three, blocks: [[1, .nan, 2, -.nan, 1, 0, 2, 0, 1]]).isSymmetric)
        // Operations keep or drop the flag as mathematics says.
        #expect(try m.adding(n).isSymmetric && m.scaled(by: 3).isSymmetric && m.inverse().isSymmetric)
        #expect(try !m.matrixProduct(n).isSymmetric)
        // symv (lower triangle only) and gemv (whole block) agree.
        let general = BlockDiagonalMatrix(unchecked: collection, blocks: m.blocks, symmetric: false)
        let x = ParameterVector<Double>.random(over: collection, seed: 23)
        #expect(NaiveReference.relativeError(try m.product(with: x).values, try general.product(with: x).values) < 1e-13)
        // The LU inverse of a symmetric block is symmetrised exactly.
        let indefinite = try BlockDiagonalMatrix<Double>(collection: try LayerCollection([("p", .parameter([3]))]),
                                                         blocks: [[1, 2, 3, 2, -1, 4, 3, 4, 0.5]])
        #expect(indefinite.isSymmetric)
        let inverse = try indefinite.inverse()
        #expect(inverse.isSymmetric && BlockDiagonalMatrix<Double>.isExactlySymmetric(inverse.blocks[0], side: 3))
        #expect(NaiveReference.relativeError(NaiveReference.matmul(inverse.blocks[0], indefinite.blocks[0], 3),
                                             [1, 0, 0, 0, 1, 0, 0, 0, 1]) < 1e-12)
    }

    @Test func symmetricIndefiniteFallsBackToLU() throws {
        let collection = try LayerCollection([("p", .parameter([2]))])
        let m = try BlockDiagonalMatrix<Double>(collection: collection, blocks: [[0, 1, 1, 0]])
        let x = try ParameterVector<Double>(collection: collection, values: [3, 5])
        #expect(try m.solve(x).values == [5, 3])
        #expect(try m.inverse().blocks == [[0, 1, 1, 0]])
    }

    @Test func singularBlocksAreNamed() throws {
        let collection = try LayerCollection([("ok", .parameter([1])), ("flat", .parameter([2]))])
        let m = try BlockDiagonalMatrix<Double>(collection: collection, blocks: [[2], [1, 1, 1, 1]])
        let x = ParameterVector<Double>.ones(over: collection)
        #expect(throws: CoreError(.singularBlock, "block 'flat' is singular (pivot 2 is exactly zero); add a positive regularization")) {
            _ = try m.solve(x)
        }
        #expect(throws: CoreError.self) { _ = try m.inverse() }
        // Regularization makes it invertible.
        #expect(try m.solve(x, regularization: 1).values.allSatisfy(\.isFinite))
        // A block holding NaN or inf is named as such, not called singular.
        let nan = try BlockDiagonalMatrix<Float>(collection: collection, blocks: [[.nan], [1, 0, 0, 1]])
        #expect(throws: CoreError(.invalidArgument, "block 'ok' holds NaN; solve and inv need finite values (`check` the inputs that made it)")) {
            _ = try nan.solve(.ones(over: collection))
        }
        let infinite = try BlockDiagonalMatrix<Double>(collection: collection, blocks: [[1], [1, .infinity, .infinity, 1]])
        #expect(throws: CoreError(.invalidArgument, "block 'flat' holds an infinite value; solve and inv need finite values (`check` the inputs that made it)")) {
            _ = try infinite.inverse(regularization: 1)
        }
    }

    /// The panel-by-panel Cholesky (interruptible) against LAPACK's one-call
    /// `potrf` and the solve it serves, on sizes around the panel width.
    @Test(arguments: [1, 7, 383, 384, 385, 1000])
    func blockedCholeskyAgreesWithPotrf(side: Int) throws {
        let collection = try LayerCollection([("p", .parameter([side]))])
        let m = try BlockDiagonalMatrix<Double>.randomSPD(over: collection, seed: UInt64(side))
        var blocked = m.blocks[0], reference = m.blocks[0]
        let positive = try blocked.withUnsafeMutableBufferPointer {
            try PanelCholesky.factor($0.baseAddress!, side: side)
        }
        #expect(positive)
        #expect(reference.withUnsafeMutableBufferPointer { Double.potrf(Int32(side), $0.baseAddress!) } == 0)
        // Only the lower triangle (row-major) is the factor; compare it.
        var largest = 0.0, scale = 0.0
        for i in 0 ..< side {
            for j in 0 ... i {
                largest = max(largest, abs(blocked[i * side + j] - reference[i * side + j]))
                scale = max(scale, abs(reference[i * side + j]))
            }
        }
        #expect(largest <= 1e-12 * scale, "side \(side): factors differ by \(largest)")
        let x = ParameterVector<Double>.random(over: collection, seed: 3)
        let solved = try m.solve(x, regularization: 0.5)
        let back = NaiveReference.matvec(m.blocks[0], side, solved.values)
        let residual = NaiveReference.relativeError(zip(back, solved.values).map { $0 + 0.5 * $1 }, x.values)
        #expect(residual < 1e-10, "side \(side): residual \(residual)")
    }

    /// The panel inverse against LAPACK's `potri` on the same factor, and
    /// against the identity.
    @Test(arguments: [1, 5, 384, 385, 900])
    func panelInverseAgreesWithPotri(side: Int) throws {
        let collection = try LayerCollection([("p", .parameter([side]))])
        let m = try BlockDiagonalMatrix<Double>.randomSPD(over: collection, seed: UInt64(side) + 7)
        var factor = m.blocks[0]
        #expect(try factor.withUnsafeMutableBufferPointer { try PanelCholesky.factor($0.baseAddress!, side: side) })
        let inverse = try factor.withUnsafeBufferPointer { try PanelCholesky.inverse(fromFactor: $0.baseAddress!, side: side) }
        var reference = factor
        #expect(reference.withUnsafeMutableBufferPointer { Double.potri(Int32(side), $0.baseAddress!) } == 0)
        var largest = 0.0, scale = 0.0
        for i in 0 ..< side {
            for j in 0 ... i {
                largest = max(largest, abs(inverse[i * side + j] - reference[i * side + j]))
                scale = max(scale, abs(reference[i * side + j]))
                #expect(inverse[i * side + j] == inverse[j * side + i])
            }
        }
        #expect(largest <= 1e-11 * scale, "side \(side): inverses differ by \(largest) (scale \(scale))")
        // Inverse times M is the identity, seen on a random vector (O(side^2)).
        let x = ParameterVector<Double>.random(over: collection, seed: 5).values
        let back = NaiveReference.matvec(inverse, side, NaiveReference.matvec(m.blocks[0], side, x))
        #expect(NaiveReference.relativeError(back, x) < 1e-10)
    }

    /// Ctrl-C is checked between panels: an interruption after the second
    /// panel stops the work there (injected, not the process-wide flag, which
    /// would stop other tests running beside this one).
    @Test func panelsStopOnInterruption() throws {
        let side = 3 * PanelCholesky.panel + 5
        let collection = try LayerCollection([("p", .parameter([side]))])
        var block = try BlockDiagonalMatrix<Double>.randomSPD(over: collection, seed: 1).blocks[0]
        var checks = 0
        let stopAfterTwo = { () throws(CoreError) -> Void in
            checks += 1
            if checks > 2 { throw CoreError(.interrupted, "interrupted") }
        }
        #expect(throws: CoreError(.interrupted, "interrupted")) {
            _ = try block.withUnsafeMutableBufferPointer { try PanelCholesky.factor($0.baseAddress!, side: side, checkInterruption: stopAfterTwo) }
        }
        #expect(checks == 3, "two panels done, stopped before the third")
        checks = 0
        #expect(throws: CoreError(.interrupted, "interrupted")) {
            _ = try block.withUnsafeBufferPointer { try PanelCholesky.inverse(fromFactor: $0.baseAddress!, side: side, checkInterruption: stopAfterTwo) }
        }
    }

    @Test func notPositiveDefiniteFallsBackToLUWithTheOriginalValues() throws {
        // Positive for the first panel, indefinite later: the Cholesky attempt
        // must not leave a half-factored block for LU.
        let side = 500
        let collection = try LayerCollection([("p", .parameter([side]))])
        var block = [Double](repeating: 0, count: side * side)
        for i in 0 ..< side { block[i * side + i] = i < 450 ? 2 : -3 }
        block[1] = 0.5; block[side] = 0.5
        let m = try BlockDiagonalMatrix<Double>(collection: collection, blocks: [block])
        let x = ParameterVector<Double>.random(over: collection, seed: 9)
        let solved = try m.solve(x)
        #expect(NaiveReference.relativeError(NaiveReference.matvec(block, side, solved.values), x.values) < 1e-12)
    }

    @Test func mismatchedCollectionsNameTheLayer() throws {
        let a = try LayerCollection([("fc1", .linear(2, 2)), ("fc2", .linear(2, 2))])
        let b = try LayerCollection([("fc1", .linear(2, 2)), ("fc3", .linear(2, 2))])
        let m = try BlockDiagonalMatrix<Double>.randomSPD(over: a, seed: 1)
        let x = ParameterVector<Double>.random(over: b, seed: 2)
        #expect(throws: CoreError(.mismatchedCollections,
                                  "mv: the operands are over different collections: layer 2 is 'fc2' Linear(2, 2) in the first and 'fc3' Linear(2, 2) in the second; to operate on the layers they share, add layers=common (dot, axpy, mv, vtmv and solve take it; for u + v write axpy(1, v, u, layers=common))")) {
            _ = try m.product(with: x)
        }
        // Opt-in: only fc1 is used, and the result is over fc1 alone.
        let y = try m.product(with: x, matching: .common)
        #expect(y.collection.names == ["fc1"])
        let expected = NaiveReference.matvec(m.blocks[0], 6, Array(x.values[0 ..< 6]))
        #expect(NaiveReference.relativeError(y.values, expected) < 1e-12)
        #expect(throws: CoreError.self) { _ = try m.matrixProduct(BlockDiagonalMatrix<Double>.identity(over: b)) }
    }

    @Test func denseExportMatchesBlocksAndFrobenius() throws {
        let collection = try smallCollection()
        let m = try BlockDiagonalMatrix<Double>.randomSPD(over: collection, seed: 5)
        let dense = try m.dense()
        let n = collection.numel
        #expect(dense.count == n * n)
        #expect(NaiveReference.relativeError(m.frobeniusNorm(), NaiveReference.dot(dense, dense).squareRoot()) < 1e-12)
        // Dense mv equals block mv.
        let x = ParameterVector<Double>.random(over: collection, seed: 6)
        #expect(NaiveReference.relativeError(try m.product(with: x).values, NaiveReference.matvec(dense, n, x.values)) < 1e-12)
        #expect(throws: CoreError(.tooLarge, "a dense export of 57 x 57 is over the limit of 100 elements")) {
            _ = try m.dense(maxElements: 100)
        }
    }

    @Test func wrongBlockSizes() throws {
        let collection = try LayerCollection([("fc", .linear(1, 1))])
        #expect(throws: CoreError(.invalidSize, "block 'fc' needs 2 x 2 = 4 values, got 3")) {
            _ = try BlockDiagonalMatrix<Float>(collection: collection, blocks: [[1, 2, 3]])
        }
        #expect(throws: CoreError(.invalidSize, "the collection has 1 layers but 0 blocks were given")) {
            _ = try BlockDiagonalMatrix<Float>(collection: collection, blocks: [])
        }
        let huge = try LayerCollection([("big", .parameter([1 << 32]))])
        #expect(throws: CoreError(.tooLarge, "layer 'big' has 4294967296 parameters: its block is too large for BLAS")) {
            _ = try BlockDiagonalMatrix<Float>.identity(over: huge)
        }
    }

    @Test func manySmallBlocksRunInParallelCorrectly() throws {
        // Exercises the concurrent path of BlockScheduler (many equal small blocks).
        let collection = try LayerCollection((0 ..< 300).map { ("p\($0)", try Layer.parameter([8])) })
        let m = try BlockDiagonalMatrix<Double>.randomSPD(over: collection, seed: 3)
        let x = ParameterVector<Double>.random(over: collection, seed: 4)
        let y = try m.product(with: x)
        for index in stride(from: 0, to: 300, by: 37) {
            let range = collection.range(at: index)
            let expected = NaiveReference.matvec(m.blocks[index], 8, Array(x.values[range]))
            #expect(NaiveReference.relativeError(Array(y.values[range]), expected) < 1e-12)
        }
        #expect(NaiveReference.relativeError(try m.solve(y).values, x.values) < 1e-10)
    }
}
