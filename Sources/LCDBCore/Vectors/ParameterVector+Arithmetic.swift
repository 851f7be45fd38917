/// Which layers a binary operation uses when its operands' collections differ.
public enum LayerMatching: Sendable {
    /// The collections must be equal; a difference is an error naming the first differing layer.
    case identical
    /// Operate on the layers identical in both (NNGeometry's silent behaviour,
    /// made explicit); the result is over those layers. None in common is an error.
    case common
}

public enum VectorNorm: String, CaseIterable, Sendable {
    case l1 = "1"
    case l2 = "2"
    case infinity = "inf"
}

extension ParameterVector {
    /// Both operands over one collection, according to `matching`.
    func aligned(with other: ParameterVector, _ matching: LayerMatching, for what: String) throws
        -> (ParameterVector, ParameterVector) {
        switch matching {
        case .identical:
            try collection.requireEqual(to: other.collection, for: what)
            return (self, other)
        case .common:
            if collection == other.collection { return (self, other) }
            let common = try collection.requireCommonLayers(with: other.collection, for: what)
            return (try restricted(to: common), try other.restricted(to: common))
        }
    }

    /// self + alpha * x (BLAS axpy).
    public func adding(_ x: ParameterVector, scaledBy alpha: Scalar = 1,
                       matching: LayerMatching = .identical, for what: String = "axpy") throws -> ParameterVector {
        var (result, x) = try aligned(with: x, matching, for: what)
        guard result.count > 0 else { return result }
        x.values.withUnsafeBufferPointer { source in
            result.withMutableValues { Scalar.axpy(count: source.count, alpha: alpha, source.baseAddress!, $0) }
        }
        return result
    }

    public func subtracting(_ x: ParameterVector, matching: LayerMatching = .identical) throws -> ParameterVector {
        try adding(x, scaledBy: -1, matching: matching)
    }

    /// alpha * self (BLAS scal).
    public func scaled(by alpha: Scalar) -> ParameterVector {
        var result = self
        let count = result.count
        result.withMutableValues { Scalar.scal(count: count, alpha: alpha, $0) }
        return result
    }

    /// Inner product (BLAS dot).
    public func dot(_ other: ParameterVector, matching: LayerMatching = .identical) throws -> Double {
        let (a, b) = try aligned(with: other, matching, for: "dot")
        guard a.count > 0 else { return 0 }
        return a.values.withUnsafeBufferPointer { x in
            b.values.withUnsafeBufferPointer { y in Scalar.dot(count: x.count, x.baseAddress!, y.baseAddress!) }
        }
    }

    /// The 1-norm (asum), 2-norm (nrm2) or infinity norm (iamax).
    public func norm(_ kind: VectorNorm = .l2) -> Double {
        values.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
            switch kind {
            case .l1: return Scalar.asum(count: buffer.count, base)
            case .l2: return Scalar.nrm2(count: buffer.count, base)
            case .infinity: return Scalar.maxMagnitude(count: buffer.count, base)
            }
        }
    }

    public static func + (lhs: ParameterVector, rhs: ParameterVector) throws -> ParameterVector {
        try lhs.adding(rhs)
    }

    public static func - (lhs: ParameterVector, rhs: ParameterVector) throws -> ParameterVector {
        try lhs.subtracting(rhs)
    }

    public static func * (alpha: Scalar, vector: ParameterVector) -> ParameterVector {
        vector.scaled(by: alpha)
    }
}
