/// The changes from one collection to another, by layer name (and renames
/// in place, by position and definition).
public struct CollectionDiff: Equatable, Sendable {
    public struct Change: Equatable, Sendable {
        /// `kind`, or a hyperparameter name such as `out_features`.
        public let field: String
        public let old: String
        public let new: String
    }

    public struct ChangedLayer: Equatable, Sendable {
        public let name: String
        public let old: Layer
        public let new: Layer
        public let changes: [Change]
    }

    /// A layer whose name changed: the same position in both collections and
    /// an identical definition, under a name each collection has alone.
    public struct RenamedLayer: Equatable, Sendable {
        public let old: LayerCollection.Entry
        public let new: LayerCollection.Entry
    }

    /// Layers only in the second collection, in its order (renamed ones aside).
    public let added: [LayerCollection.Entry]
    /// Layers only in the first collection, in its order (renamed ones aside).
    public let removed: [LayerCollection.Entry]
    /// Layers renamed in place, in the first collection's order. A layer that
    /// also moved or changed is reported as removed plus added instead: names
    /// alone cannot tell which of several identical layers it became.
    public let renamed: [RenamedLayer]
    /// Layers in both under the same name, with a different definition.
    public let changed: [ChangedLayer]
    /// True when the layers in both appear in a different relative order
    /// (so their offsets differ even if nothing else changed).
    public let reordered: Bool
    /// The layers in both, in the first collection's order and in the second's.
    public let sharedInOldOrder: [String], sharedInNewOrder: [String]

    public var isEmpty: Bool { added.isEmpty && removed.isEmpty && renamed.isEmpty && changed.isEmpty && !reordered }

    init(from old: LayerCollection, to new: LayerCollection) {
        let onlyNew = new.entries.enumerated().filter { !old.contains($0.element.name) }
        let onlyOld = old.entries.enumerated().filter { !new.contains($0.element.name) }
        let newAt = Dictionary(uniqueKeysWithValues: onlyNew.map { ($0.offset, $0.element) })
        renamed = onlyOld.compactMap { position, entry in
            guard let other = newAt[position], other.layer == entry.layer else { return nil }
            return RenamedLayer(old: entry, new: other)
        }
        let renamedOld = Set(renamed.map(\.old.name)), renamedNew = Set(renamed.map(\.new.name))
        added = onlyNew.map(\.element).filter { !renamedNew.contains($0.name) }
        removed = onlyOld.map(\.element).filter { !renamedOld.contains($0.name) }
        changed = old.entries.compactMap { entry in
            guard let other = new.entry(named: entry.name), other.layer != entry.layer else { return nil }
            return ChangedLayer(name: entry.name, old: entry.layer, new: other.layer,
                                changes: CollectionDiff.changes(from: entry.layer, to: other.layer))
        }
        let sharedInOldOrder = old.names.filter { new.contains($0) }
        let sharedInNewOrder = new.names.filter { old.contains($0) }
        reordered = sharedInOldOrder != sharedInNewOrder
        self.sharedInOldOrder = sharedInOldOrder
        self.sharedInNewOrder = sharedInNewOrder
    }

    /// The part of the two orders that differs (the common start and end
    /// elided), e.g. `fc1, fc2` and `fc2, fc1` for a swap in a long list.
    public var reorderedSpan: (old: String, new: String) {
        let (old, new) = (sharedInOldOrder, sharedInNewOrder)
        var first = 0
        while first < old.count, old[first] == new[first] { first += 1 }
        var last = old.count - 1
        while last > first, old[last] == new[last] { last -= 1 }
        guard first <= last else { return ("", "") }
        func span(_ names: [String]) -> String {
            (first > 0 ? "..., " : "") + names[first ... last].joined(separator: ", ") + (last < names.count - 1 ? ", ..." : "")
        }
        return (span(old), span(new))
    }

    static func changes(from old: Layer, to new: Layer) -> [Change] {
        var result: [Change] = []
        if old.kind != new.kind {
            result.append(Change(field: "kind", old: old.kind.rawValue, new: new.kind.rawValue))
        }
        let newValues = Dictionary(new.namedHyperparameters.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
        let oldNames = Set(old.namedHyperparameters.map(\.name))
        for (name, value) in old.namedHyperparameters {
            let other = newValues[name]
            if other != value {
                result.append(Change(field: name, old: value.description, new: other?.description ?? "(none)"))
            }
        }
        for (name, value) in new.namedHyperparameters where !oldNames.contains(name) {
            result.append(Change(field: name, old: "(none)", new: value.description))
        }
        return result
    }
}
