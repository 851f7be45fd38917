import Foundation
import LCDBCore
import LCDBStore

/// Runs statements from scripts, `-c` text, standard input or the
/// interactive prompt, reports errors with their place, and tracks the exit status.
public final class Shell {
    public let session: Session
    /// Keep running a script after an error (`--keep-going`, `.bail off`).
    public var keepGoing = false
    /// Set by any failed statement: the exit status is non-zero.
    public private(set) var hadError = false
    /// Set by `.quit`.
    public private(set) var quitRequested = false
    private var readDepth = 0
    /// Folders of the script files being run, innermost last: `.read` resolves
    /// a relative path against the folder of the script that contains it.
    private var scriptFolders: [String] = []
    static let maxReadDepth = 25

    public init(session: Session) {
        self.session = session
    }

    /// Runs a whole script. `source` names it in errors (a path, "-c" or
    /// "standard input"). Returns false when it stopped at an error.
    @discardableResult
    public func runScript(_ text: String, source: String) -> Bool {
        var splitter = StatementSplitter()
        let isFile = FileManager.default.fileExists(atPath: source)
        if isFile { scriptFolders.append((source as NSString).deletingLastPathComponent) }
        defer { if isFile { scriptFolders.removeLast() } }
        let lines = Shell.lines(of: text)
        let context = ErrorContext(source: source, lines: lines)
        for line in lines {
            for piece in splitter.feed(line) {
                if interruptedInBatch() || !execute(piece, context: context) && !keepGoing || interruptedInBatch() { return false }
                if quitRequested { return true }
            }
        }
        if let rest = splitter.finish() {
            if interruptedInBatch() || !execute(rest, context: context) && !keepGoing || interruptedInBatch() { return false }
        }
        return true
    }

