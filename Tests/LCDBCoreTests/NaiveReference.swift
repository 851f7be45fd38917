import LCDBCore

/// Straightforward Double loops that the BLAS-backed operations are checked against.
enum NaiveReference {
    static func matvec(_ a: [Double], _ n: Int, _ x: [Double]) -> [Double] {
        (0 ..< n).map { i in (0 ..< n).reduce(0.0) { $0 + a[i * n + $1] * x[$1] } }
    }

    static func matmul(_ a: [Double], _ b: [Double], _ n: Int) -> [Double] {
        var c = [Double](repeating: 0, count: n * n)
        for i in 0 ..< n { for j in 0 ..< n { for k in 0 ..< n { c[i * n + j] += a[i * n + k] * b[k * n + j] } } }
        return c
    }

    static func dot(_ x: [Double], _ y: [Double]) -> Double { zip(x, y).reduce(0) { $0 + $1.0 * $1.1 } }

    /// Relative error |a - b| / max(|b|, 1e-30) over arrays, measured in max norm.
    static func relativeError(_ a: [Double], _ b: [Double]) -> Double {
        precondition(a.count == b.count)
        let scale = b.map(abs).max() ?? 0
        let error = zip(a, b).map { abs($0 - $1) }.max() ?? 0
        return scale == 0 ? error : error / scale
    }

    static func relativeError(_ a: Double, _ b: Double) -> Double { abs(a - b) / max(abs(b), 1e-30) }
}

/// Stated tolerances: relative error in max norm after converting to Double.
/// Float32: the unit roundoff is 6e-8 and sizes here are at most ~100, so
/// 1e-4 leaves a wide margin; float64: 1e-10 likewise.
func tolerance<Scalar: BLASScalar>(_: Scalar.Type) -> Double { Scalar.self == Float.self ? 1e-4 : 1e-10 }

extension ParameterVector {
    var doubles: [Double] { values.map { Double($0) } }
}

extension BlockDiagonalMatrix {
    func doubleBlock(_ index: Int) -> [Double] { blocks[index].map { Double($0) } }
}

/// A small collection of varied block sizes, including a size-1 block.
func smallCollection() throws -> LayerCollection {
    try LayerCollection([
        ("fc1", .linear(4, 3)),          // 15
        ("bn", .batchNorm1d(3)),         // 6
        ("scale", .parameter([1])),      // 1
        ("conv", .conv1d(2, 3, kernelSize: 2)), // 15
        ("emb", .embedding(5, 4)),       // 20
    ])
}
