import Foundation
import LCDBCore
import LCDBStore

/// One open database and the shell's settings: what a statement runs against.
public final class Session {
    public let store: Store
    public var format: OutputFormat
    public var timer = false
    public var echo = false
    /// Where results go (standard output unless `.output`/`.once` redirect them).
    var output: OutputSink = .standardOutput
    /// `.once FILE`: redirect only the next statement's results.
    var onceTarget: String?
    /// True on a terminal: progress for long operations goes to standard error.
    public var showsProgress = false
    /// Where the open `begin` was, if a transaction is open.
    var openTransaction: SourceLocation?
    /// The statement running, as typed (recorded as provenance).
    var statementText = ""
    /// The stored objects it has read so far (its provenance's inputs).
    var inputs: [ObjectIdentity] = []

    /// A line on standard error that is not an error (`note: ...`): what a
    /// statement did that its result does not show.
    func note(_ message: String) {
        FileHandle.standardError.write(Data("note: \(message)\n".utf8))
    }

    /// Notes that the running statement read the stored object `name`.
    func noteInput(_ kind: String, _ name: String) {
        guard !inputs.contains(where: { $0.kind == kind && $0.name == name }),
              let identity = try? store.identity(of: kind, name) else { return }
        inputs.append(identity)
    }

    /// Runs `body`, which stores `name`, and records the running statement as
    /// how `name` was made, in one transaction (both or neither). The inputs'
    /// content hashes are taken first, before the result can replace one of
    /// them (`let x = 2 * x`).
    func storing<T>(_ name: String, _ body: () throws -> T) throws -> T {
        try store.atomically {
            let hashed = try store.withContentHashes(inputs)
            let result = try body()
            try store.recordProvenance(of: name, statement: statementText, version: ShellMain.version, inputs: hashed)
            return result
        }
    }

    /// The statement as typed, without the comment lines a script puts
    /// before it (they belong to the script, not to the provenance).
    static func withoutLeadingComments(_ text: String) -> String {
        var lines = text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n", omittingEmptySubsequences: false)
        while let first = lines.first, first.trimmingCharacters(in: .whitespaces).hasPrefix("--") || first.trimmingCharacters(in: .whitespaces).isEmpty {
            lines.removeFirst()
        }
        return lines.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    public init(store: Store, format: OutputFormat) {
        self.store = store
        self.format = format
    }

    /// Parses and runs one statement; returns what it prints.
    public func run(statement text: String, start: SourceLocation = SourceLocation(line: 1, column: 1)) throws -> [ResultTable] {
        statementText = Session.withoutLeadingComments(text)
        inputs = []
        if let query = try SQLStatement(text: text, start: start) { return try query.run(in: self) }
        let tokens = try Lexer.tokens(of: text, start: start)
        var parser = Parser(tokens)
        let statement = try StatementRegistry.parse(&parser)
        // A stored matrix in forms is read once per statement, however many
        // operations (or blocks of a lazy sum) use it.
        return try store.withFormsCache { try statement.run(in: self) }
    }

    /// Writes results in the current format to the current output.
    func emit(_ results: [ResultTable]) throws {
        var sink = output
        if let once = onceTarget {
            sink = try .file(once, append: false)
            onceTarget = nil
        }
        for result in results { try sink.write(format.render(result)) }
    }

    /// Reports progress of a long operation on standard error (terminal only),
    /// at most a few times a second and only after the first second.
    func progressReporter(_ what: String) -> ((Int, Int) -> Void)? {
        guard showsProgress else { return nil }
        let started = Date()
        var lastReport = Date.distantPast
        // Shown after a second (LCDB_PROGRESS_AFTER sets it: a knob for tests).
        let delay = ProcessInfo.processInfo.environment["LCDB_PROGRESS_AFTER"].flatMap(Double.init) ?? 1
        return { done, total in
            let now = Date()
            guard now.timeIntervalSince(started) >= delay, now.timeIntervalSince(lastReport) > 0.25 || done == total else { return }
            lastReport = now
            let percent = total > 0 ? done * 100 / total : 100
            // Erased to the end of the line: two reports can share it (a dense
            // Fisher's workers reading while let stores the finished blocks).
            FileHandle.standardError.write(Data("\r\(what): \(percent)%\u{1B}[K\(done == total ? "\n" : "")".utf8))
        }
    }
}

/// Where results are written.
enum OutputSink {
    case standardOutput
    case file(FileHandle, path: String)

    static func file(_ path: String, append: Bool) throws -> OutputSink {
        if !append || !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw ShellError("cannot write to '\(path)'")
            }
        }
        guard let handle = FileHandle(forWritingAtPath: path) else { throw ShellError("cannot write to '\(path)'") }
        if append { handle.seekToEndOfFile() }
        return .file(handle, path: path)
    }

    func write(_ text: String) throws {
        switch self {
        case .standardOutput: FileHandle.standardOutput.write(Data(text.utf8))
        case .file(let handle, _): handle.write(Data(text.utf8))
        }
    }
}
