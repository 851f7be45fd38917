/// Set-like operations. Each says which notion of sameness it uses:
/// *identical* layers (same name, kind and every hyperparameter).
extension LayerCollection {
    /// NNGeometry's `merge` / `get_common_layers`: the layers present in both
    /// collections under the same name and identical, in this collection's
    /// order. May be empty; operations that need layers say so themselves.
    public func commonLayers(with other: LayerCollection) -> LayerCollection {
        var result = LayerCollection()
        for entry in entries where other.entry(named: entry.name)?.layer == entry.layer {
            // Names are unique in self, so appending cannot fail.
            try? result.append(entry.name, entry.layer)
        }
        return result
    }

    /// All layers of this collection, then those of `other` it lacks, in
    /// `other`'s order. A name defined differently in the two is an error
    /// naming the layer and both definitions.
    public func union(with other: LayerCollection) throws -> LayerCollection {
        var result = self
        for entry in other.entries {
            if let mine = self.entry(named: entry.name) {
                guard mine.layer == entry.layer else {
                    throw CoreError(.conflictingDefinition,
                                    "layer '\(entry.name)' is \(mine.layer) in the first collection but \(entry.layer) in the second")
                }
            } else {
                try result.append(entry.name, entry.layer)
            }
        }
        return result
    }

    /// What changes from this collection to `other`.
    public func diff(to other: LayerCollection) -> CollectionDiff {
        CollectionDiff(from: self, to: other)
    }

    public mutating func rename(_ name: String, to newName: String) throws {
        let position = try requirePosition(of: name)
        guard name != newName else { return }
        try LayerCollection.validate(name: newName)
        guard !contains(newName) else {
            throw CoreError(.duplicateName, "cannot rename '\(name)' to '\(newName)': that name is already in the collection")
        }
        var renamed = entries.map { ($0.name, $0.layer) }
        renamed[position].0 = newName
        self = try LayerCollection(renamed)
    }

    public mutating func remove(_ name: String) throws {
        let position = try requirePosition(of: name)
        var kept = entries.map { ($0.name, $0.layer) }
        kept.remove(at: position)
        self = try LayerCollection(kept)
    }

    public func entry(named name: String) -> Entry? {
        position(of: name).map { entries[$0] }
    }

    /// True when both have the same number of layers with the same parameter
    /// shapes in the same order (names and kinds may differ).
    public func isShapeCompatible(with other: LayerCollection) -> Bool {
        count == other.count && zip(entries, other.entries).allSatisfy { $0.layer.isShapeCompatible(with: $1.layer) }
    }

    /// Describes the first place where two collections differ, or nil when equal.
    public func firstDifference(from other: LayerCollection) -> String? {
        for index in 0 ..< max(count, other.count) {
            switch (index < count ? entries[index] : nil, index < other.count ? other.entries[index] : nil) {
            case let (mine?, theirs?) where mine != theirs:
                return "layer \(index + 1) is '\(mine.name)' \(mine.layer) in the first and '\(theirs.name)' \(theirs.layer) in the second"
            case let (mine?, nil):
                return "layer \(index + 1) '\(mine.name)' is only in the first (the second has \(other.count) layers)"
            case let (nil, theirs?):
                return "layer \(index + 1) '\(theirs.name)' is only in the second (the first has \(count) layers)"
            default:
                continue
            }
        }
        return nil
    }

    /// Throws unless `other` is equal to this collection; `what` names the operation.
    public func requireEqual(to other: LayerCollection, for what: String) throws {
        if let difference = firstDifference(from: other) {
            throw CoreError(.mismatchedCollections,
                            "\(what): the operands are over different collections: \(difference); to operate on the layers they share, add layers=common (dot, axpy, mv, vtmv and solve take it; for u + v write axpy(1, v, u, layers=common))")
        }
    }

    /// The common layers of two collections for an explicit opt-in; none is an error.
    public func requireCommonLayers(with other: LayerCollection, for what: String) throws -> LayerCollection {
        let common = commonLayers(with: other)
        guard !common.isEmpty else {
            throw CoreError(.noCommonLayers, "\(what): the operands have no identical layer in common")
        }
        return common
    }
}
