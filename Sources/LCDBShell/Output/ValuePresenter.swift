import LCDBCore
import LCDBStore

/// Turns values and stored objects into result tables.
enum ValuePresenter {
    /// Vectors with at most this many values in a layer show them.
    static let valuesShownPerLayer = 8

    static func table(for value: Value, session: Session) throws -> ResultTable {
        switch value {
        case .number(let number):
            return ResultTable(columns: ["value"], rows: [[.real(number)]])
        case .vector(let vector, let name):
            return vectorTable(vector, collectionName: name)
        case .matrix(let matrix):
            return try matrixTable(matrix, session: session)
        case .whole(let value):
            return try value.table()
        case .collection(let name):
            return collectionTable(try session.store.collection(named: name), name: name)
        case .word(let word):
            return ResultTable(columns: ["value"], rows: [[.text(word)]])
        case .table(let table):
            return table
        }
    }

    /// `1 layer`, `3 layers`.
    static func plural(_ count: Int, _ word: String) -> String { "\(count) \(word)\(count == 1 ? "" : "s")" }

    static func shape(_ dims: [Int]?) -> ResultTable.Cell {
        guard let dims else { return .null }
        return .text("(" + dims.map(String.init).joined(separator: ", ") + (dims.count == 1 ? ",)" : ")"))
    }

    static func collectionTable(_ collection: LayerCollection, name: String) -> ResultTable {
        let rows: [[ResultTable.Cell]] = collection.entries.enumerated().map { index, entry in
            [.integer(index), .text(entry.name), .text(entry.layer.description), shape(entry.layer.weightShape),
             shape(entry.layer.biasShape), .integer(entry.layer.numel), .integer(collection.offsets[index])]
        }
        return ResultTable(columns: ["position", "layer", "definition", "weight", "bias", "numel", "offset"], rows: rows,
                           note: "collection \(name): \(plural(collection.count, "layer")), \(plural(collection.numel, "parameter"))")
    }

    static func vectorTable(_ vector: AnyParameterVector, collectionName: String?) -> ResultTable {
        let values = vector.doubles
        let collection = vector.collection
        var rows: [[ResultTable.Cell]] = []
        values.withUnsafeBufferPointer { all in
            for (index, entry) in collection.entries.enumerated() {
                let range = collection.range(at: index)
                let slice = all[range]
                // The same norm as norm(v) (IEEE: NaN if any NaN); min and max propagate NaN too.
                let norm = range.isEmpty ? 0 : Double.nrm2(count: range.count, all.baseAddress! + range.lowerBound)
                let shown = slice.count <= valuesShownPerLayer
                    ? ResultTable.Cell.text(slice.map(ResultTable.format).joined(separator: " ")) : .text("...")
                rows.append([.text(entry.name), .integer(entry.layer.numel), .real(norm),
                             .real(extreme(slice, <)), .real(extreme(slice, >)), shown])
            }
        }
        let over = collectionName.map { " over \($0)" } ?? ""
        let total = switch vector {
        case .float32(let v): v.norm(.l2)
        case .float64(let v): v.norm(.l2)
        }
        return ResultTable(columns: ["layer", "numel", "norm", "min", "max", "values"], rows: rows,
                           note: "\(vector.dtype) vector\(over): \(plural(collection.numel, "value")), norm \(ResultTable.format(total))")
    }

    /// The smallest (`<`) or largest (`>`) value; NaN when any is NaN (NumPy's min and max).
    static func extreme<Values: Collection<Double>>(_ values: Values, _ better: (Double, Double) -> Bool) -> Double {
        guard var best = values.first else { return 0 }
        for value in values {
            if value.isNaN { return .nan }
            if better(value, best) { best = value }
        }
        return best
    }

    static func matrixTable(_ matrix: MatrixValue, session: Session) throws -> ResultTable {
        if let forms = try matrix.structuredForm(store: session.store) { return try formsTable(matrix, forms, session: session) }
        var rows: [[ResultTable.Cell]] = []
        var stored: String?
        if case .stored(let name) = matrix.origin {
            // Streamed tile by tile, whatever the block size.
            stored = name
            for (entry, summary) in zip(matrix.collection.entries, try session.store.blockSummaries(name)) {
                rows.append([.text(entry.name), .integer(entry.layer.numel), .real(summary.trace), .real(summary.frobenius)])
            }
        } else if let scale = matrix.scaledIdentity {
            for entry in matrix.collection.entries {
                let side = Double(entry.layer.numel)
                rows.append([.text(entry.name), .integer(entry.layer.numel), .real(scale * side), .real(abs(scale) * side.squareRoot())])
            }
        } else {
            try matrix.requireBlocksFit(for: "show")
            for (position, entry) in matrix.collection.entries.enumerated() {
                try Interruption.check()
                let block = try matrix.singleBlock(matrix, position, session.store, Double.self)
                rows.append([.text(entry.name), .integer(entry.layer.numel), .real(block.trace()), .real(block.frobeniusNorm())])
            }
        }
        let what = stored.map { "matrix \($0)" } ?? "matrix"
        let over = matrix.collectionName.map { " over \($0)" } ?? ""
        var storage = ""
        if let stored, let summary = try session.store.matrixSummaries().first(where: { $0.name == stored }), summary.layout == .upper {
            storage = " (stored as its upper triangle: \(plural(summary.bytes, "byte")))"
        }
        return ResultTable(columns: ["layer", "side", "trace", "frobenius"], rows: rows,
                           note: "\(what)\(over): blockdiag, \(matrix.dtype), \(matrix.isSymmetric ? "symmetric, " : "")\(plural(matrix.collection.count, "block")), \(MemoryBudget.format(matrix.bytes))\(storage)")
    }

    /// Each block's form, its parts and their size (stored bytes for a stored
    /// matrix, else what storing it would take), trace and Frobenius norm.
    static func formsTable(_ matrix: MatrixValue, _ forms: StructuredMatrix, session: Session) throws -> ResultTable {
        var stored: [StoredBlock]?
        var storedName: String?
        if case .storedForms(let name) = matrix.origin {
            stored = try session.store.blocks(of: name)
            storedName = name
        }
        var rows: [[ResultTable.Cell]] = []
        for (index, block) in forms.blocks.enumerated() {
            let parts = stored?[index].parts ?? block.parts.map { part in
                "\(part.name) (\(part.shape.map(String.init).joined(separator: ", "))\(part.shape.count == 1 ? "," : ""))"
            }.joined(separator: ", ")
            let bytes = stored?[index].bytes ?? block.storedBytes(matrix.dtype)
            rows.append([.text(forms.collection.names[index]), .text(block.kind.rawValue), .integer(block.side),
                         .real(block.trace()), .real(block.frobeniusNorm()), .text(parts), .integer(bytes)])
        }
        let total = rows.reduce(0) { total, row in if case .integer(let bytes) = row[6] { total + bytes } else { total } }
        let what = storedName.map { "matrix \($0)" } ?? "matrix"
        let over = matrix.collectionName.map { " over \($0)" } ?? ""
        let dense = MemoryBudget.format(matrix.bytes)
        return ResultTable(columns: ["layer", "form", "side", "trace", "frobenius", "parts", "bytes"], rows: rows,
                           note: "\(what)\(over): \(forms.representation), \(matrix.dtype), \(plural(forms.collection.count, "block")), \(MemoryBudget.format(Double(total))) \(storedName == nil ? "to store" : "stored") (dense blocks: \(dense))")
    }
}
