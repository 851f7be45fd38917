import LCDBCore
import LCDBStore

/// Seeing the numbers: entries of a vector with their layer and parameter
/// (all, a range, the first or last few), a block of a matrix (or a corner
/// of it) as a table, and a vector or matrix restricted to some layers.
enum InspectFunctions {
    static let all: [FunctionSpec] = [
        FunctionSpec(name: "values", parameters: [.init("v", .vector, mayStayStored: true), .init("start", .number, default: .number(0)),
                                                  .init("count", .number, default: .number(0))],
                     summary: "The entries of v from flat index start (count of them; 0: to the end), one row each: index, layer, parameter (fc1.weight[2, 3]) and value, in round-trip precision.",
                     example: "values(g.fc1);") { args, evaluator in
            let start = try nonNegative(args, "start"), count = try nonNegative(args, "count")
            let numel = try vectorNumel(args, evaluator)
            guard start <= numel else { throw args.error("start \(start) is past the end (the vector has \(numel) entries)") }
            return .table(try entries(args, evaluator, start ..< (count == 0 ? numel : min(numel, start + count))))
        },
        FunctionSpec(name: "head", parameters: [.init("v", .vector, mayStayStored: true), .init("n", .number, default: .number(10))],
                     summary: "The first n entries of v, as values() shows them.", example: "head(g, 5);") { args, evaluator in
            let numel = try vectorNumel(args, evaluator)
            return .table(try entries(args, evaluator, 0 ..< min(numel, try nonNegative(args, "n"))))
        },
        FunctionSpec(name: "tail", parameters: [.init("v", .vector, mayStayStored: true), .init("n", .number, default: .number(10))],
                     summary: "The last n entries of v, as values() shows them.", example: "tail(g, 5);") { args, evaluator in
            let numel = try vectorNumel(args, evaluator)
            return .table(try entries(args, evaluator, max(0, numel - (try nonNegative(args, "n"))) ..< numel))
        },
        FunctionSpec(name: "block", parameters: [.init("M", .matrix), .init("layer", .text), .init("row", .number, default: .number(0)),
                                                 .init("column", .number, default: .number(0)), .init("rows", .number, default: .number(10)),
                                                 .init("columns", .number, default: .number(10))],
                     summary: "Rows row.. and columns column.. of the block of layer in M (10 x 10 from the corner by default; rows=0 or columns=0: to the end), as a table; for forms, the columns are computed as products, so a corner of a 44 TB kfac block costs ten products.",
                     example: "block(F, fc1, rows=4, columns=4);") { args, evaluator in
            try blockTable(args, evaluator)
        },
        FunctionSpec(name: "checksum", parameters: [.init("x", .name)],
                     summary: "The content hash of a stored collection, vector or matrix: SHA-256 of its layers, dtype and values (README: the exact byte stream, which Python's hashlib reproduces); the same for identical content in any two files, whatever its tiles or layout.",
                     example: "checksum(F);") { args, evaluator in
            let name = try args.name("x")
            return .word(try evaluator.store.contentHash(of: name))
        },
        FunctionSpec(name: "restrict", parameters: [.init("x", .object), .init("layers", .text)],
                     summary: "x over the layers whose names match layers: names or globs, comma-separated ('layer1.*', 'fc1, fc2'); a pattern matching nothing is an error. let stores the result when a stored collection has exactly those layers (create collection S as subset(C, 'layer1.*')).",
                     example: "let g1 = restrict(g, 'layer1.*');") { args, evaluator in
            guard case .word(let text)? = args.value("layers") else { throw args.error("layers must be a quoted text") }
            let patterns = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            switch args.value("x")! {
            case .vector(let vector, _):
                let subset = try vector.collection.selecting(patterns)
                let restricted: AnyParameterVector = switch vector {
                case .float32(let v): .float32(try v.restricted(to: subset))
                case .float64(let v): .float64(try v.restricted(to: subset))
                }
                return .vector(restricted, collectionName: try storedName(of: subset, evaluator.store))
            case .matrix(let matrix):
                let subset = try matrix.collection.selecting(patterns)
                let restricted = try matrix.restricted(to: subset, store: evaluator.store)
                return .matrix(MatrixValue(origin: restricted.origin, collection: subset, collectionName: try storedName(of: subset, evaluator.store),
                                           dtype: restricted.dtype, isSymmetric: restricted.isSymmetric))
            default:
                throw args.error("x must be a vector or a matrix")
            }
        },
    ]

    private static func nonNegative(_ args: CallArguments, _ name: String) throws -> Int {
        let value = try args.number(name)
        guard value >= 0, value == value.rounded(), let count = Int(exactly: value) else {
            throw args.error("\(name) must be a non-negative integer, got \(ResultTable.format(value))")
        }
        return count
    }

