import Foundation
import Testing
@testable import LCDBCore

/// `c I + Jᵀ S J` against the explicit numel x numel matrix built by plain
/// loops: products, trace, Frobenius norm, diagonal, Woodbury solves and
/// inverses, spectra and log-determinants (Jacobi rotations, LU), with n
/// below and above numel, the identity core and an indefinite one.
/// Tolerance 1e-10 relative (float64 throughout; sizes below 100).
struct LowRankMatrixTests {
    static func random(_ count: Int, _ generator: inout SeededGenerator) -> [Double] {
        (0 ..< count).map { _ in generator.nextNormal() }
    }

    /// The matrix, and the same built entry by entry.
    static func cases() throws -> [(matrix: LowRankMatrix, dense: [Double])] {
        let collection = try smallCollection()
        let numel = collection.numel
        var generator = SeededGenerator(seed: 7)
        var result: [(LowRankMatrix, [Double])] = [], streamed: [(LowRankMatrix, [Double])] = []
        for (rows, withCore, shift) in [(5, false, 0.0), (5, true, 0.3), (70, false, 0.0), (9, true, -0.2)] {
            let j = random(rows * numel, &generator)
            var s: [Double]? = nil
            if withCore {
                var core = random(rows * rows, &generator)
                for a in 0 ..< rows { for b in 0 ..< a { core[a * rows + b] = core[b * rows + a] } }
                s = core
            }
            var dense = [Double](repeating: 0, count: numel * numel)
            for p in 0 ..< numel {
                for q in 0 ..< numel {
                    var total = p == q ? shift : 0
                    for a in 0 ..< rows {
                        for b in 0 ..< rows where s != nil || a == b {
                            total += j[a * numel + p] * (s?[a * rows + b] ?? 1) * j[b * numel + q]
                        }
                    }
                    dense[p * numel + q] = total
                }
            }
            let core = s.map { Matrix64(rows: rows, columns: rows, values: $0) }
            let matrix = try LowRankMatrix(collection: collection, factor: Matrix64(rows: rows, columns: numel, values: j),
                                           core: core, shift: shift)
            result.append((matrix, dense))
            streamed.append((try LowRankMatrix(collection: collection, factor: try Self.spilled(j, rows: rows, over: collection),
                                               core: core, shift: shift), dense))
            let narrow = InMemoryFactor(rows: rows, layerBounds: collection.offsets + [numel], values: j, widestPanel: 2)
            streamed.append((try LowRankMatrix(collection: collection, factor: narrow, core: core, shift: shift), dense))
        }
        // The same matrices with J streamed from a file and in narrow panels
        // (layers split across panels): every operation is a pass over panels.
        return result + streamed
    }

    /// J written to a spill file a layer and a row at a time, doubled, with
    /// scale 1/2 applied on read (exact), read back in panels of 3 columns.
    static func spilled(_ j: [Double], rows: Int, over collection: LayerCollection) throws -> SpilledFactor {
        let numel = collection.numel
        let factor = try SpilledFactor(rows: rows, layerBounds: collection.offsets + [numel], directory: NSTemporaryDirectory(), widestPanel: 3)
        for position in collection.entries.indices {
            let columns = collection.range(at: position)
            // Whole layers in one write for the first rows, row by row and in two runs of columns after.
            let doubled = (0 ..< 2).flatMap { row in columns.map { 2 * j[row * numel + $0] } }
            try doubled.withUnsafeBufferPointer { try factor.write(rows: 0 ..< 2, columns: columns, from: $0.baseAddress!) }
            let middle = columns.lowerBound + columns.count / 2
            for row in 2 ..< rows {
                for run in [columns.lowerBound ..< middle, middle ..< columns.upperBound] where !run.isEmpty {
                    let values = run.map { 2 * j[row * numel + $0] }
                    try values.withUnsafeBufferPointer { try factor.write(rows: row ..< row + 1, columns: run, from: $0.baseAddress!) }
                }
            }
        }
        factor.finish(scale: 0.5)
        return factor
    }

