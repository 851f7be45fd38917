/// A problem with an input or output file, naming the file.
public struct InteropError: Error, Equatable, Sendable, CustomStringConvertible {
    public let file: String
    public let message: String

    public init(_ file: String, _ message: String) {
        self.file = file
        self.message = message
    }

    public var description: String { "\(file): \(message)" }
}