    /// The stored collection with exactly these layers, if there is one.
    private static func storedName(of collection: LayerCollection, _ store: Store) throws -> String? {
        try store.collectionNames().first { try store.collection(named: $0) == collection }
    }

    /// What a table of `rows` entries takes, roughly (four cells and their
    /// text, then as much again to print it): `values(g)` of a 32-million
    /// entry vector crashed for want of memory before this was checked.
    static func requireTableMemory(rows: Int) throws {
        try MemoryBudget.require(Double(rows) * 2 * (4 * 48 + 96), for: "a table of \(rows) entries",
                                 advice: "; ask for fewer (values(v, start, count), head, tail), or export the vector")
    }

    /// The number of entries of argument v: a stored vector's from its
    /// collection (it is not read), any other's from its value.
    private static func vectorNumel(_ args: CallArguments, _ evaluator: Evaluator) throws -> Int {
        if let stored = args.storedVector("v") { return try StoredVectorStreams.numel(of: stored, evaluator.store) }
        return try args.vector("v").vector.collection.numel
    }

    /// Entries `range` of argument v, a row each; of a stored vector only
    /// the chunks holding them are read.
    private static func entries(_ args: CallArguments, _ evaluator: Evaluator, _ range: Range<Int>) throws -> ResultTable {
        try requireTableMemory(rows: range.count)
        let (values, collection, dtype): ([Double], LayerCollection, DType)
        if let stored = args.storedVector("v") {
            (values, collection, dtype) = try StoredVectorStreams.values(of: stored, range, evaluator.store)
        } else {
            let vector = try args.vector("v").vector
            (values, collection, dtype) = (Array(vector.typed(Double.self).values[range]), vector.collection, vector.dtype)
        }
        var position = 0
        var rows: [[ResultTable.Cell]] = []
        rows.reserveCapacity(range.count)
        for (index, value) in zip(range, values) {
            while index >= collection.offsets[position] + collection.entries[position].layer.numel { position += 1 }
            let entry = collection.entries[position]
            rows.append([.integer(index), .text(entry.name), .text(ElementWiseFunctions.parameterName(entry, index - collection.offsets[position])),
                         .real(value)])
        }
        return ResultTable(columns: ["index", "layer", "parameter", "value"], rows: rows,
                           note: "entries \(range.lowerBound) to \(range.upperBound) of \(collection.numel) (\(dtype))")
    }

    private static func blockTable(_ args: CallArguments, _ evaluator: Evaluator) throws -> Value {
        let m = try args.matrix("M")
        guard case .word(let layer)? = args.value("layer") else { throw args.error("layer must be a layer name") }
        guard let position = m.collection.names.firstIndex(of: layer) else {
            throw args.error("the matrix has no layer '\(layer)'\(NameSuggester.hint(for: layer, among: m.collection.names))")
        }
        let side = m.collection.entries[position].layer.numel
        let row = try nonNegative(args, "row"), column = try nonNegative(args, "column")
        guard row < side, column < side else { throw args.error("row and column must be below the block's side, \(side)") }
        let rowCount = try nonNegative(args, "rows"), columnCount = try nonNegative(args, "columns")
        let rows = row ..< (rowCount == 0 ? side : min(side, row + rowCount))
        let columns = column ..< (columnCount == 0 ? side : min(side, column + columnCount))
        try MemoryBudget.require(Double(rows.count) * Double(columns.count) * 16, for: "the table of the block's entries")
        var entries = [[Double]](repeating: [], count: rows.count)
        if let forms = try m.structuredForm(store: evaluator.store) {
            // Column j is M e_j: no block is built.
            let form = forms.blocks[position]
            var unit = [Double](repeating: 0, count: side)
            for j in columns {
                try Interruption.check()
                unit[j] = 1
                let product = form.product(unit)
                unit[j] = 0
                for (k, i) in rows.enumerated() { entries[k].append(product[i]) }
            }
        } else {
            let block = try m.block(at: position, store: evaluator.store, as: Double.self)
            for (k, i) in rows.enumerated() { entries[k] = columns.map { block[i * side + $0] } }
        }
        let table = ResultTable(columns: ["row"] + columns.map(String.init),
                                rows: zip(rows, entries).map { [.integer($0.0)] + $0.1.map { .real($0) } },
                                note: "block '\(layer)' (\(side) x \(side)): rows \(rows.lowerBound) to \(rows.upperBound), columns \(columns.lowerBound) to \(columns.upperBound)")
        return .table(table)
    }
}