    @Test func productsTraceNormAndDiagonalEqualTheExplicitMatrix() throws {
        var generator = SeededGenerator(seed: 3)
        for (matrix, dense) in try Self.cases() {
            let n = matrix.numel
            let v = Self.random(n, &generator)
            #expect(NaiveReference.relativeError(try matrix.product(v), NaiveReference.matvec(dense, n, v)) < 1e-10)
            #expect(NaiveReference.relativeError(try matrix.quadraticForm(v), NaiveReference.dot(v, NaiveReference.matvec(dense, n, v))) < 1e-10)
            #expect(NaiveReference.relativeError(try matrix.trace(), (0 ..< n).reduce(0) { $0 + dense[$1 * n + $1] }) < 1e-10)
            #expect(NaiveReference.relativeError(try matrix.frobeniusNorm(), dense.reduce(0) { $0 + $1 * $1 }.squareRoot()) < 1e-10)
            #expect(NaiveReference.relativeError(try matrix.diagonal(), (0 ..< n).map { dense[$0 * n + $0] }) < 1e-10)
            #expect(NaiveReference.relativeError(try matrix.dense().values, dense) < 1e-10)
            // Forms kept: alpha M and M + s I.
            #expect(NaiveReference.relativeError(try matrix.scaled(by: -2.5).product(v), NaiveReference.matvec(dense.map { -2.5 * $0 }, n, v)) < 1e-10)
            #expect(NaiveReference.relativeError(try matrix.shifted(by: 0.7).product(v),
                                                NaiveReference.matvec(SpectralReference.shifted(dense, n, 0.7), n, v)) < 1e-10)
        }
    }

    @Test func woodburySolveAndInverseUndoTheProduct() throws {
        var generator = SeededGenerator(seed: 4)
        for (matrix, dense) in try Self.cases() {
            let n = matrix.numel
            for regul in [1e-3, 0.5] {
                let damped = SpectralReference.shifted(dense, n, regul)
                let v = Self.random(n, &generator)
                let x = try matrix.solve(v, regularization: regul)
                #expect(NaiveReference.relativeError(NaiveReference.matvec(damped, n, x), v) < 1e-9, "solve, regul \(regul)")
                let inverse = try matrix.inverse(regularization: regul)
                let identity = NaiveReference.matmul(try inverse.dense().values, damped, n)
                // Woodbury's accuracy follows the n x n system c'I + K S, whose condition
                // (‖K S‖ + |c'|) / |c'| exceeds the matrix's own when n > numel: 1e-11 times it.
                let c = matrix.shift + regul
                let spread = try matrix.spectrum().flatMap(\.all).map { abs($0 - matrix.shift) }.max() ?? 0
                let system = (spread + abs(c)) / abs(c)
                let inverseTolerance = max(1e-9, 1e-11 * system)
                #expect(NaiveReference.relativeError(identity, Matrix64.identity(n).values) < inverseTolerance, "inv, regul \(regul)")
                #expect(NaiveReference.relativeError(try inverse.product(v), x) < inverseTolerance)
                // The null space of J is kept: Woodbury, not NNGeometry's pseudo-inverse.
                #expect(inverse.shift == 1 / (matrix.shift + regul))
            }
        }
    }

    @Test func spectrumAndLogDeterminantEqualJacobiAndLU() throws {
        for (matrix, dense) in try Self.cases() {
            let n = matrix.numel
            let want = SpectralReference.jacobi(dense, n).values.sorted()
            let got = try matrix.spectrum().flatMap(\.all).sorted()
            #expect(got.count == n)
            #expect(NaiveReference.relativeError(got, want) < 1e-9, "\(matrix.rank) rows")
            let regul = 1 - (want.first ?? 0)
            let (log, sign) = SpectralReference.logDeterminant(SpectralReference.shifted(dense, n, regul), n)
            #expect(sign == 1)
            #expect(NaiveReference.relativeError(try matrix.logDeterminant(regularization: regul), log) < 1e-9)
        }
    }

    /// (M + regul I)^p stays c' I + Jᵀ S' J and equals V f(λ) Vᵀ of the explicit
    /// matrix (Jacobi rotations), for square roots, inverse roots, the inverse
    /// and a square; p = -1 equals inv.
    @Test func powersEqualTheExplicitMatrixFunction() throws {
        var generator = SeededGenerator(seed: 21)
        let cases = try Self.cases()
        // The streamed factors give what the same J in memory gives (Jacobi once per matrix).
        for (index, (matrix, _)) in cases.enumerated().dropFirst(4) {
            let reference = cases[(index - 4) / 2].matrix
            let v = Self.random(matrix.numel, &generator)
            // Integer powers: defined for the indefinite core too.
            for exponent in [2.0, 3] {
                let regul = 0.37
                #expect(NaiveReference.relativeError(try matrix.power(exponent, regularization: regul).product(v),
                                                     try reference.power(exponent, regularization: regul).product(v)) < 1e-12)
            }
        }
        for (matrix, dense) in cases.prefix(4) {
            let n = matrix.numel
            let smallest = SpectralReference.jacobi(dense, n).values.min() ?? 0
            let regul = max(0, -smallest) + 0.3
            let v = Self.random(n, &generator)
            for exponent in [0.5, -0.5, -1, 2] {
                let want = SpectralReference.function(dense, n) { Foundation.pow($0 + regul, exponent) }
                let got = try matrix.power(exponent, regularization: regul)
                #expect(NaiveReference.relativeError(try got.product(v), NaiveReference.matvec(want, n, v)) < 1e-9,
                        "p = \(exponent), \(matrix.rank) rows, core \(matrix.core != nil)")
            }
            let inverse = try matrix.power(-1, regularization: regul)
            #expect(NaiveReference.relativeError(try inverse.product(v), try matrix.solve(v, regularization: regul)) < 1e-9)
        }
        // A fractional power of an indefinite matrix is refused, not NaN.
        let indefinite = try Self.cases()[3].matrix
        #expect(throws: CoreError.self) { try indefinite.power(0.5, regularization: 0) }
    }

    /// A spill file that cannot be made is an error naming the folder, not a trap.
    @Test func aSpillFolderThatCannotBeWrittenIsAnError() {
        #expect(throws: CoreError.self) {
            try SpilledFactor(rows: 2, layerBounds: [0, 3], directory: "/nonexistent-lcdb-folder")
        }
        do {
            _ = try SpilledFactor(rows: 2, layerBounds: [0, 3], directory: "/nonexistent-lcdb-folder")
        } catch {
            #expect(error.message.contains("/nonexistent-lcdb-folder"), "\(error)")
        }
    }

    @Test func singularOrIndefiniteCasesAreErrors() throws {
        let (matrix, _) = try Self.cases()[0]
        #expect(throws: CoreError.self) { try matrix.solve([Double](repeating: 1, count: matrix.numel), regularization: 0) }
        #expect(throws: CoreError.self) { try matrix.inverse(regularization: 0) }
        #expect(throws: CoreError.self) { try matrix.logDeterminant(regularization: 0) }
        #expect(throws: CoreError.self) { try matrix.product([1, 2]) }
        let indefinite = try Self.cases()[3].matrix
        #expect(throws: CoreError.self) { try indefinite.logDeterminant(regularization: 1e-6) }
    }

    /// Built from slabs (shuffled layer order, runs of columns, weights):
    /// Jᵀ J equals Σ w g gᵀ / Σ w built directly, with J in memory and
    /// spilled to a file (memory limit 0).
    @Test(arguments: [Double.infinity, 0])
    func theFisherFactorFromSlabsIsTheWeightedMean(memoryLimit: Double) throws {
        let collection = try smallCollection()
        let numel = collection.numel, examples = 7
        var generator = SeededGenerator(seed: 11)
        let gradients = Self.random(examples * numel, &generator)
        let weights = (0 ..< examples).map { Double($0 % 3) + 0.5 }
        var fisher = try LowRankFisher(collection: collection, examples: examples, spillDirectory: NSTemporaryDirectory(), memoryLimit: memoryLimit)
        for (first, rows) in [(0, 4), (4, 3)] {
            for position in collection.entries.indices.reversed() {
                let width = collection.entries[position].layer.numel, offset = collection.offsets[position]
                for columns in [0 ..< width / 2, width / 2 ..< width] where !columns.isEmpty {
                    let slab = (0 ..< rows).flatMap { row in columns.map { gradients[(first + row) * numel + offset + $0] } }
                    try fisher.add(first: first, rows: rows, position: position, columns: columns, slab: slab, weights: weights[first ..< first + rows])
                }
            }
        }
        var want = [Double](repeating: 0, count: numel * numel)
        let total = weights.reduce(0, +)
        for e in 0 ..< examples {
            for p in 0 ..< numel { for q in 0 ..< numel { want[p * numel + q] += weights[e] * gradients[e * numel + p] * gradients[e * numel + q] / total } }
        }
        let result = try fisher.result()
        #expect(result.factor.isInMemory == memoryLimit.isInfinite)
        #expect(NaiveReference.relativeError(try result.dense().values, want) < 1e-10)
    }

    /// The full Fisher from slabs (layers in order, weights) equals
    /// Σ w g gᵀ / Σ w, and its operations are the explicit matrix's.
    @Test func theFullFisherFromSlabsIsTheWeightedMean() throws {
        let collection = try smallCollection()
        let numel = collection.numel, examples = 9
        var generator = SeededGenerator(seed: 12)
        let gradients = Self.random(examples * numel, &generator)
        let weights = (0 ..< examples).map { Double($0 % 4) + 0.25 }
        var fisher = try FullFisher(collection: collection)
        for (first, rows) in [(0, 5), (5, 4)] {
            for position in collection.entries.indices {
                let range = collection.range(at: position)
                let slab = (0 ..< rows).flatMap { row in range.map { gradients[(first + row) * numel + $0] } }
                fisher.add(rows: rows, position: position, slab: slab, weights: weights[first ..< first + rows])
            }
        }
        var want = [Double](repeating: 0, count: numel * numel)
        let total = weights.reduce(0, +)
        for e in 0 ..< examples {
            for p in 0 ..< numel { for q in 0 ..< numel { want[p * numel + q] += weights[e] * gradients[e * numel + p] * gradients[e * numel + q] / total } }
        }
        let full = try fisher.result()
        #expect(NaiveReference.relativeError(full.matrix.values, want) < 1e-10)
        let v = Self.random(numel, &generator)
        let damped = SpectralReference.shifted(want, numel, 0.1)
        #expect(NaiveReference.relativeError(NaiveReference.matvec(damped, numel, try full.solve(v, regularization: 0.1)), v) < 1e-9)
        #expect(NaiveReference.relativeError(try full.inverse(regularization: 0.1).product(NaiveReference.matvec(damped, numel, v)), v) < 1e-9)
        let (log, _) = SpectralReference.logDeterminant(damped, numel)
        #expect(NaiveReference.relativeError(try full.logDeterminant(regularization: 0.1), log) < 1e-9)
        #expect(NaiveReference.relativeError(try full.diagonalBlock(at: 1).values,
                                             collection.range(at: 1).flatMap { p in collection.range(at: 1).map { want[p * numel + $0] } }) < 1e-12)
    }
}
