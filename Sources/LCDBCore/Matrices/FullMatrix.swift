/// Every entry of a symmetric matrix over a whole collection, `numel x numel`
/// (NNGeometry's `PMatDense`): for small models, where the blocks between
/// layers are wanted exactly and all of it fits memory (checked when built).
/// Its operations are those of one dense block the size of the collection
/// (`DenseForm`: Cholesky when positive definite, else LU; `dsyevd`).
public struct FullMatrix: WholeMatrix {
    public let collection: LayerCollection
    let block: DenseForm

    public init(collection: LayerCollection, matrix: Matrix64, knownSymmetric: Bool = false) throws(CoreError) {
        guard matrix.rows == collection.numel, matrix.columns == collection.numel else {
            throw CoreError(.invalidSize, "a full matrix of \(matrix.rows) x \(matrix.columns) over a collection of \(collection.numel) parameters")
        }
        self.collection = collection
        block = DenseForm(block: matrix, knownSymmetric: knownSymmetric)
    }

    private init(collection: LayerCollection, block: DenseForm) {
        self.collection = collection
        self.block = block
    }

    /// The bytes a full matrix over `collection` takes, refused when over
    /// the memory budget (`copies` of it are needed at once).
    public static func requireMemory(over collection: LayerCollection, copies: Double = 2, for what: String) throws(CoreError) {
        let numel = Double(collection.numel)
        try MemoryBudget.require(numel * numel * 8 * copies, for: what,
                                 advice: "; a full matrix suits small models: use form=lowrank (n x numel) or dense blocks")
    }

    public var matrix: Matrix64 { block.block }
    public var representation: String { "full" }
    public var kindName: String { "full" }
    public var byteCount: Double { Double(matrix.values.count) * 8 }
    /// What names the matrix in errors from the block operations.
    private var label: String { "the full matrix" }

    private func requireLength(_ v: [Double]) throws(CoreError) {
        guard v.count == numel else {
            throw CoreError(.invalidSize, "a vector of \(v.count) values for a matrix over \(numel) parameters")
        }
    }

    public func product(_ v: [Double]) throws(CoreError) -> [Double] {
        try requireLength(v)
        return block.product(v)
    }

    public func quadraticForm(_ v: [Double]) throws(CoreError) -> Double {
        zip(v, try product(v)).reduce(0) { $0 + $1.0 * $1.1 }
    }

    public func trace() -> Double { block.trace() }
    public func frobeniusNorm() -> Double { block.frobeniusNorm() }
    public func diagonal() -> [Double] { block.diagonal() }
    public func dense() throws(CoreError) -> Matrix64 { matrix }

    public func diagonalBlock(at position: Int) throws(CoreError) -> Matrix64 {
        let range = collection.range(at: position)
        var result = Matrix64(zeros: range.count, range.count)
        for (i, row) in range.enumerated() {
            for (j, column) in range.enumerated() { result[i, j] = matrix[row, column] }
        }
        return result
    }

    public func scaled(by alpha: Double) -> FullMatrix {
        FullMatrix(collection: collection, block: DenseForm(block: Matrix64(rows: numel, columns: numel, values: matrix.values.map { $0 * alpha }),
                                                            knownSymmetric: block.isExactlySymmetric))
    }

    public func shifted(by s: Double) -> FullMatrix {
        var shifted = matrix
        for i in 0 ..< numel { shifted[i, i] += s }
        return FullMatrix(collection: collection, block: DenseForm(block: shifted, knownSymmetric: block.isExactlySymmetric))
    }

    public func solve(_ v: [Double], regularization: Double) throws(CoreError) -> [Double] {
        try requireLength(v)
        return try block.solve(v, regularization: regularization, layer: label)
    }

    public func inverse(regularization: Double) throws(CoreError) -> FullMatrix {
        let inverse = try block.inverse(regularization: regularization, layer: label)
        return try FullMatrix(collection: collection, matrix: inverse.dense(), knownSymmetric: false)
    }

    public func spectrum() throws(CoreError) -> [BlockSpectrum] {
        [try block.spectrum(layer: label)]
    }

    public func power(_ exponent: Double, regularization: Double) throws(CoreError) -> FullMatrix {
        let result = try block.power(exponent, regularization: regularization, layer: label)
        return try FullMatrix(collection: collection, matrix: result.dense(), knownSymmetric: false)
    }

    public func logDeterminant(regularization: Double) throws(CoreError) -> Double {
        try block.logDeterminant(regularization: regularization, layer: label)
    }
}
