import LCDBCore

/// One number computed from M x a block at a time, so M x is never held
/// whole (`Store.formsProduct(_:vectorNamed:reducedTo:)`): each block's
/// share gives a partial, and the partials are combined in block order.
public enum ProductReduction: Sendable {
    /// norm(M x, p)
    case norm(VectorNorm)
    /// xᵀ M x
    case quadraticForm

    /// Whether a partial reads the block's share of x after the product.
    var readsX: Bool {
        if case .quadraticForm = self { return true }
        return false
    }

    /// A block's partial from its share of M x (rounded to float32 in
    /// place first when `narrow`: the product's dtype) and of x.
    func partial(_ product: UnsafeMutableBufferPointer<Double>, _ x: UnsafeBufferPointer<Double>, narrow: Bool) -> Double {
        guard let values = product.baseAddress, product.count > 0 else { return 0 }
        if narrow {
            for k in product.indices { product[k] = Double(Float(product[k])) }
        }
        switch self {
        case .norm(.l1): return Double.asum(count: product.count, values)
        case .norm(.l2): return Double.nrm2(count: product.count, values)
        case .norm(.infinity): return Double.maxMagnitude(count: product.count, values)
        case .quadraticForm: return Double.dot(count: product.count, values, x.baseAddress!)
        }
    }

    /// The partials of every block, in block order, combined.
    func combined(_ partials: [Double]) -> Double {
        switch self {
        case .norm(.l1), .quadraticForm:
            return partials.reduce(0, +)
        case .norm(.l2):
            return Norms.combined(partials)
        case .norm(.infinity):
            return partials.contains { $0.isNaN } ? .nan : partials.max() ?? 0
        }
    }
}
