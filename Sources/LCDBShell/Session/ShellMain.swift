import Foundation
import LCDBStore

/// Everything the command line decides, gathered by the `lcdb` executable.
public struct ShellOptions: Sendable {
    public var database: String?
    public var scripts: [String] = []
    public var commands: [String] = []
    public var format: OutputFormat?
    public var echo = false
    public var keepGoing = false
    public var singleTransaction = false
    public var noInit = false
    /// nil: decided by whether standard input is a terminal.
    public var interactive: Bool?

    public init() {}
}

/// Runs lcdb for a set of options and returns the exit status: 0 when every
/// statement succeeded, 1 when one failed, 2 when the database could not be opened.
public enum ShellMain {
    public static let version = "0.1.0"

    public static func run(_ options: ShellOptions) -> Int32 {
        let inputIsTerminal = isatty(STDIN_FILENO) == 1
        let batchInput = !options.scripts.isEmpty || !options.commands.isEmpty
        let interactive = options.interactive ?? (!batchInput && inputIsTerminal)

        let store: Store
        do {
            // LCDB_TILE_BYTES: tile size of matrices written in this run (a tuning knob for benchmarks).
            let tileBytes = ProcessInfo.processInfo.environment["LCDB_TILE_BYTES"].flatMap(Int.init) ?? Store.defaultTileBytes
            store = try Store(path: options.database, tileBytes: tileBytes)
        } catch {
            var message = "\(error)"
            if let path = options.database, path.hasSuffix(".lc") {
                message += "\n(the first argument is the database; to run a script in memory: lcdb :memory: \(path))"
            }
            FileHandle.standardError.write(Data("lcdb: \(message)\n".utf8))
            return 2
        }
        let format = options.format ?? .table
        let session = Session(store: store, format: format)
        session.echo = options.echo
        session.showsProgress = interactive && isatty(STDERR_FILENO) == 1
        if session.showsProgress {
            store.progressFactory = { [weak session] what in session?.progressReporter(what) }
        }
        let shell = Shell(session: session)
        shell.keepGoing = options.keepGoing

        if !options.noInit, let home = ProcessInfo.processInfo.environment["HOME"] {
            let initFile = (home as NSString).appendingPathComponent(".lcdbrc")
            if FileManager.default.fileExists(atPath: initFile), let text = try? Shell.readScript(initFile) {
                shell.runScript(text, source: initFile)
            }
        }

        if options.singleTransaction {
            do { try store.beginBatch() } catch {
                FileHandle.standardError.write(Data("lcdb: \(error)\n".utf8))
                return 2
            }
        }
        defer {
            if options.singleTransaction {
                do { try store.endBatch(commit: !shell.hadError) } catch {
                    FileHandle.standardError.write(Data("lcdb: \(error)\n".utf8))
                }
                if shell.hadError {
                    FileHandle.standardError.write(Data("lcdb: rolled back: nothing of this run was stored\n".utf8))
                }
            }
        }

        if batchInput {
            BatchInterrupt.install()
            var status = runBatch(options, shell)
            if BatchInterrupt.isRequested {
                FileHandle.standardError.write(Data("lcdb: stopped by Ctrl-C; statements before the one interrupted were run\n".utf8))
                status = 130
            }
            // Work inside a begin that was never committed is not kept.
            return shell.rollBackOpenTransaction() && status == 0 ? 1 : status
        }

        if interactive {
            print("lcdb \(version): layer collections, parameter vectors and block matrices. Type help; Ctrl-D quits.")
            print(options.database.map { $0 == ":memory:" ? inMemoryBanner : "Database: \($0)" } ?? inMemoryBanner)
            // print() buffers when standard output is not a terminal; results are
            // written unbuffered, so without this the banner came after them.
            fflush(nil)
            let environment = ProcessInfo.processInfo.environment
            let historyPath = environment["LCDB_HISTORY"]
                ?? environment["HOME"].map { ($0 as NSString).appendingPathComponent(".lcdb_history") }
            let historySize = environment["LCDB_HISTORY_SIZE"].flatMap(Int.init) ?? 1000
            guard let repl = InteractiveShell(shell: shell, historyPath: historyPath, historySize: historySize) else {
                FileHandle.standardError.write(Data("lcdb: cannot start line editing\n".utf8))
                return 2
            }
            repl.run()
            shell.rollBackOpenTransaction()
            return 0 // like the sqlite3 shell: errors at the prompt do not set the exit status
        }

        // Standard input is not a terminal: read it all as a script, without prompt or banner.
        let data = FileHandle.standardInput.readDataToEndOfFile()
        guard let text = String(data: data, encoding: .utf8) else {
            FileHandle.standardError.write(Data("lcdb: standard input is not UTF-8 text\n".utf8))
            return 1
        }
        BatchInterrupt.install()
        shell.runScript(text, source: "<stdin>")
        if BatchInterrupt.isRequested {
            shell.rollBackOpenTransaction()
            FileHandle.standardError.write(Data("lcdb: stopped by Ctrl-C; statements before the one interrupted were run\n".utf8))
            return 130
        }
        return shell.rollBackOpenTransaction() || shell.hadError ? 1 : 0
    }

    /// The -c commands, then the script files, stopping at the first error
    /// unless told to keep going.
    private static func runBatch(_ options: ShellOptions, _ shell: Shell) -> Int32 {
        for command in options.commands where !shell.quitRequested {
            if !shell.runScript(command, source: "-c") && !shell.keepGoing { return 1 }
        }
        for path in options.scripts where !shell.quitRequested {
            let text: String
            do { text = try Shell.readScript(path) } catch {
                FileHandle.standardError.write(Data("lcdb: \(error)\n".utf8))
                return 1
            }
            if !shell.runScript(text, source: path) && !shell.keepGoing { return 1 }
        }
        return shell.hadError ? 1 : 0
    }

    static let inMemoryBanner = "Connected to a transient in-memory database: pass a file name to keep your work."
}
