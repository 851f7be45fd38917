import LCDBCore
import LCDBStore

/// `let NAME = EXPRESSION`: stores a vector or matrix result, replacing an
/// object of the same kind and name. Matrices stream into the database one
/// block at a time.
struct LetStatement: Statement {
    let name: Located<String>
    let expression: Expression

    static let definition = StatementDefinition(
        words: ["let"],
        syntax: ["let NAME = EXPRESSION"],
        summary: "Computes a vector or matrix and stores it under NAME (replacing a vector or matrix of that name).",
        example: "let step = solve(F, g, regul=1e-3);"
    ) { parser in
        let name = try parser.name("result")
        try parser.expectSymbol("=")
        return LetStatement(name: name, expression: try parser.expression())
    }

    func run(in session: Session) throws -> [ResultTable] {
        let store = session.store
        try requireNoShadowedLayer(store)
        let evaluator = Evaluator(session: session)
        evaluator.storedAs = (name.value, expression.location)
        let value = try evaluator.evaluate(expression)
        do {
            switch value {
            // A name taken by another kind of object is refused by the store (one namespace).
            // The object and its provenance are stored in one transaction.
            case .vector(let vector, let collectionName):
                let over = try collectionName ?? storedCollection(equalTo: vector.collection, store)
                try session.storing(name.value) { try store.saveVector(name.value, over: over, vector, replace: true) }
            case .matrix(let matrix):
                let over = try matrix.collectionName ?? storedCollection(equalTo: matrix.collection, store)
                try session.storing(name.value) { try storeMatrix(matrix, over: over, session) }
            case .whole(let value):
                let over = try value.collectionName ?? storedCollection(equalTo: value.matrix.collection, store)
                try session.storing(name.value) { try store.saveWhole(name.value, over: over, value.matrix, dtype: value.dtype, replace: true) }
            case .number:
                throw ShellError("only vectors and matrices are stored; a number prints without 'let'", at: expression.location)
            case .collection:
                throw ShellError("to copy a collection, use: create collection \(name.value) as copy(...)", at: expression.location)
            case .word(let word):
                throw ShellError("'\(word)' is not a value", at: expression.location)
            case .table:
                throw ShellError("only vectors and matrices are stored; a table prints without 'let'", at: expression.location)
            }
        } catch let error as StoreError {
            throw ShellError(error.message, at: name.location)
        }
        return []
    }

    /// `let g.fc1 = ...` would make a new vector named `g.fc1`, not change
    /// layer fc1 of vector g: refused, so nobody believes a layer was assigned.
    private func requireNoShadowedLayer(_ store: Store) throws {
        let parts = name.value.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count > 1 else { return }
        for cut in 1 ..< parts.count {
            let owner = parts[..<cut].joined(separator: "."), layer = parts[cut...].joined(separator: ".")
            guard try store.kind(of: owner) == "vector" else { continue }
            let collection = try store.collection(named: try store.collectionName(ofVector: owner))
            if collection.names.contains(layer) {
                throw ShellError("'\(name.value)' names layer '\(layer)' of vector '\(owner)'; let stores whole vectors only and would make a separate vector called '\(name.value)': choose a name without that dot", at: name.location)
            }
        }
    }

    private func storedCollection(equalTo collection: LayerCollection, _ store: Store) throws -> String {
        for candidate in try store.collectionNames() where try store.collection(named: candidate) == collection {
            return candidate
        }
        throw ShellError("the result is over layers that no stored collection has (\(collection.names.joined(separator: ", "))); create that collection first, e.g. with 'create collection NAME as subset(C, 'PATTERNS')' or 'as merge(A, B)'",
                         at: expression.location)
    }

    /// Streams the matrix into the store: panel by panel when it is made of
    /// generated, stored and in-memory matrices by sums and multiples
    /// (`PanelSource`), else block by block, one computed block cached at a time.
    private func storeMatrix(_ matrix: MatrixValue, over collectionName: String, _ session: Session) throws {
        // inv, eig or to_ekfac of a stored matrix in forms: a block at a time,
        // never either matrix whole.
        if case .transformedForms(let stored, let transform) = matrix.origin {
            try session.store.saveTransformedForms(name.value, from: stored, dtype: matrix.dtype, replace: true, transform.apply)
            return
        }
        // Blocks in forms are stored as their parts (megabytes), never as dense tiles.
        if let forms = try matrix.structuredForm(store: session.store) {
            try session.store.saveStructured(name.value, over: collectionName, forms, dtype: matrix.dtype, replace: true)
            return
        }
        if matrix.hasForms {
            // With a dense operand the result is dense: stored as dense blocks below.
            guard matrix.hasDenseOperand else {
                let reason = try matrix.unstorableReason(store: session.store) ?? "it has no exact form"
                throw ShellError("this matrix cannot be stored in forms: \(reason); mv, vtmv, trace, diag and frobenius work on it as it is. To store it, convert an operand with to_dense(...), which needs its dense blocks to fit", at: expression.location)
            }
            try matrix.requireBlocksFit(for: "storing '\(name.value)' as dense blocks")
        }
        func write<Scalar: BLASScalar>(_: Scalar.Type) throws {
            var cached: (position: Int, block: [Scalar])?
            let progress = session.progressReporter("storing \(name.value)")
            // A symmetric result keeps one triangle: half the bytes to write and read.
            let symmetric = matrix.isSymmetric
            let layout: MatrixLayout = symmetric ? .upper : .full
            var panels: PanelSource<Scalar>?
            try session.store.createMatrix(name.value, over: collectionName, as: Scalar.self, layout: layout,
                                           symmetric: symmetric, replace: true, progress: progress) { position, side, rows, columns, target in
                // Made inside the write, whose transaction the stored operands are read in.
                if position == 0, rows.lowerBound == 0 { panels = try PanelSource.make(matrix, layout: layout, store: session.store) }
                if let panels {
                    try panels.fill(position, side, rows, columns, target)
                    return
                }
                if cached?.position != position {
                    cached = nil
                    cached = (position, try matrix.block(at: position, store: session.store, as: Scalar.self))
                }
                cached?.block.withUnsafeBufferPointer { block in
                    Store.copyPanel(from: block.baseAddress!, side: side, rows: rows, columns: columns, to: target)
                }
            }
        }
        switch matrix.dtype {
        case .float32: try write(Float.self)
        case .float64: try write(Double.self)
        }
    }
}
