/// A block-diagonal matrix whose dtype is known at run time.
public enum AnyBlockDiagonalMatrix: Equatable, Sendable {
    case float32(BlockDiagonalMatrix<Float>)
    case float64(BlockDiagonalMatrix<Double>)

    public init<Scalar: BLASScalar>(_ matrix: BlockDiagonalMatrix<Scalar>) {
        switch Scalar.dtype {
        case .float32: self = .float32(matrix.converted(to: Float.self))
        case .float64: self = .float64(matrix.converted(to: Double.self))
        }
    }

    public var dtype: DType {
        switch self {
        case .float32: .float32
        case .float64: .float64
        }
    }

    public var collection: LayerCollection {
        switch self {
        case .float32(let matrix): matrix.collection
        case .float64(let matrix): matrix.collection
        }
    }

    public func typed<Scalar: BLASScalar>(_: Scalar.Type = Scalar.self) -> BlockDiagonalMatrix<Scalar> {
        switch self {
        case .float32(let matrix): matrix.converted(to: Scalar.self)
        case .float64(let matrix): matrix.converted(to: Scalar.self)
        }
    }
}
