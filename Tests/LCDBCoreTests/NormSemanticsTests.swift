import Foundation
import Testing
@testable import LCDBCore

/// Norms follow NumPy's IEEE semantics: NaN if any value is NaN, infinity if
/// any is infinite (and none NaN), no spurious overflow or underflow; and
/// scaling by 0 multiplies (0 * inf is NaN) instead of writing zeros.
struct NormSemanticsTests {
    @Test func float64() throws { try check(Double.self) }
    @Test func float32() throws { try check(Float.self) }

    func check<S: BLASScalar>(_: S.Type) throws {
        let collection = try LayerCollection([("a", try Layer.linear(3, 3))])
        func vector(_ fill: (Int) -> S) -> ParameterVector<S> {
            ParameterVector(unchecked: collection, values: (0 ..< collection.numel).map(fill))
        }
        let nan = vector { $0 == 5 ? .nan : S($0) }
        let inf = vector { $0 == 7 ? -.infinity : S($0) }
        for kind in VectorNorm.allCases {
            #expect(nan.norm(kind).isNaN, "\(kind) of a vector with NaN")
            #expect(inf.norm(kind) == .infinity, "\(kind) of a vector with -inf")
        }
        // NaN anywhere, whichever comes first and whatever the magnitudes around it.
        let nanFirst = vector { $0 == 0 ? .nan : S(1e30) }
        #expect(nanFirst.norm(.infinity).isNaN && nanFirst.norm(.l2).isNaN)
        let both = vector { $0 == 1 ? .nan : $0 == 2 ? .infinity : 1 }
        #expect(both.norm(.l2).isNaN && both.norm(.infinity).isNaN)
        // Scaling by zero keeps IEEE: 0 * inf = NaN.
        #expect(inf.scaled(by: 0).norm(.l2).isNaN)
        #expect(vector { _ in 1 }.scaled(by: 0).norm(.l2) == 0)
        // Frobenius norms of blocks holding NaN or inf.
        let side = 4
        var block = [S](repeating: 1, count: side * side)
        block[5] = .nan
        let single = try LayerCollection([("p", try Layer.parameter([side]))])
        #expect(try BlockDiagonalMatrix(collection: single, blocks: [block]).frobeniusNorm().isNaN)
        block[5] = .infinity
        #expect(try BlockDiagonalMatrix(collection: single, blocks: [block]).frobeniusNorm() == .infinity)
    }

    @Test func noSpuriousOverflowOrUnderflowInFloat64() throws {
        let collection = try LayerCollection([("a", try Layer.linear(10, 10))])
        let n = Double(collection.numel)
        let huge = ParameterVector<Double>.filled(with: 1e300, over: collection)
        #expect(abs(huge.norm(.l2) / (1e300 * n.squareRoot()) - 1) < 1e-14)
        #expect(ParameterVector<Double>.filled(with: 1e308, over: collection).norm(.l2) == .infinity, "the true norm is past the range")
        let tiny = ParameterVector<Double>.filled(with: 1e-300, over: collection)
        #expect(abs(tiny.norm(.l2) / (1e-300 * n.squareRoot()) - 1) < 1e-14)
        let subnormal = ParameterVector<Double>.filled(with: 5e-324, over: collection)
        #expect(subnormal.norm(.l2) > 0)
    }

    @Test func combiningPieces() {
        #expect(Norms.combined([3, 4]) == 5)
        #expect(Norms.combined([1e300, 1e300]) == 1e300 * 2.0.squareRoot())
        #expect(Norms.combined([.infinity, .nan]).isNaN)
        #expect(Norms.combined([.infinity, 1]) == .infinity)
        #expect(Norms.combined([] as [Double]) == 0)
    }

    @Test func conversionsKeepValuesAndShareSameTypeStorage() throws {
        let collection = try LayerCollection([("a", try Layer.linear(4, 4))])
        let x = ParameterVector<Float>.random(over: collection, seed: 3)
        let wide = x.converted(to: Double.self)
        #expect(wide.values == x.values.map(Double.init))
        #expect(wide.converted(to: Float.self) == x)
        #expect(x.converted(to: Float.self) == x)
    }
}

/// Mirroring a triangle gives the symmetric matrix, on sizes around the
/// square size and for both triangles.
struct SquareMirrorTests {
    @Test(arguments: [1, 2, 31, 32, 33, 65, 100])
    func mirrorsEitherTriangle(side: Int) {
        for triangle in [SquareMirror.Triangle.upper, .lower] {
            var a = (0 ..< side * side).map { Double($0) }
            a.withUnsafeMutableBufferPointer { SquareMirror.copy($0.baseAddress!, side: side, from: triangle) }
            for i in 0 ..< side {
                for j in 0 ..< side {
                    let (r, c) = triangle == .upper ? (min(i, j), max(i, j)) : (max(i, j), min(i, j))
                    #expect(a[i * side + j] == Double(r * side + c), "side \(side), \(triangle), (\(i), \(j))")
                }
            }
        }
    }
}
