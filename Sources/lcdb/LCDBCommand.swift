import ArgumentParser
import LCDBCore
import LCDBShell

/// The command line: flags follow the sqlite3 shell and DuckDB CLI where they have one.
struct LCDBCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lcdb",
        abstract: "A database and shell for layer collections, parameter vectors and block-diagonal matrices.",
        usage: "lcdb [OPTIONS] [DATABASE] [SCRIPT ...]",
        discussion: """
            DATABASE is an SQLite file, created when missing; without one, lcdb uses a transient \
            in-memory database. With -c or SCRIPT files lcdb runs them (commands first, then files) \
            and exits; the first error stops the run with a non-zero status. Otherwise it reads \
            standard input: as an interactive shell on a terminal, as a script when piped.
            """,
        // Evaluated on first use, after main chose OpenBLAS's kernels: which
        // ones run is worth knowing when comparing speeds across machines.
        version: "\(ShellMain.version) (OpenBLAS \(OpenBLASKernels.coreName) kernels)"
    )

    @Argument(help: "The SQLite file to open (':memory:' or omitted: in memory).")
    var database: String?

    @Argument(help: "Script files to run in order.")
    var scripts: [String] = []

    @Option(name: [.customShort("c"), .customLong("command")], help: "Statements to run (repeatable).")
    var commands: [String] = []

    @Option(name: [.customShort("f"), .customLong("file")], help: "A script file to run (repeatable; same as SCRIPT).")
    var files: [String] = []

    @Option(help: "Output format: table, csv or json (default: table).")
    var format: String?

    @Flag(help: "Print each statement before running it.")
    var echo = false

    @Flag(help: "Continue past errors in scripts (the exit status is still non-zero).")
    var keepGoing = false

    @Flag(help: "Run the whole batch in one transaction: everything is stored or nothing is.")
    var singleTransaction = false

    @Flag(name: .customLong("no-init"), help: "Do not run ~/.lcdbrc first.")
    var noInit = false

    @Flag(name: .customLong("batch"), help: "Force batch mode (no prompt, no banner).")
    var batch = false

    @Flag(name: .customLong("interactive"), help: "Force the interactive shell.")
    var interactive = false

    /// `-c VALUE` and `--command VALUE` (and -f/--file) with a VALUE that
    /// starts with '-' become `-c=VALUE`; everything after `--` is left alone.
    static func joiningDashValues(_ arguments: [String]) -> [String] {
        let takesValue: Set<String> = ["-c", "--command", "-f", "--file"]
        var result: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--" { return result + arguments[index...] }
            if takesValue.contains(argument), index + 1 < arguments.count, arguments[index + 1].hasPrefix("-") {
                result.append(argument + "=" + arguments[index + 1])
                index += 2
            } else {
                result.append(argument)
                index += 1
            }
        }
        return result
    }

    func validate() throws {
        if let format, OutputFormat(rawValue: format) == nil {
            throw ValidationError("--format takes table, csv or json, not '\(format)'")
        }
        if batch && interactive { throw ValidationError("--batch and --interactive exclude each other") }
    }

    func run() throws {
        var options = ShellOptions()
        options.database = database
        options.scripts = scripts + files
        options.commands = commands
        options.format = format.flatMap(OutputFormat.init(rawValue:))
        options.echo = echo
        options.keepGoing = keepGoing
        options.singleTransaction = singleTransaction
        options.noInit = noInit
        options.interactive = batch ? false : interactive ? true : nil
        let status = ShellMain.run(options)
        if status != 0 { throw ExitCode(status) }
    }
}
