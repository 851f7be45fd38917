import Foundation
import LCDBCore

/// Reads the `hyperparameters` JSON text of a layer row: an object whose
/// values are integers, booleans or arrays of integers.
enum HyperparameterJSON {
    private enum Value: Decodable {
        case bool(Bool)
        case int(Int)
        case ints([Int])

        init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let value = try? container.decode(Bool.self) {
                self = .bool(value)
            } else if let value = try? container.decode(Int.self) {
                self = .int(value)
            } else {
                self = .ints(try container.decode([Int].self))
            }
        }
    }

    static func decode(_ text: String) throws -> [(name: String, value: HyperparameterValue)] {
        let object: [String: Value]
        do {
            object = try JSONDecoder().decode([String: Value].self, from: Data(text.utf8))
        } catch {
            throw StoreError(.corrupt, "invalid hyperparameters JSON \(text.debugDescription)")
        }
        return object.sorted { $0.key < $1.key }.map { name, value in
            switch value {
            case .bool(let flag): (name, .bool(flag))
            case .int(let size): (name, .int(size))
            case .ints(let dims): (name, .shape(dims))
            }
        }
    }
}
