/// The eigenvalues of one symmetric block, kept implicit where its form
/// allows: a kfac block's are the products `λ_L,i λ_R,j` of its factors'
/// eigenvalues (GPT-2's `h.0.mlp.c_fc` has 2.4 million of them, never formed
/// to find the largest few), an identity block's one value `side` times.
public enum BlockSpectrum: Sendable, Equatable {
    case values([Double])
    case kronecker([Double], [Double])
    case constant(Double, count: Int)

    /// How many eigenvalues (the block's side).
    public var count: Int {
        switch self {
        case .values(let values): values.count
        case .kronecker(let a, let b): a.count * b.count
        case .constant(_, let count): count
        }
    }

    /// Every eigenvalue, in no particular order (the caller checks memory).
    public var all: [Double] {
        switch self {
        case .values(let values): return values
        case .kronecker(let a, let b):
            var result: [Double] = []
            result.reserveCapacity(a.count * b.count)
            for x in a { for y in b { result.append(x * y) } }
            return result
        case .constant(let value, let count): return [Double](repeating: value, count: count)
        }
    }

    /// Σ f(λ) over every eigenvalue, always in the same order (reproducible).
    public func sum(_ f: (Double) -> Double) -> Double {
        switch self {
        case .values(let values): return values.reduce(0) { $0 + f($1) }
        case .kronecker(let a, let b):
            var total = 0.0
            for x in a {
                var row = 0.0
                for y in b { row += f(x * y) }
                total += row
            }
            return total
        case .constant(let value, let count): return Double(count) * f(value)
        }
    }

    /// The smallest eigenvalue.
    public var minimum: Double? { extremes(1, largest: false).first }

    /// The `k` largest eigenvalues in descending order, or the `k` smallest in
    /// ascending order (fewer when the block has fewer). A kfac block's are
    /// found among the products without forming them all (`KroneckerExtremes`).
    public func extremes(_ k: Int, largest: Bool) -> [Double] {
        guard k > 0 else { return [] }
        switch self {
        case .values(let values):
            return SpectrumSelection.extremes(of: values, k, largest: largest)
        case .kronecker(let a, let b):
            return largest ? KroneckerExtremes.largest(k, a, b) : KroneckerExtremes.largest(k, a, b.map { -$0 }).map { -$0 }
        case .constant(let value, let count):
            return [Double](repeating: value, count: min(k, count))
        }
    }

    /// This spectrum times `alpha` (the block scaled).
    public func scaled(by alpha: Double) -> BlockSpectrum {
        switch self {
        case .values(let values): .values(values.map { $0 * alpha })
        case .kronecker(let a, let b): .kronecker(a.map { $0 * alpha }, b)
        case .constant(let value, let count): .constant(value * alpha, count: count)
        }
    }
}

/// Choosing extreme values from plain lists and across blocks.
public enum SpectrumSelection {
    /// The `k` largest of `values` descending (or smallest ascending): a full
    /// sort when `k` is a good part of them, else one pass with a bounded heap
    /// (an ekfac D of millions of entries, for the top 100).
    public static func extremes(of values: [Double], _ k: Int, largest: Bool) -> [Double] {
        let k = min(k, values.count)
        guard k > 0 else { return [] }
        if k * 8 >= values.count {
            let sorted = largest ? values.sorted(by: >) : values.sorted()
            return Array(sorted.prefix(k))
        }
        // A heap whose root is the worst of the k kept so far.
        var kept = BinaryHeap<Double>(before: largest ? { $0 < $1 } : { $0 > $1 })
        for value in values {
            if kept.count < k {
                kept.push(value)
            } else if let worst = kept.top, largest ? value > worst : value < worst {
                kept.replaceTop(value)
            }
        }
        var result = kept.elements
        result.sort(by: largest ? { $0 > $1 } : { $0 < $1 })
        return result
    }
}
