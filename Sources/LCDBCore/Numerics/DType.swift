/// The element type of a stored or computed object.
public enum DType: String, CaseIterable, Sendable {
    case float32
    case float64

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .float32: 4
        case .float64: 8
        }
    }

    /// Accepts the spellings users bring from NumPy and PyTorch.
    public init?(name: String) {
        switch name.lowercased() {
        case "float32", "f32", "float", "single": self = .float32
        case "float64", "f64", "double": self = .float64
        default: return nil
        }
    }
}
