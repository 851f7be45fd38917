/// Binds constructor arguments to a kind's signature, as Python binds a call.
struct LayerArgumentBinder {
    let kind: LayerKind

    func bind(positional: [HyperparameterValue],
              keywords: [(name: String, value: HyperparameterValue)]) throws -> [HyperparameterValue] {
        let signature = kind.signature
        var given = [HyperparameterValue?](repeating: nil, count: signature.count)

        if kind == .parameter, positional.count > 1 || positional.first.map(isInt) == true {
            // Parameter(3, 4): the positional sizes are the shape.
            var dims: [Int] = []
            for value in positional {
                guard case .int(let dim) = value else {
                    throw error("sizes must be integers, got \(value)")
                }
                dims.append(dim)
            }
            given[0] = .shape(dims)
        } else {
            guard positional.count <= signature.count else {
                throw error("takes at most \(signature.count) positional argument\(signature.count == 1 ? "" : "s"), got \(positional.count)")
            }
            for (index, value) in positional.enumerated() { given[index] = value }
        }

        for (name, value) in keywords {
            guard let index = signature.firstIndex(where: { $0.name == name }) else {
                let known = signature.map(\.name).joined(separator: ", ")
                throw error("unknown argument '\(name)' (arguments: \(known))")
            }
            guard given[index] == nil else { throw error("argument '\(name)' given twice") }
            given[index] = value
        }

        return try zip(signature, given).map { spec, value in
            guard let value = value ?? spec.defaultValue else {
                throw error("missing argument '\(spec.name)'; usage: \(kind.usage)")
            }
            return try coerce(value, to: spec)
        }
    }

    private func isInt(_ value: HyperparameterValue) -> Bool {
        if case .int = value { return true }
        return false
    }

    private func coerce(_ value: HyperparameterValue, to spec: HyperparameterSpec) throws -> HyperparameterValue {
        switch (spec.type, value) {
        case (.bool, .bool):
            return value
        case (.bool, _):
            throw error("\(spec.name) must be true or false, got \(value)")
        case (.size, .int(let size)):
            try checkPositive(size, spec.name)
            return value
        case (.size, _):
            throw error("\(spec.name) must be a positive integer, got \(value)")
        case (.pair, .int(let size)):
            try checkPositive(size, spec.name)
            return .shape([size, size])
        case (.pair, .shape(let dims)) where dims.count == 2:
            for dim in dims { try checkPositive(dim, spec.name) }
            return value
        case (.pair, _):
            throw error("\(spec.name) must be a positive integer or a pair (h, w), got \(value)")
        case (.shape, .int(let size)):
            try checkPositive(size, spec.name)
            return .shape([size])
        case (.shape, .shape(let dims)) where !dims.isEmpty:
            for dim in dims { try checkPositive(dim, spec.name) }
            return value
        case (.shape, _):
            throw error("\(spec.name) must be a positive integer or a non-empty tuple of them, got \(value)")
        }
    }

    private func checkPositive(_ size: Int, _ name: String) throws {
        guard size > 0 else {
            throw CoreError(.invalidSize, "\(kind.rawValue): \(name) must be a positive integer, got \(size)")
        }
    }

    private func error(_ message: String) -> CoreError {
        CoreError(.invalidArgument, "\(kind.rawValue): \(message)")
    }
}
