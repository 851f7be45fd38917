/// How a layer's parameters form the matrix `V` that Kronecker-factored
/// forms act on, and which factor sits on which side.
///
/// Linear, Conv1d, Conv2d: the weight as `W`, `out x in_eff` (`in_eff` =
/// `in_features`, or `in_channels * prod(kernel_size)`), and `V = [W | b]`
/// with a bias (NNGeometry appends a column of ones to the inputs). The kfac
/// block is `V -> G V A`: `G` (`out x out`, NNGeometry's `g`) on the left,
/// `A` (`in_eff (+1)` square, NNGeometry's `a`) on the right. Embedding
/// (weight `num_embeddings x embedding_dim`): `W -> A W G`, `A` on the left.
/// lcdb's flattening is the weight row-major, then the bias, so the block
/// equals the dense `G ⊗ A` with rows and columns permuted from NNGeometry's
/// interleaved `[W | b]` order to weight-then-bias.
public struct KroneckerGeometry: Equatable, Sendable {
    /// Rows and columns of `V`.
    public let rows: Int
    public let columns: Int
    /// True when `V`'s last column is the bias.
    public let biasColumn: Bool
    /// Names of the left and right factors: ("G", "A"), or ("A", "G") for Embedding.
    public let leftName: String
    public let rightName: String

    /// The kinds whose blocks can be Kronecker-factored.
    public static let kinds: Set<LayerKind> = [.linear, .conv1d, .conv2d, .embedding]

    public init(_ layer: Layer, name: String) throws(CoreError) {
        guard KroneckerGeometry.kinds.contains(layer.kind) else {
            throw CoreError(.invalidArgument, "layer '\(name)' is a \(layer.kind.rawValue), which cannot be kfac or ekfac (only Linear, Conv1d, Conv2d and Embedding can); its block can be dense, diag or identity")
        }
        let out = layer.weightShape[0]
        let inEffective = layer.weightShape.dropFirst().reduce(1, *)
        biasColumn = layer.hasBias
        rows = out
        columns = inEffective + (layer.hasBias ? 1 : 0)
        (leftName, rightName) = layer.kind == .embedding ? ("A", "G") : ("G", "A")
    }

    public var side: Int { rows * columns }
    /// Columns of `W` (without the bias column).
    public var weightColumns: Int { biasColumn ? columns - 1 : columns }

    /// `V` from the layer's `side` values in lcdb's order (weight, then bias).
    public func matrix(_ x: UnsafeBufferPointer<Double>) -> Matrix64 { matrix(x, rows: 0 ..< rows) }

    /// Rows `range` of `V` from the layer's `side` values.
    public func matrix(_ x: UnsafeBufferPointer<Double>, rows range: Range<Int>) -> Matrix64 {
        var v = Matrix64(zeros: range.count, columns)
        for (i, row) in range.enumerated() {
            for j in 0 ..< weightColumns { v.values[i * columns + j] = x[row * weightColumns + j] }
            if biasColumn { v.values[i * columns + weightColumns] = x[rows * weightColumns + row] }
        }
        return v
    }

    /// Writes `v`, rows `range` of `V`, into the layer's values `x`.
    public func place(_ v: Matrix64, rows range: Range<Int>, into x: UnsafeMutableBufferPointer<Double>) {
        for (i, row) in range.enumerated() {
            for j in 0 ..< weightColumns { x[row * weightColumns + j] = v.values[i * columns + j] }
            if biasColumn { x[rows * weightColumns + row] = v.values[i * columns + weightColumns] }
        }
    }

    public func matrix(_ x: [Double]) -> Matrix64 { x.withUnsafeBufferPointer { matrix($0) } }

    /// The layer's values in lcdb's order from `V`.
    public func flattened(_ v: Matrix64) -> [Double] {
        guard biasColumn else { return v.values }
        var x = [Double](repeating: 0, count: side)
        x.withUnsafeMutableBufferPointer { place(v, rows: 0 ..< rows, into: $0) }
        return x
    }
}
