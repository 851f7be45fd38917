import LCDBCore
import LCDBInterop
import LCDBStore

/// A function of the expression language: its signature (which drives
/// argument binding, `help` and completion) and its body.
public struct FunctionSpec: Sendable {
    public enum ArgumentType: Sendable, Equatable {
        /// The name of a stored collection.
        case collection
        case vector
        case matrix
        /// A matrix with per-layer blocks or a low-rank one (the functions that take both).
        case anyMatrix
        case number
        /// A vector or a matrix.
        case object
        /// A vector, a matrix or a low-rank matrix (`compare`).
        case anyObject
        /// A vector or a number (element-wise functions).
        case numeric
        /// A bare word or a quoted text, not resolved (a layer name, `'layer1.*'`).
        case text
        /// The bare name of a stored object, not resolved (nothing is read).
        case name
        /// One of these bare words.
        case choice([String])
        /// 1, 2 or inf.
        case norm
    }

    public struct Parameter: Sendable {
        public let name: String
        public let type: ArgumentType
        public let defaultValue: Value?
        /// A `.vector` parameter given a stored vector's name is not read
        /// when the call is bound: the body may read it its own way
        /// (`CallArguments.storedVector`); `vector(_:)` reads it whole.
        public let mayStayStored: Bool
        /// A `.vector` parameter given `mv(M, v)` or `M * v`, with M a
        /// stored matrix in forms and v a stored vector's name, is not
        /// computed when the call is bound: the body may reduce the product
        /// as it streams (`CallArguments.storedProduct`); `vector(_:)`
        /// computes it whole.
        public let mayStayProduct: Bool

        init(_ name: String, _ type: ArgumentType, default defaultValue: Value? = nil, mayStayStored: Bool = false,
             mayStayProduct: Bool = false) {
            self.name = name
            self.type = type
            self.defaultValue = defaultValue
            self.mayStayStored = mayStayStored
            self.mayStayProduct = mayStayProduct
        }
    }

    public let name: String
    public let parameters: [Parameter]
    public let summary: String
    public let example: String
    let body: @Sendable (CallArguments, Evaluator) throws -> Value

    /// `mv(M, v, layers=identical)`
    public var usage: String {
        let parts = parameters.map { parameter -> String in
            guard let value = parameter.defaultValue else { return parameter.name }
            switch value {
            case .number(let number): return "\(parameter.name)=\(ResultTable.format(number))"
            case .word(let word): return "\(parameter.name)=\(word)"
            default: return parameter.name
            }
        }
        return "\(name)(\(parts.joined(separator: ", ")))"
    }

    static let dtype = Parameter("dtype", .choice(["float64", "float32"]), default: .word("float64"))
    static let layers = Parameter("layers", .choice(["identical", "common"]), default: .word("identical"))
}

/// A call's arguments after binding, by parameter name.
public struct CallArguments {
    let function: String
    let values: [String: Value]
    let location: SourceLocation
    /// Arguments naming stored vectors not read yet (`Parameter.mayStayStored`),
    /// by parameter, and how to read one.
    var storedVectors: [String: String] = [:]
    var readStored: (String) throws -> Value = { _ in .number(0) }
    /// Arguments left as a product of stored operands (`Parameter.mayStayProduct`),
    /// by parameter, and how to compute one whole.
    var storedProducts: [String: StoredProduct] = [:]
    var compute: (Expression) throws -> Value = { _ in .number(0) }

    /// The stored vector's name when the argument was left unread.
    func storedVector(_ name: String) -> String? { storedVectors[name] }

    /// The stored matrix and vector when the argument was left a product.
    func storedProduct(_ name: String) -> StoredProduct? { storedProducts[name] }

    func error(_ message: String) -> ShellError { ShellError("\(function): \(message)", at: location) }

    /// An error of the core, the store or a file, as the call's error (the
    /// function's name before it, located at the call); others unchanged.
    /// Also for errors found after the call returned, by work it started
    /// (`FisherStream`'s workers).
    func located(_ error: any Error) -> any Error {
        switch error {
        case let error as CoreError: ShellError(Evaluator.prefixed(function, error.message), at: location)
        case let error as StoreError: ShellError(Evaluator.prefixed(function, error.message), at: location)
        case let error as InteropError: ShellError(Evaluator.prefixed(function, error.description), at: location)
        default: error
        }
    }

    func number(_ name: String) throws -> Double {
        guard case .number(let value)? = values[name] else { throw error("\(name) must be a number") }
        return value
    }

    func seed(_ name: String) throws -> UInt64 {
        let value = try number(name)
        guard value >= 0, value == value.rounded(), let seed = UInt64(exactly: value) else {
            throw error("\(name) must be a non-negative integer, got \(ResultTable.format(value))")
        }
        return seed
    }

    func vector(_ name: String) throws -> (vector: AnyParameterVector, collectionName: String?) {
        let value = try storedVectors[name].map(readStored) ?? storedProducts[name].map { try compute($0.expression) } ?? values[name]
        guard case .vector(let vector, let collectionName)? = value else { throw error("\(name) must be a vector") }
        return (vector, collectionName)
    }

    /// The argument when it is a low-rank matrix (an `.anyMatrix` parameter).
    func whole(_ name: String) -> WholeMatrixValue? {
        guard case .whole(let value)? = values[name] else { return nil }
        return value
    }

    func matrix(_ name: String) throws -> MatrixValue {
        guard case .matrix(let matrix)? = values[name] else { throw error("\(name) must be a matrix") }
        return matrix
    }

    func collection(_ name: String) throws -> String {
        guard case .collection(let collection)? = values[name] else { throw error("\(name) must be a collection") }
        return collection
    }

    func name(_ parameter: String) throws -> String {
        guard case .word(let word)? = values[parameter] else { throw error("\(parameter) must be a name") }
        return word
    }

    func word(_ name: String) -> String? {
        if case .word(let word)? = values[name] { return word }
        return nil
    }

    var dtype: DType { word("dtype").flatMap(DType.init(name:)) ?? .float64 }
    var matching: LayerMatching { word("layers") == "common" ? .common : .identical }
    func value(_ name: String) -> Value? { values[name] }
}

/// `mv(M, v)` or `M * v` with M a stored matrix in forms and v a stored
/// vector's name, as written (`expression`) and as its operands.
struct StoredProduct {
    let matrix: MatrixValue
    let vector: String
    let expression: Expression
}
