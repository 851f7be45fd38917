/// The Frobenius inner product `<M, N> = Σ M_ij N_ij` of two blocks of one
/// layer, in closed form where one exists (so comparing two KFAC Fishers
/// never builds a block), else through the explicit blocks.
extension BlockForm {
    public func frobeniusInner(_ other: any BlockForm, layer: String) throws(CoreError) -> Double {
        if let closed = closedInner(other) ?? other.closedInner(self) { return closed }
        try MemoryBudget.require(Double(side) * Double(side) * 16, for: "the explicit blocks of layer '\(layer)' to compare them")
        let a = dense().values, b = other.dense().values
        var total = 0.0
        for k in a.indices { total += a[k] * b[k] }
        return total
    }

    /// `<self, other>` without explicit blocks, when the pair allows it.
    func closedInner(_ other: any BlockForm) -> Double? {
        switch (self, other) {
        case (let a as IdentityForm, _):
            // <s I, N> = s tr(N)
            return a.scale * other.trace()
        case (let a as DiagForm, _):
            // <D, N> = Σ d_i N_ii
            let d = other.diagonal()
            return zip(a.values, d).reduce(0) { $0 + $1.0 * $1.1 }
        case (let a as KFACForm, let b as KFACForm):
            // <L ⊗ R, L' ⊗ R'> = <L, L'> <R, R'>
            return a.left.inner(b.left) * a.right.inner(b.right)
        case (let a as EKFACForm, let b as EKFACForm) where a.leftBasis == b.leftBasis && a.rightBasis == b.rightBasis:
            return zip(a.scaling.values, b.scaling.values).reduce(0) { $0 + $1.0 * $1.1 }
        case (let a as QuasiDiagForm, let b as QuasiDiagForm) where a.outputs == b.outputs && a.perOutput == b.perOutput:
            // Each coupling appears twice, above and below the diagonal.
            return zip(a.diagonalValues, b.diagonalValues).reduce(0) { $0 + $1.0 * $1.1 } + 2 * zip(a.cross, b.cross).reduce(0) { $0 + $1.0 * $1.1 }
        case (let a as EigenForm, let b as EigenForm) where a.basis == b.basis:
            return zip(a.eigenvalues, b.eigenvalues).reduce(0) { $0 + $1.0 * $1.1 }
        default:
            return nil
        }
    }
}

extension KroneckerFactor {
    /// Σ F_ij F'_ij.
    func inner(_ other: KroneckerFactor) -> Double {
        switch (self, other) {
        case (.diagonal(let x), .diagonal(let y)): return zip(x, y).reduce(0) { $0 + $1.0 * $1.1 }
        case (.diagonal(let x), .dense(let m)), (.dense(let m), .diagonal(let x)):
            return x.indices.reduce(0) { $0 + x[$1] * m[$1, $1] }
        case (.dense(let m), .dense(let n)):
            var total = 0.0
            for k in m.values.indices { total += m.values[k] * n.values[k] }
            return total
        }
    }
}