    /// A script's lines: a leading UTF-8 byte order mark dropped, and lines
    /// ending in CR LF (Windows) split like LF ones (Swift sees "\r\n" as one
    /// character, so splitting on "\n" alone left such a script one line).
    static func lines(of text: String) -> [String] {
        var body = Substring(text)
        if body.hasPrefix("\u{FEFF}") { body = body.dropFirst() }
        return body.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).map(String.init)
    }

    /// Where a statement came from, for error messages.
    struct ErrorContext {
        /// nil at the interactive prompt.
        let source: String?
        let lines: [String]
    }

    /// Rolls back a transaction left open by `begin` and says so on standard
    /// error; true if there was one.
    @discardableResult
    public func rollBackOpenTransaction() -> Bool {
        guard let open = session.openTransaction else { return false }
        session.openTransaction = nil
        var message = "lcdb: the transaction begun on line \(open.line) was not committed: rolled back, nothing since begin was stored\n"
        do { try session.store.endBatch(commit: false) } catch { message += "lcdb: \(error)\n" }
        FileHandle.standardError.write(Data(message.utf8))
        return true
    }

    /// True once Ctrl-C stopped a batch run (`BatchInterrupt`), which then
    /// counts as failed (a --single-transaction run is rolled back).
    private func interruptedInBatch() -> Bool {
        guard BatchInterrupt.isRequested else { return false }
        hadError = true
        return true
    }

    /// Runs one statement or meta-command; prints its results or its error.
    @discardableResult
    func execute(_ piece: StatementSplitter.Piece, context: ErrorContext) -> Bool {
        Interruption.clear()
        if session.echo { try? session.emit([.message(piece.text)]) }
        let started = Date()
        do {
            if piece.isMetaCommand {
                try runMetaCommand(piece)
            } else {
                try session.emit(try session.run(statement: piece.text, start: piece.start))
            }
            // Statements are timed, not dot-commands (`.timer on` does not time itself).
            if session.timer && !piece.isMetaCommand {
                try session.emit([.message(String(format: "Run Time: real %.3f s", Date().timeIntervalSince(started)))])
            }
            return true
        } catch {
            report(error, piece: piece, context: context)
            hadError = true
            return false
        }
    }

    private func report(_ error: Error, piece: StatementSplitter.Piece, context: ErrorContext) {
        var message: String
        var location: SourceLocation? = piece.start
        switch error {
        case let error as ShellError:
            message = error.message
            location = error.location ?? piece.start
        case let error as CoreError:
            message = error.message
        case let error as StoreError:
            message = error.message
        default:
            message = "\(error)"
        }
        if Interruption.isRequested { message = "interrupted; nothing was changed" }
        message = Shell.elided(message, keeping: 600)
        var text: String
        if let source = context.source, let location {
            text = "\(source):\(location.line):\(location.column): error: \(message)\n"
        } else {
            text = "error: \(message)\n"
        }
        if let location, location.line >= 1, location.line <= context.lines.count {
            let (line, caret) = Shell.excerpt(context.lines[location.line - 1], column: location.column)
            text += "  \(line)\n  \(String(repeating: " ", count: caret))^\n"
        }
        FileHandle.standardError.write(Data(text.utf8))
    }

    /// At most `width` characters of `line` around `column` (1-based), with
    /// `...` where it was cut, and the caret's offset in the excerpt: a
    /// 100 KB line no longer prints 200 KB of error.
    static func excerpt(_ line: String, column: Int, width: Int = 120) -> (String, Int) {
        let characters = Array(line)
        let index = max(0, min(characters.count, column - 1))
        // The caret's offset is in terminal columns (a wide character before it takes two).
        guard characters.count > width else { return (line, TerminalWidth.of(String(characters[..<index]))) }
        let start = max(0, min(index - width / 2, characters.count - width))
        let end = min(characters.count, start + width)
        let prefix = start > 0 ? "..." : ""
        let suffix = end < characters.count ? "..." : ""
        return (prefix + String(characters[start ..< end]) + suffix,
                prefix.count + TerminalWidth.of(String(characters[start ..< index])))
    }

    /// A message of at most `limit` characters, its middle elided (a long name repeated in it).
    static func elided(_ message: String, keeping limit: Int) -> String {
        guard message.count > limit else { return message }
        let half = limit / 2
        return String(message.prefix(half)) + " ... (\(message.count - limit) characters elided) ... " + String(message.suffix(half))
    }

    private func runMetaCommand(_ piece: StatementSplitter.Piece) throws {
        let words = piece.text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard let command = words.first?.lowercased() else { return }
        let argument = words.dropFirst().joined(separator: " ")
        func onOff() throws -> Bool {
            switch argument.lowercased() {
            case "on", "yes", "1": return true
            case "off", "no", "0": return false
            default: throw ShellError("\(command) takes on or off", at: piece.start)
            }
        }
        switch command {
        case ".read":
            guard !argument.isEmpty else { throw ShellError(".read needs a file name", at: piece.start) }
            try read(file: Shell.unquote(argument), at: piece.start)
        case ".format", ".mode":
            guard let format = OutputFormat(rawValue: argument.lowercased()) else {
                throw ShellError("\(command) takes one of \(OutputFormat.allCases.map(\.rawValue).joined(separator: ", "))", at: piece.start)
            }
            session.format = format
        case ".timer": session.timer = try onOff()
        case ".echo": session.echo = try onOff()
        case ".bail": keepGoing = !(try onOff())
        case ".output":
            session.output = argument.isEmpty ? .standardOutput : try .file(Shell.unquote(argument), append: false)
        case ".once":
            guard !argument.isEmpty else { throw ShellError(".once needs a file name", at: piece.start) }
            session.onceTarget = Shell.unquote(argument)
        case ".tables":
            let names = try ShellError.located(piece.start) { try session.store.tableNames() }
            try session.emit([ResultTable(columns: ["name", "type"], rows: names.map { [.text($0.name), .text($0.type)] })])
        case ".schema":
            let name = argument.isEmpty ? nil : Shell.unquote(argument)
            let sql = try ShellError.located(piece.start) { try session.store.schemaSQL(named: name) }
            if let name, sql.isEmpty {
                let hint = NameSuggester.hint(for: name, among: try session.store.tableNames().map(\.name))
                throw ShellError("no table or view '\(name)'\(hint)", at: piece.start)
            }
            try session.emit([.message(sql.joined(separator: "\n"))])
        case ".help": try session.emit([.message(MetaCommands.help)])
        case ".quit", ".exit": quitRequested = true
        default:
            let hint = NameSuggester.hint(for: command, among: MetaCommands.names)
            throw ShellError("unknown command '\(command)'\(hint); type .help for the list", at: piece.start)
        }
    }

    /// `.read FILE`: nested scripts, capped so a file that reads itself stops.
    /// A relative FILE is looked up beside the script that reads it, then in
    /// the current folder.
    private func read(file path: String, at location: SourceLocation) throws {
        guard readDepth < Shell.maxReadDepth else {
            throw ShellError(".read is nested more than \(Shell.maxReadDepth) deep (does a script read itself?)", at: location)
        }
        var path = path
        if !path.hasPrefix("/"), let folder = scriptFolders.last, !folder.isEmpty {
            let beside = (folder as NSString).appendingPathComponent(path)
            if FileManager.default.fileExists(atPath: beside) { path = beside }
        }
        let text = try Shell.readScript(path)
        readDepth += 1
        defer { readDepth -= 1 }
        if !runScript(text, source: path) {
            throw ShellError("stopped: '\(path)' failed", at: location)
        }
    }

    /// A script file as UTF-8 text; a clear error for a missing or binary file.
    public static func readScript(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ShellError("cannot read script '\(path)': no such file or not readable")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ShellError("script '\(path)' is not UTF-8 text")
        }
        return text
    }

    static func unquote(_ text: String) -> String {
        if text.count >= 2, let first = text.first, first == text.last, first == "'" || first == "\"" {
            return String(text.dropFirst().dropLast())
        }
        return text
    }
}
