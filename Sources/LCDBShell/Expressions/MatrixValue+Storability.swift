import LCDBCore
import LCDBStore

extension MatrixValue {
    /// True when some operand has dense blocks only (a stored or in-memory
    /// dense matrix, `random_spd`, Fisher blocks from data): dense + anything
    /// and dense x anything are dense, so `let` stores such a value as dense
    /// blocks even when its other operands are in forms.
    var hasDenseOperand: Bool {
        switch origin {
        case .stored, .memory, .source, .passes: scaledIdentity == nil
        case .storedForms, .structured, .transformedForms: false
        case .scaled(let a, _), .inverse(let a, _): a.hasDenseOperand
        case .sum(let a, let b, _), .product(let a, let b): a.hasDenseOperand || b.hasDenseOperand
        }
    }

    /// Why a value in forms has no form to store: the first sum or product
    /// (innermost first) whose operands are in forms but one of whose
    /// blocks has no form for their combination, named by layer.
    func unstorableReason(store: Store) throws -> String? {
        func firstBlock(_ a: MatrixValue, _ b: MatrixValue,
                        _ combined: (any BlockForm, any BlockForm) -> (any BlockForm)?) throws -> (String, FormKind, FormKind)? {
            guard let x = try a.structuredForm(store: store), let y = try b.structuredForm(store: store) else { return nil }
            for (position, (p, q)) in zip(x.blocks, y.blocks).enumerated() where combined(p, q) == nil {
                return (collection.names[position], p.kind, q.kind)
            }
            return nil
        }
        switch origin {
        case .scaled(let a, _), .inverse(let a, _):
            return try a.unstorableReason(store: store)
        case .sum(let a, let b, let alpha):
            if let inner = try a.unstorableReason(store: store) ?? b.unstorableReason(store: store) { return inner }
            guard let (layer, p, q) = try firstBlock(a, b, { BlockForms.sum($0, $1, scaledBy: alpha) }) else { return nil }
            let why = switch (p, q) {
            case (.kfac, .kfac): " (kfac + kfac is kfac only when the two share a factor: G ⊗ A + G ⊗ A' = G ⊗ (A + A'))"
            case (.ekfac, .ekfac): " (ekfac + ekfac is ekfac only over the same eigenbases)"
            default: ""
            }
            return "block '\(layer)': \(p.rawValue) + \(q.rawValue) has no exact form\(why)"
        case .product(let a, let b):
            if let inner = try a.unstorableReason(store: store) ?? b.unstorableReason(store: store) { return inner }
            guard let (layer, p, q) = try firstBlock(a, b, { $0.times($1) }) else { return nil }
            return "block '\(layer)': \(p.rawValue) x \(q.rawValue) has no exact form (kfac x kfac, diag x diag, identity x anything and dense x anything have one)"
        case .stored, .storedForms, .structured, .transformedForms, .memory, .source, .passes:
            return nil
        }
    }
}
