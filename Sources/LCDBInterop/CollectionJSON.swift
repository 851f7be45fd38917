import Foundation
import LCDBCore

/// A collection as JSON, for exchange and review:
/// `{"name": "mlp", "layers": [{"name": "fc1", "kind": "Linear",
///   "hyperparameters": {"in_features": 784, "out_features": 256, "bias": true}}, ...]}`.
/// Kinds and hyperparameter names are PyTorch's; layers keep their order.
public enum CollectionJSON {
    public static func text(_ collection: LayerCollection, name: String) -> String {
        let layers = collection.entries.map { entry in
            "    {\"name\": \(JSONValue.quote(entry.name)), \"kind\": \"\(entry.layer.kind.rawValue)\", \"hyperparameters\": \(entry.layer.hyperparametersJSON)}"
        }
        return "{\n  \"name\": \(JSONValue.quote(name)),\n  \"layers\": [\n" + layers.joined(separator: ",\n") + "\n  ]\n}\n"
    }

    public static func write(_ collection: LayerCollection, name: String, to path: String) throws {
        try FileWriter.write(Data(text(collection, name: name).utf8), to: path)
    }

    public static func read(_ path: String) throws -> LayerCollection {
        let data = try FileRegion.contents(path)
        let root: JSONValue
        do { root = try JSONReader.parse([UInt8](data)) } catch let error as JSONReader.Error {
            throw InteropError(path, "invalid JSON: \(error)")
        }
        guard case .array(let layers)? = root["layers"] else { throw InteropError(path, "no \"layers\" array") }
        var collection = LayerCollection()
        for (index, item) in layers.enumerated() {
            guard let name = item["name"]?.string, let kindName = item["kind"]?.string else {
                throw InteropError(path, "layer \(index + 1) needs \"name\" and \"kind\"")
            }
            guard let kind = LayerKind(named: kindName) else {
                throw InteropError(path, "layer '\(name)': unknown kind '\(kindName)'\(NameSuggester.hint(for: kindName, among: LayerKind.allCases.map(\.rawValue)))")
            }
            guard case .object(let members)? = item["hyperparameters"] else {
                throw InteropError(path, "layer '\(name)' needs a \"hyperparameters\" object")
            }
            var keywords: [(name: String, value: HyperparameterValue)] = []
            for (key, value) in members {
                switch value {
                case .bool(let flag): keywords.append((key, .bool(flag)))
                case .array(let items):
                    let dims = items.compactMap(\.integer)
                    guard dims.count == items.count else { throw InteropError(path, "layer '\(name)': \(key) must hold integers") }
                    keywords.append((key, .shape(dims)))
                default:
                    guard let integer = value.integer else { throw InteropError(path, "layer '\(name)': \(key) must be an integer, a boolean or an array") }
                    keywords.append((key, .int(integer)))
                }
            }
            do {
                try collection.append(name, try Layer(kind, [], keywords: keywords))
            } catch let error as CoreError {
                throw InteropError(path, "layer '\(name)': \(error.message)")
            }
        }
        return collection
    }
}
