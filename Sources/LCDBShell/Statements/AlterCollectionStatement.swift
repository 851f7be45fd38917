import LCDBCore
import LCDBStore

/// `alter collection NAME add LAYER KIND(...) [, ...]`, `... drop LAYER`,
/// `... rename LAYER to NEW`.
struct AlterCollectionStatement: Statement {
    enum Change {
        case add([(Located<String>, Layer)])
        case drop(Located<String>)
        case rename(Located<String>, Located<String>)
    }

    let name: Located<String>
    let change: Change

    static let definition = StatementDefinition(
        words: ["alter", "collection"],
        syntax: ["alter collection NAME add LAYER KIND(ARGS) [, LAYER KIND(ARGS) ...]",
                 "alter collection NAME drop LAYER",
                 "alter collection NAME rename LAYER to NEW"],
        summary: "Adds layers at the end, removes a layer or renames one. Adding or removing is refused while vectors or matrices use the collection.",
        example: "alter collection mlp add fc3 Linear(10, 10, bias=false);"
    ) { parser in
        let name = try parser.name("collection")
        switch try parser.expectKeyword("add", "drop", "rename") {
        case "add":
            var layers: [(Located<String>, Layer)] = []
            repeat { layers.append(try parser.layerDefinition()) } while parser.acceptSymbol(",")
            return AlterCollectionStatement(name: name, change: .add(layers))
        case "drop":
            return AlterCollectionStatement(name: name, change: .drop(try parser.name("layer")))
        default:
            let old = try parser.name("layer")
            _ = try parser.expectKeyword("to")
            return AlterCollectionStatement(name: name, change: .rename(old, try parser.name("layer")))
        }
    }

    func run(in session: Session) throws -> [ResultTable] {
        var collection: LayerCollection
        do { collection = try session.store.collection(named: name.value) } catch let error as StoreError {
            throw ShellError(error.message, at: name.location)
        }
        switch change {
        case .add(let layers):
            for (layerName, layer) in layers {
                do { try collection.append(layerName.value, layer) } catch let error as CoreError {
                    throw ShellError(error.message, at: layerName.location)
                }
            }
        case .drop(let layer):
            do { try collection.remove(layer.value) } catch let error as CoreError {
                throw ShellError(error.message, at: layer.location)
            }
        case .rename(let old, let new):
            do { try collection.rename(old.value, to: new.value) } catch let error as CoreError {
                throw ShellError(error.message, at: old.location)
            }
        }
        try ShellError.located(name.location) { try session.store.replaceCollection(name.value, with: collection) }
        return []
    }
}
