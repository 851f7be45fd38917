/// One part of a block read into a buffer that is reused once the product
/// using it is done (a stored matrix's `mv` reads block after block into
/// the same few buffers instead of faulting in fresh memory for each).
/// `values` holds the part row-major; when `upperOnly`, a square part's
/// upper triangle only (a stored symmetric part keeps one triangle; the
/// rest of the buffer is undefined).
public struct PartBuffer: @unchecked Sendable {
    public let name: String
    public let shape: [Int]
    public let values: UnsafeMutablePointer<Double>
    public let upperOnly: Bool

    public init(name: String, shape: [Int], values: UnsafeMutablePointer<Double>, upperOnly: Bool) {
        self.name = name
        self.shape = shape
        self.values = values
        self.upperOnly = upperOnly
    }

    public var count: Int { shape.reduce(1, *) }

    /// The part as a `FormPart` (copied; an upper-only part mirrored in its
    /// buffer first), for forms that work on arrays.
    public func formPart() -> FormPart {
        if upperOnly, shape.count == 2 { SquareMirror.copy(values, side: shape[0], from: .upper) }
        return FormPart(name, shape: shape, values: Array(UnsafeBufferPointer(start: values, count: count)))
    }
}
