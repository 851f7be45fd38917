/// A user or data error from the core: something a person can correct.
///
/// Programmer errors use `precondition`; everything that can come from a user,
/// a script or a file throws a `CoreError` with a message that says what was
/// wrong and, where there is one, which layer.
public struct CoreError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case invalidSize
        case invalidArgument
        case duplicateName
        case unknownName
        case conflictingDefinition
        case mismatchedCollections
        case noCommonLayers
        case singularBlock
        case tooLarge
        case interrupted
        /// A file could not be read or written (a temporary file, the database).
        case io
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
