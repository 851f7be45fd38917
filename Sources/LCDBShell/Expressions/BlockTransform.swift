import LCDBCore

/// A map applied to each block of a matrix in forms on its own, as `inv`,
/// `eig` and `to_ekfac` do (kfac to ekfac, dense to eigen): kept lazy on a stored
/// matrix, so `let E = eig(K)` reads, transforms and writes one block at a
/// time (`Store.saveTransformedForms`) instead of holding both matrices.
public struct BlockTransform: Sendable {
    /// The block in its new form; `layer` names it in errors.
    public let apply: @Sendable (_ block: any BlockForm, _ layer: String) throws -> any BlockForm
}

extension MatrixValue {
    /// `transform` of this matrix's blocks, lazy, when this is a stored matrix
    /// in forms; nil otherwise (the caller transforms in memory).
    func transformingStoredForms(_ transform: BlockTransform) -> MatrixValue? {
        guard case .storedForms(let name) = origin else { return nil }
        return MatrixValue(origin: .transformedForms(name, transform), collection: collection, collectionName: collectionName,
                           dtype: dtype, isSymmetric: isSymmetric)
    }
}
