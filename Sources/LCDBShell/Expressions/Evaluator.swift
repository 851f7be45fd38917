import LCDBCore
import LCDBInterop
import LCDBStore

/// Evaluates expressions against a session's database.
///
/// Names resolve to a stored vector, then a stored matrix, then a stored
/// collection. Mixed float32/float64 operands give float64 results, except
/// products with a stored matrix, computed in the matrix's dtype.
public final class Evaluator {
    let session: Session
    var store: Store { session.store }

    /// Set by `let`: the name its result is stored as, and where its
    /// expression starts. A builder called as that whole expression checks
    /// the disk has room for its result before it reads any file.
    var storedAs: (name: String, location: SourceLocation)?

    init(session: Session) {
        self.session = session
    }

    /// Refuses, before any work, a result of `bytes` that `let` could not
    /// store (the call being the whole expression `let` stores).
    func requireRoomIfStored(_ args: CallArguments, bytes: Double) throws {
        guard let target = storedAs, target.location == args.location else { return }
        do {
            try store.requireSpace(for: bytes, "the result, matrix '\(target.name)',")
        } catch let error as StoreError {
            throw args.error(error.message)
        }
    }

    /// Current nesting of `evaluate`, capped like the parser's (`Expression.maxNesting`).
    private var depth = 0

    public func evaluate(_ expression: Expression) throws -> Value {
        guard depth <= Expression.maxNesting + 1 else {
            throw ShellError("expression nested more than \(Expression.maxNesting) levels deep", at: expression.location)
        }
        depth += 1
        defer { depth -= 1 }
        do {
            return try evaluateUnwrapped(expression)
        } catch let error as CoreError {
            throw ShellError(error.message, at: expression.location)
        } catch let error as StoreError {
            throw ShellError(error.message, at: expression.location)
        }
    }

    private func evaluateUnwrapped(_ expression: Expression) throws -> Value {
        switch expression {
        case .number(let value, _, _):
            return .number(value)
        case .name(let name, let location):
            return try resolve(name, at: location)
        case .call(let name, let arguments, let location):
            return try call(name, arguments, at: location)
        case .string(let text, _):
            return .word(text)
        case .tuple(_, let location):
            throw ShellError("a tuple is only allowed as a layer argument, such as kernel_size=(3, 3)", at: location)
        case .negate(let operand, let location):
            return try Arithmetic.scale(try evaluate(operand), by: -1, session: session, at: location)
        case .chain(let first, let links, _):
            var value = try evaluate(first)
            for link in links {
                try Interruption.check()
                if let product = try storedProduct(link, after: value) {
                    value = product
                    continue
                }
                value = try Arithmetic.apply(link.op, value, try evaluate(link.operand), session: session, at: link.location)
            }
            return value
        case .compare(let op, let left, let right, let location):
            return try ElementWise.compare(op, try evaluate(left), try evaluate(right), at: location)
        }
    }

    /// `M * v` with M a stored matrix in forms and v a stored vector's name,
    /// as `mv(M, v)` computes it: v read a layer at a time beside the blocks
    /// into the result's place, never whole (GPT-2: 1 GB less). Nil for
    /// anything else, which `Arithmetic` computes.
    private func storedProduct(_ link: Expression.Link, after value: Value) throws -> Value? {
        guard link.op == "*", case .matrix(let m) = value, case .name(let name, _) = link.operand,
              case .storedForms = m.origin, try store.kind(of: name) == "vector" else { return nil }
        session.noteInput("vector", name)
        return try MatrixOperations.storedProduct(m, vectorNamed: name, session: session)
    }

