import Foundation

/// The dot-commands, in the style of the sqlite3 shell: only at the start of
/// a statement, one line each.
public enum MetaCommands {
    public struct Definition: Sendable {
        public let names: [String]
        public let syntax: String
        public let summary: String
    }

    public static let all: [Definition] = [
        Definition(names: [".read"], syntax: ".read FILE", summary: "Runs the statements of FILE (nesting is capped at 25)."),
        Definition(names: [".format", ".mode"], syntax: ".format table|csv|json", summary: "Sets how results print."),
        Definition(names: [".timer"], syntax: ".timer on|off", summary: "Prints the wall time of each statement."),
        Definition(names: [".output"], syntax: ".output [FILE]", summary: "Writes results to FILE until the next .output; without FILE, back to standard output."),
        Definition(names: [".once"], syntax: ".once FILE", summary: "Writes the next statement's results to FILE."),
        Definition(names: [".echo"], syntax: ".echo on|off", summary: "Prints each statement before running it."),
        Definition(names: [".bail"], syntax: ".bail on|off", summary: "Stops a script at its first error (on, the default) or keeps going (off)."),
        Definition(names: [".tables"], syntax: ".tables", summary: "Lists the SQL views and tables, as sqlite3 does (list collections|vectors|matrices lists lcdb's objects)."),
        Definition(names: [".schema"], syntax: ".schema [NAME]", summary: "Prints the SQL that defines the view or table NAME, or every one."),
        Definition(names: [".help"], syntax: ".help", summary: "Shows this list."),
        Definition(names: [".quit", ".exit"], syntax: ".quit", summary: "Leaves lcdb (Ctrl-D on an empty line does too)."),
    ]

    public static var names: [String] { all.flatMap(\.names) }

    public static var help: String {
        all.map { "  " + $0.syntax.padding(toLength: 26, withPad: " ", startingAt: 0) + $0.summary }.joined(separator: "\n")
    }
}
