/// An error in a statement, with the place it points at when known.
public struct ShellError: Error, Equatable, Sendable, CustomStringConvertible {
    public let message: String
    public let location: SourceLocation?

    public init(_ message: String, at location: SourceLocation? = nil) {
        self.message = message
        self.location = location
    }

    public var description: String { message }
}

extension ShellError {
    /// Runs `body`, giving core and store errors the location `location`.
    static func located<T>(_ location: SourceLocation, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as ShellError {
            throw error
        } catch let error as CustomStringConvertible & Error {
            throw ShellError(error.description, at: location)
        }
    }
}