    /// `mv(M, v)` (positional arguments) or `M * v`, with M a stored matrix
    /// in forms and v a stored vector, as its operands (inputs noted); nil
    /// for any other expression.
    private func storedProductOperands(_ expression: Expression) throws -> StoredProduct? {
        let operands: (Expression, Expression)
        switch expression {
        case .call(let name, let arguments, _)
            where FunctionRegistry.function(named: name)?.name == "mv" && arguments.count == 2 && arguments.allSatisfy({ $0.label == nil }):
            operands = (arguments[0].value, arguments[1].value)
        case .chain(let first, let links, _) where links.count == 1 && links[0].op == "*":
            operands = (first, links[0].operand)
        default:
            return nil
        }
        guard case .name(let m, _) = operands.0, case .name(let v, _) = operands.1,
              try store.kind(of: m) == "matrix", try store.kind(of: v) == "vector", try !store.isWholeMatrix(m) else { return nil }
        let matrix = try storedMatrix(m)
        guard case .storedForms = matrix.origin else { return nil }
        session.noteInput("matrix", m)
        session.noteInput("vector", v)
        return StoredProduct(matrix: matrix, vector: v, expression: expression)
    }

    /// A stored vector, matrix or collection called `name`.
    func resolve(_ name: String, at location: SourceLocation) throws -> Value {
        let kind = try store.kind(of: name)
        if let kind { session.noteInput(kind, name) }
        switch kind {
        case "vector":
            return .vector(try store.vector(named: name), collectionName: try store.collectionName(ofVector: name))
        case "matrix":
            if try store.isWholeMatrix(name) {
                let stored = try store.matrix(named: name)
                var value = WholeMatrixValue(matrix: try store.loadWhole(named: name), collectionName: stored.collectionName, dtype: stored.dtype)
                value.storedName = name
                return .whole(value)
            }
            return .matrix(try storedMatrix(name))
        case "collection":
            return .collection(name)
        default:
            if let part = try LayerAccess.resolve(name, self, at: location) { return part }
            let hint = NameSuggester.hint(for: name, among: try store.allNames())
            throw ShellError("no vector, matrix or collection '\(name)'" + hint, at: location)
        }
    }

    func storedMatrix(_ name: String) throws -> MatrixValue {
        let stored = try store.matrix(named: name)
        return MatrixValue(origin: stored.isDense ? .stored(name) : .storedForms(name), collection: stored.collection,
                           collectionName: stored.collectionName, dtype: stored.dtype, isSymmetric: stored.symmetric)
    }

    func call(_ name: String, _ arguments: [Expression.Argument], at location: SourceLocation) throws -> Value {
        guard let spec = FunctionRegistry.function(named: name) else {
            let hint = NameSuggester.hint(for: name, among: FunctionRegistry.all.map(\.name))
            throw ShellError("unknown function '\(name)'\(hint) (see 'help functions')", at: location)
        }
        var values: [String: Value] = [:]
        let positional = arguments.filter { $0.label == nil }
        guard positional.count <= spec.parameters.count else {
            throw ShellError("\(spec.name) takes at most \(spec.parameters.count) arguments; usage: \(spec.usage)", at: location)
        }
        var given: [(FunctionSpec.Parameter, Expression.Argument)] = zip(spec.parameters, positional).map { ($0, $1) }
        for argument in arguments {
            guard let label = argument.label else { continue }
            guard let parameter = spec.parameters.first(where: { $0.name.lowercased() == label.lowercased() }) else {
                throw ShellError("\(spec.name) has no argument '\(label)'; usage: \(spec.usage)", at: argument.location)
            }
            guard !given.contains(where: { $0.0.name == parameter.name }) else {
                throw ShellError("\(spec.name): argument '\(parameter.name)' given twice", at: argument.location)
            }
            given.append((parameter, argument))
        }
        var storedVectors: [String: String] = [:]
        var storedProducts: [String: StoredProduct] = [:]
        for (parameter, argument) in given {
            if parameter.mayStayProduct, let product = try storedProductOperands(argument.value) {
                storedProducts[parameter.name] = product
                continue
            }
            if parameter.mayStayStored, case .name(let name, _) = argument.value, try store.kind(of: name) == "vector" {
                session.noteInput("vector", name)
                storedVectors[parameter.name] = name
                continue
            }
            values[parameter.name] = try argumentValue(argument.value, as: parameter, of: spec)
        }
        for parameter in spec.parameters where values[parameter.name] == nil && storedVectors[parameter.name] == nil
            && storedProducts[parameter.name] == nil {
            guard let defaultValue = parameter.defaultValue else {
                throw ShellError("\(spec.name): missing argument '\(parameter.name)'; usage: \(spec.usage)", at: location)
            }
            values[parameter.name] = defaultValue
        }
        var bound = CallArguments(function: spec.name, values: values, location: location)
        bound.storedVectors = storedVectors
        bound.readStored = { [unowned self] name in try resolve(name, at: location) }
        bound.storedProducts = storedProducts
        bound.compute = { [unowned self] expression in try evaluate(expression) }
        do {
            return try spec.body(bound, self)
        } catch {
            throw bound.located(error)
        }
    }

