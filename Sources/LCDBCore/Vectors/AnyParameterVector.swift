/// A parameter vector whose dtype is known at run time (a stored or parsed object).
public enum AnyParameterVector: Equatable, Sendable {
    case float32(ParameterVector<Float>)
    case float64(ParameterVector<Double>)

    public init<Scalar: BLASScalar>(_ vector: ParameterVector<Scalar>) {
        switch Scalar.dtype {
        case .float32: self = .float32(vector.converted(to: Float.self))
        case .float64: self = .float64(vector.converted(to: Double.self))
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
        case .float32(let vector): vector.collection
        case .float64(let vector): vector.collection
        }
    }

    /// The vector as `Scalar`, converted when its dtype differs.
    public func typed<Scalar: BLASScalar>(_: Scalar.Type = Scalar.self) -> ParameterVector<Scalar> {
        switch self {
        case .float32(let vector): vector.converted(to: Scalar.self)
        case .float64(let vector): vector.converted(to: Scalar.self)
        }
    }

    public func converted(to dtype: DType) -> AnyParameterVector {
        switch dtype {
        case .float32: .float32(typed(Float.self))
        case .float64: .float64(typed(Double.self))
        }
    }

    /// Values widened to Double (exact for float32).
    public var doubles: [Double] {
        switch self {
        case .float32(let vector): vector.values.map(Double.init)
        case .float64(let vector): vector.values
        }
    }
}
