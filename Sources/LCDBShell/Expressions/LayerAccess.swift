import LCDBCore
import LCDBStore

/// Parts of stored objects by dotted name, tried when no object has the
/// whole name (layer names have dots too, so every cut is tried, shortest
/// owner first): `g.fc1` is layer fc1 of vector g (a vector over that one
/// layer: arithmetic and functions work on it), `g.fc1.weight` one parameter
/// (a table of its values by index, with its shape), `F.fc1` the block of
/// matrix F (a matrix over that layer). Quoted names: `g."head layer"`.
enum LayerAccess {
    static func resolve(_ name: String, _ evaluator: Evaluator, at location: SourceLocation) throws -> Value? {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count > 1 else { return nil }
        let store = evaluator.store
        var owners: [(kind: String, name: String, rest: String, layers: [String])] = []
        for cut in 1 ..< parts.count {
            let owner = parts[..<cut].joined(separator: "."), rest = parts[cut...].joined(separator: ".")
            let kind = try store.kind(of: owner)
            if let kind, kind != "collection" { evaluator.session.noteInput(kind, owner) }
            switch kind {
            case "vector":
                // Only the layer's (or the parameter's) chunks are read, never the vector.
                let collection = try store.collection(named: try store.collectionName(ofVector: owner))
                if let position = collection.names.firstIndex(of: rest) {
                    return .vector(try StoredVectorStreams.layer(position, of: owner, store), collectionName: nil)
                }
                if let table = try parameter(rest, of: collection, vector: owner, store) { return .table(table) }
                owners.append(("vector", owner, rest, collection.names))
            case "matrix":
                let matrix = try evaluator.storedMatrix(owner)
                if let layer = try single(rest, of: matrix.collection) {
                    return .matrix(try matrix.restricted(to: layer, store: store))
                }
                owners.append(("matrix", owner, rest, matrix.collection.names))
            default:
                continue
            }
        }
        // An owner exists but has no such part: say that, not "no object".
        if let owner = owners.first {
            let hint = NameSuggester.hint(for: owner.rest, among: owner.layers)
            throw ShellError("\(owner.kind) '\(owner.name)' has no layer\(owner.kind == "vector" ? " or parameter" : "") '\(owner.rest)'\(hint)", at: location)
        }
        return nil
    }

    /// The one-layer collection of layer `name`, if `collection` has it.
    private static func single(_ name: String, of collection: LayerCollection) throws -> LayerCollection? {
        guard let entry = collection.entry(named: name) else { return nil }
        return try LayerCollection([(entry.name, entry.layer)])
    }

    /// `fc1.weight` or `fc1.bias` of stored vector `vector`: its values by
    /// index (only those are read).
    private static func parameter(_ path: String, of collection: LayerCollection, vector: String, _ store: Store) throws -> ResultTable? {
        for (position, entry) in collection.entries.enumerated() {
            let layer = entry.layer
            let weightCount = layer.weightShape.reduce(1, *)
            let (shape, range): ([Int], Range<Int>)
            if path == "\(entry.name).weight", layer.kind != .parameter {
                (shape, range) = (layer.weightShape, 0 ..< weightCount)
            } else if path == "\(entry.name).bias", let bias = layer.biasShape {
                (shape, range) = (bias, weightCount ..< layer.numel)
            } else {
                continue
            }
            try InspectFunctions.requireTableMemory(rows: range.count)
            let offset = collection.offsets[position]
            let (values, _, dtype) = try StoredVectorStreams.values(of: vector, offset + range.lowerBound ..< offset + range.upperBound, store)
            let rows: [[ResultTable.Cell]] = zip(range, values).map { index, value in
                [.text(ElementWiseFunctions.indices(index - range.lowerBound, shape)), .real(value)]
            }
            let dims = shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? "," : "")
            return ResultTable(columns: ["index", "value"], rows: rows,
                               note: "\(vector).\(path): shape (\(dims)), \(dtype), \(ValuePresenter.plural(range.count, "value"))")
        }
        return nil
    }
}