    /// `name: message`, unless the message already starts with the operation's name.
    static func prefixed(_ name: String, _ message: String) -> String {
        message.hasPrefix("\(name):") ? message : "\(name): \(message)"
    }

    private func argumentValue(_ expression: Expression, as parameter: FunctionSpec.Parameter,
                               of spec: FunctionSpec) throws -> Value {
        let what = "\(spec.name): \(parameter.name)"
        switch parameter.type {
        case .collection:
            guard case .name(let name, let location) = expression else {
                throw ShellError("\(what) must be a collection name", at: expression.location)
            }
            guard try store.collectionNames().contains(name) else {
                let hint = NameSuggester.hint(for: name, among: try store.collectionNames())
                throw ShellError("no collection '\(name)'\(hint)", at: location)
            }
            session.noteInput("collection", name)
            return .collection(name)
        case .choice(let options):
            guard case .name(let word, let location) = expression, options.contains(word.lowercased()) else {
                throw ShellError("\(what) must be one of \(options.joined(separator: ", "))", at: expression.location)
            }
            _ = location
            return .word(word.lowercased())
        case .norm:
            switch expression {
            case .number(let p, _, _) where p == 1 || p == 2: return .word(p == 1 ? "1" : "2")
            case .name(let word, _) where word.lowercased() == "inf": return .word("inf")
            default: throw ShellError("\(what) must be 1, 2 or inf", at: expression.location)
            }
        case .name:
            guard case .name(let name, let location) = expression else {
                throw ShellError("\(what) must be a name", at: expression.location)
            }
            guard try store.kind(of: name) != nil else {
                throw ShellError("no vector, matrix or collection '\(name)'" + NameSuggester.hint(for: name, among: try store.allNames()), at: location)
            }
            return .word(name)
        case .text:
            switch expression {
            case .string(let text, _), .name(let text, _): return .word(text)
            default: throw ShellError("\(what) must be a name or a quoted text ('layer1.*')", at: expression.location)
            }
        case .number, .vector, .matrix, .anyMatrix, .object, .anyObject, .numeric:
            let value = try evaluate(expression)
            switch (parameter.type, value) {
            case (.number, .number), (.vector, .vector), (.matrix, .matrix), (.object, .vector), (.object, .matrix),
                 (.numeric, .vector), (.numeric, .number), (.anyMatrix, .matrix), (.anyMatrix, .whole),
                 (.anyObject, .vector), (.anyObject, .matrix), (.anyObject, .whole):
                return value
            case (.matrix, .whole(let whole)), (.object, .whole(let whole)):
                throw ShellError("\(what) is a \(whole.matrix.kindName) matrix, which spans layers: \(spec.name) works block by block and does not take it (such matrices take \(WholeMatrixValue.supported))",
                                 at: expression.location)
            default:
                let expected = switch parameter.type {
                case .number: "a number"
                case .vector: "a vector"
                case .matrix, .anyMatrix: "a matrix"
                case .numeric: "a vector or a number"
                default: "a vector or a matrix"
                }
                throw ShellError("\(what) must be \(expected), not \(value.kindName)", at: expression.location)
            }
        }
    }
}
