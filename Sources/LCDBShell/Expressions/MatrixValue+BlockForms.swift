import LCDBCore
import LCDBStore

extension MatrixValue {
    /// `body` on each block as a form, one block in memory at a time: a
    /// stored matrix in forms read block by block, a stored dense matrix a
    /// whole block at a time, multiples and sums with the identity through
    /// their operand's forms (so `logdet(E + 0.1 * eye(C))` of a kept
    /// decomposition reuses it), other values through their forms or their
    /// explicit blocks.
    func forEachBlockForm(store: Store, _ body: (Int, any BlockForm) throws -> Void) throws {
        switch origin {
        case .storedForms(let name):
            _ = try store.forEachForm(of: name) { position, form in try body(position, form) }
            return
        case .transformedForms(let name, let transform):
            let names = collection.names
            _ = try store.forEachForm(of: name) { position, form in try body(position, try transform.apply(form, names[position])) }
            return
        case .stored(let name):
            let mirrored = try store.matrix(named: name).layout == .upper
            for position in collection.entries.indices {
                try Interruption.check()
                let side = collection.entries[position].layer.numel
                let values: [Double] = try store.block(of: name, at: position, as: Double.self)
                // An upper-layout block is read mirrored from one triangle: exactly symmetric.
                try body(position, DenseForm(block: Matrix64(rows: side, columns: side, values: values), knownSymmetric: mirrored))
            }
            return
        case .scaled(let a, let alpha):
            try a.forEachBlockForm(store: store) { position, form in try body(position, form.scaled(by: alpha)) }
            return
        case .sum(let a, let b, let alpha):
            if let s = b.scaledIdentity {
                try a.forEachBlockForm(store: store) { position, form in try body(position, MatrixValue.shifted(form, by: alpha * s)) }
                return
            }
            if let s = a.scaledIdentity {
                try b.forEachBlockForm(store: store) { position, form in
                    try body(position, MatrixValue.shifted(form.scaled(by: alpha), by: s))
                }
                return
            }
        default:
            break
        }
        if let forms = try structuredForm(store: store) {
            for (position, form) in forms.blocks.enumerated() { try body(position, form) }
            return
        }
        try requireBlocksFit(for: "this operation")
        for position in collection.entries.indices {
            try Interruption.check()
            let side = collection.entries[position].layer.numel
            let values = try block(at: position, store: store, as: Double.self)
            try body(position, DenseForm(block: Matrix64(rows: side, columns: side, values: values)))
        }
    }

    /// Block `position` of the stored dense matrix `name` as float64, to be
    /// decomposed in place: checked symmetric unless `mirrored` (an upper-layout
    /// matrix's blocks are read from one triangle, so exactly symmetric).
    static func symmetricStoredBlock(_ name: String, at position: Int, side: Int, layer: String, mirrored: Bool,
                                     store: Store, for what: String) throws -> [Double] {
        let values: [Double] = try store.block(of: name, at: position, as: Double.self)
        if !mirrored {
            try DenseForm(block: Matrix64(rows: side, columns: side, values: values)).requireSymmetric(layer, for: what)
        }
        return values
    }

    /// form + s I, in the form's own family when it has one (eigen, ekfac, diag).
    private static func shifted(_ form: any BlockForm, by s: Double) -> any BlockForm {
        if s == 0 { return form }
        let identity = IdentityForm(side: form.side, scale: s)
        return form.plus(identity, scaledBy: 1) ?? form.densePlusIdentity(s)
    }
}

extension BlockForm {
    /// The explicit block plus s I (forms with no closed sum: kfac + s I is
    /// ekfac already, so only forms like a lazy sum's reach here).
    func densePlusIdentity(_ s: Double) -> DenseForm {
        var block = dense()
        for i in 0 ..< side { block.values[i * side + i] += s }
        return DenseForm(block: block)
    }
}
