/// What a statement prints: named columns and rows of cells, rendered by an
/// `OutputFormat`. A statement may also print plain notes (an empty result
/// with a message).
public struct ResultTable: Equatable, Sendable {
    public enum Cell: Equatable, Sendable {
        case text(String)
        case integer(Int)
        case real(Double)
        case null

        /// The cell in table and CSV output: reals in shortest round-trip form.
        public var rendered: String {
            switch self {
            case .text(let text): text
            case .integer(let value): String(value)
            case .real(let value): ResultTable.format(value)
            case .null: ""
            }
        }

        var isNumeric: Bool {
            switch self {
            case .integer, .real: true
            default: false
            }
        }
    }

    public var columns: [String]
    public var rows: [[Cell]]
    /// A line printed after the table (e.g. how many rows were elided).
    public var note: String?

    public init(columns: [String], rows: [[Cell]], note: String? = nil) {
        self.columns = columns
        self.rows = rows
        self.note = note
    }

    /// A one-line message, printed as is in every format.
    public static func message(_ text: String) -> ResultTable {
        ResultTable(columns: [], rows: [], note: text)
    }

    /// Shortest representation that reads back as the same Double; `inf`, `-inf`, `nan`.
    public static func format(_ value: Double) -> String {
        if value.isNaN { return "nan" }
        if value.isInfinite { return value > 0 ? "inf" : "-inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int(value)) }
        return "\(value)"
    }
}
