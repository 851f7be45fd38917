import LCDBCore
import LCDBStore

/// A block-diagonal matrix in an expression. Nothing is computed until a
/// block is asked for, so a statement that stores a result (`let`) streams
/// it into the database one block at a time.
public struct MatrixValue: Sendable {
    public indirect enum Origin: Sendable {
        case stored(String)
        case memory(AnyBlockDiagonalMatrix)
        case source(BlockSource)
        case inverse(MatrixValue, regularization: Double)
        case product(MatrixValue, MatrixValue)
        /// a + alpha * b
        case sum(MatrixValue, MatrixValue, alpha: Double)
        case scaled(MatrixValue, Double)
    }

    public let origin: Origin
    public let collection: LayerCollection
    /// The stored collection this matrix is over, when known.
    public let collectionName: String?
    public let dtype: DType
    public let isSymmetric: Bool

    /// Block `position` as `Scalar`; `store` serves stored operands.
    func block<Scalar: BLASScalar>(at position: Int, store: Store, as type: Scalar.Type) throws -> [Scalar] {
        // Refused before anything is allocated: a block over half of memory would not survive.
        let side = try BlockDiagonalMatrix<Scalar>.side(of: collection.entries[position])
        switch origin {
        case .stored(let name):
            return try store.block(of: name, at: position, as: type)
        case .memory(let matrix):
            return matrix.typed(Scalar.self).blocks[position]
        case .source(let source):
            var block = [Scalar](repeating: 0, count: side * side)
            block.withUnsafeMutableBufferPointer { source.fill(block: position, side: side, rows: 0 ..< side, into: $0.baseAddress!) }
            return block
        case .inverse(let operand, let regularization):
            let single = try singleBlock(operand, position, store, type)
            return try single.inverse(regularization: Scalar(regularization)).blocks[0]
        case .product(let left, let right):
            return try singleBlock(left, position, store, type).matrixProduct(singleBlock(right, position, store, type)).blocks[0]
        case .sum(let left, let right, let alpha):
            return try singleBlock(left, position, store, type)
                .adding(singleBlock(right, position, store, type), scaledBy: Scalar(alpha)).blocks[0]
        case .scaled(let operand, let alpha):
            return try singleBlock(operand, position, store, type).scaled(by: Scalar(alpha)).blocks[0]
        }
    }

    /// Block `position` as a one-layer matrix, so the core's operations apply to it.
    func singleBlock<Scalar: BLASScalar>(_ value: MatrixValue, _ position: Int, _ store: Store,
                                         _ type: Scalar.Type) throws -> BlockDiagonalMatrix<Scalar> {
        let entry = value.collection.entries[position]
        let single = try LayerCollection([(entry.name, entry.layer)])
        return try BlockDiagonalMatrix(collection: single, blocks: [value.block(at: position, store: store, as: type)])
    }

    /// Every block in memory.
    func materialize<Scalar: BLASScalar>(store: Store, as type: Scalar.Type) throws -> BlockDiagonalMatrix<Scalar> {
        if case .memory(let matrix) = origin { return matrix.typed(type) }
        let blocks = try collection.entries.indices.map { try block(at: $0, store: store, as: type) }
        return try BlockDiagonalMatrix(collection: collection, blocks: blocks)
    }

    func materialize(store: Store) throws -> AnyBlockDiagonalMatrix {
        switch dtype {
        case .float32: .float32(try materialize(store: store, as: Float.self))
        case .float64: .float64(try materialize(store: store, as: Double.self))
        }
    }

    /// The same matrix restricted to layers `subset` (identical layers of this one).
    func restricted(to subset: LayerCollection, store: Store) throws -> MatrixValue {
        if subset == collection { return self }
        let matrix = try materialize(store: store)
        let restricted: AnyBlockDiagonalMatrix = switch matrix {
        case .float32(let m): .float32(try m.restricted(to: subset))
        case .float64(let m): .float64(try m.restricted(to: subset))
        }
        return MatrixValue(origin: .memory(restricted), collection: subset, collectionName: nil, dtype: dtype, isSymmetric: isSymmetric)
    }

    /// Bytes of block data.
    var byteCount: Int {
        collection.entries.reduce(0) { $0 + $1.layer.numel * $1.layer.numel } * dtype.size
    }
}
