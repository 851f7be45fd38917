import LCDBCore

/// `diff A B`: what changes from collection A to collection B.
struct DiffStatement: Statement {
    let first: Located<String>
    let second: Located<String>

    static let definition = StatementDefinition(
        words: ["diff"],
        syntax: ["diff A B"],
        summary: "Compares two collections by layer name: added, removed, renamed (same position and definition, new name) and changed layers with each changed field old -> new.",
        example: "diff resnet18 resnet18_cifar;"
    ) { parser in
        let first = try parser.name("collection")
        _ = parser.acceptSymbol(",") || parser.acceptKeyword("to")
        return DiffStatement(first: first, second: try parser.name("collection"))
    }

    func run(in session: Session) throws -> [ResultTable] {
        let a = try ShellError.located(first.location) { try session.store.collection(named: first.value) }
        let b = try ShellError.located(second.location) { try session.store.collection(named: second.value) }
        let diff = a.diff(to: b)
        var rows: [[ResultTable.Cell]] = []
        for entry in diff.removed { rows.append([.text("removed"), .text(entry.name), .text("layer"), .text(entry.layer.description), .null]) }
        for entry in diff.added { rows.append([.text("added"), .text(entry.name), .text("layer"), .null, .text(entry.layer.description)]) }
        for pair in diff.renamed { rows.append([.text("renamed"), .text(pair.old.name), .text("name"), .text(pair.old.name), .text(pair.new.name)]) }
        for layer in diff.changed {
            for change in layer.changes {
                rows.append([.text("changed"), .text(layer.name), .text(change.field), .text(change.old), .text(change.new)])
            }
        }
        if diff.reordered {
            let span = diff.reorderedSpan
            rows.append([.text("reordered"), .null, .text("order"), .text(span.old), .text(span.new)])
        }
        let note = diff.isEmpty ? "'\(first.value)' and '\(second.value)' are identical"
            : "\(diff.added.count) added, \(diff.removed.count) removed, \(diff.renamed.count) renamed, \(diff.changed.count) changed\(diff.reordered ? ", order changed" : "")"
        return [ResultTable(columns: ["change", "layer", "field", "old", "new"], rows: rows, note: note)]
    }
}
