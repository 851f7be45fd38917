import Foundation
import LCDBInterop

/// How results are printed: output modes as data (separators, quoting, null text).
public enum OutputFormat: String, CaseIterable, Sendable {
    /// Aligned columns with a header rule; numbers right-aligned.
    case table
    /// RFC 4180: header line, fields quoted when they hold a comma, quote or newline.
    case csv
    /// One JSON array of objects per result; numbers as JSON numbers.
    case json

    public func render(_ result: ResultTable) -> String {
        var out = ""
        if !result.columns.isEmpty {
            switch self {
            case .table: out = renderTable(result)
            case .csv: out = renderCSV(result)
            case .json: out = renderJSON(result)
            }
        }
        // A note under a table is for people: csv and json stay machine-readable.
        if let note = result.note, result.columns.isEmpty || self == .table { out += note + "\n" }
        return out
    }

    private func renderTable(_ result: ResultTable) -> String {
        let cells = result.rows.map { $0.map(\.rendered) }
        // Terminal columns, not characters: an emoji or CJK name takes two.
        var widths = result.columns.map(TerminalWidth.of)
        for row in cells { for (index, cell) in row.enumerated() { widths[index] = max(widths[index], TerminalWidth.of(cell)) } }
        let numeric = result.columns.indices.map { column in
            !result.rows.isEmpty && result.rows.allSatisfy { $0[column].isNumeric || $0[column] == .null }
        }
        func line(_ values: [String]) -> String {
            values.enumerated().map { index, value in
                let padding = String(repeating: " ", count: widths[index] - TerminalWidth.of(value))
                return numeric[index] ? padding + value : value + padding
            }.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
        }
        var lines = [line(result.columns), line(widths.map { String(repeating: "-", count: $0) })]
        lines += cells.map(line)
        return lines.joined(separator: "\n") + "\n"
    }

    private func renderCSV(_ result: ResultTable) -> String {
        func field(_ text: String) -> String {
            text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
                ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
        }
        let lines = [result.columns.map(field).joined(separator: ",")]
            + result.rows.map { $0.map { field($0.rendered) }.joined(separator: ",") }
        return lines.joined(separator: "\n") + "\n"
    }

    private func renderJSON(_ result: ResultTable) -> String {
        let objects = result.rows.map { row in
            "{" + zip(result.columns, row).map { "\(OutputFormat.jsonString($0)): \(OutputFormat.jsonValue($1))" }
                .joined(separator: ", ") + "}"
        }
        return objects.isEmpty ? "[]\n" : "[\n  " + objects.joined(separator: ",\n  ") + "\n]\n"
    }

    static func jsonValue(_ cell: ResultTable.Cell) -> String {
        switch cell {
        case .text(let text): jsonString(text)
        case .integer(let value): String(value)
        case .real(let value): value.isFinite ? ResultTable.format(value) : jsonString(ResultTable.format(value))
        case .null: "null"
        }
    }

    static func jsonString(_ text: String) -> String { JSONValue.quote(text) }
}
