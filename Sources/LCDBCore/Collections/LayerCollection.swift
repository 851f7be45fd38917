/// An ordered list of uniquely named layers: the index that maps the pieces
/// of vectors and matrices onto each other.
///
/// Flattening order: layers in insertion order; inside a layer the weight
/// (row-major, C order), then the bias. A layer's offset is the sum of the
/// numel of the layers before it; offsets are computed once per change.
///
/// Equality is order-sensitive and compares names, kinds and every
/// hyperparameter, so equal collections always have equal offsets.
public struct LayerCollection: Hashable, Sendable {
    public struct Entry: Hashable, Sendable {
        public let name: String
        public let layer: Layer
    }

    public private(set) var entries: [Entry] = []
    /// `offsets[i]` is the position of layer i's first parameter.
    public private(set) var offsets: [Int] = []
    /// Total number of scalar parameters.
    public private(set) var numel: Int = 0
    private var positions: [String: Int] = [:]

    public init() {}

    /// A collection of these layers in this order; throws for a duplicate or invalid name.
    public init(_ layers: [(String, Layer)]) throws {
        for (name, layer) in layers { try append(name, layer) }
    }

    public static func == (lhs: LayerCollection, rhs: LayerCollection) -> Bool {
        lhs.entries == rhs.entries
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(entries) }

    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }
    public var names: [String] { entries.map(\.name) }

    /// Adds a layer at the end. A name already present is an error: it would
    /// make two layers share one place in every vector.
    public mutating func append(_ name: String, _ layer: Layer) throws {
        try LayerCollection.validate(name: name)
        guard positions[name] == nil else {
            throw CoreError(.duplicateName, "layer '\(name)' is already in the collection")
        }
        let (total, overflow) = numel.addingReportingOverflow(layer.numel)
        guard !overflow else { throw CoreError(.tooLarge, "adding '\(name)' overflows the parameter count") }
        positions[name] = entries.count
        offsets.append(numel)
        entries.append(Entry(name: name, layer: layer))
        numel = total
    }

    public func position(of name: String) -> Int? { positions[name] }

    public func contains(_ name: String) -> Bool { positions[name] != nil }

    /// The layer called `name`; an unknown name is an error that suggests close names.
    public func layer(named name: String) throws -> Layer {
        entries[try requirePosition(of: name)].layer
    }

    public func offset(of name: String) throws -> Int {
        offsets[try requirePosition(of: name)]
    }

    /// Offset range of layer `index` in the flat parameter array.
    public func range(at index: Int) -> Range<Int> {
        offsets[index] ..< offsets[index] + entries[index].layer.numel
    }

    func requirePosition(of name: String) throws -> Int {
        guard let position = positions[name] else {
            throw CoreError(.unknownName, "no layer '\(name)'" + NameSuggester.hint(for: name, among: names))
        }
        return position
    }

    /// `fc1.weight`, `fc1.bias`, ... with shapes and offsets, in flattening
    /// order: PyTorch's `named_parameters()` names, so a `Parameter` layer's
    /// tensor is the layer's own name (`p`, not `p.weight`), here and in files.
    public func namedParameters() -> [NamedParameter] {
        var result: [NamedParameter] = []
        for (index, entry) in entries.enumerated() {
            let weightCount = entry.layer.weightShape.reduce(1, *)
            let weightName = entry.layer.kind == .parameter ? entry.name : "\(entry.name).weight"
            result.append(NamedParameter(name: weightName, layer: entry.name,
                                         shape: entry.layer.weightShape, offset: offsets[index]))
            if let bias = entry.layer.biasShape {
                result.append(NamedParameter(name: "\(entry.name).bias", layer: entry.name,
                                             shape: bias, offset: offsets[index] + weightCount))
            }
        }
        return result
    }

    static func validate(name: String) throws {
        guard !name.isEmpty else { throw CoreError(.invalidArgument, "a layer name cannot be empty") }
        guard !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw CoreError(.invalidArgument, "layer name \(name.debugDescription) contains a control character")
        }
    }
}

/// One tensor of a collection, as PyTorch's `named_parameters()` lists it.
public struct NamedParameter: Hashable, Sendable {
    public let name: String
    public let layer: String
    public let shape: [Int]
    /// Position of its first element in the flat parameter array.
    public let offset: Int
    public var numel: Int { shape.reduce(1, *) }
}
