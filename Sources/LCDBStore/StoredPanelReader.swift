import GRDB
import LCDBCore

/// Any row panel of a stored matrix, read from the tiles that hold its rows
/// only, so that a result computed from stored operands (`let H = F + G`) is
/// written tile by tile without whole blocks in memory. Panels must be asked
/// for in increasing rows within a block (as `createMatrix` asks); the last
/// tile read is kept for the next panel. Use it inside the writing operation
/// (it reads through the store's open transaction).
public final class StoredPanelReader {
    public let matrix: StoredMatrix
    private let store: Store
    private var readers: [Int: TileReader] = [:]
    /// The tile read last: its block, placement and raw values (the matrix's dtype).
    private var current: (position: Int, tile: TileReader.Placement, bytes: [UInt8])?

    public init(_ store: Store, matrix name: String) throws {
        self.store = store
        matrix = try store.matrix(named: name)
    }

    public var layout: MatrixLayout { matrix.layout }

    /// Columns `columns` of rows `rows` of block `position` into `target`
    /// (rows.count x columns.count). From a `full` matrix any columns; from an
    /// `upper` one the columns from the panel's first row on (what an `upper`
    /// result needs): entries left of the diagonal are mirrored within the panel.
    public func read<Scalar: BLASScalar>(position: Int, rows: Range<Int>, columns: Range<Int>,
                                         into target: UnsafeMutablePointer<Scalar>) throws {
        let width = columns.count
        guard layout == .full || columns.lowerBound >= rows.lowerBound else {
            throw StoreError(.mismatch, "matrix '\(matrix.name)' keeps one triangle: whole rows of it cannot be read panel by panel")
        }
        for row in rows {
            let (tile, bytes) = try tile(holding: row, position: position)
            // An upper tile holds columns from its first row; the panel's columns
            // left of `row` are mirrored below.
            let first = layout == .upper ? Swift.max(columns.lowerBound, row) : columns.lowerBound
            let source = (row - tile.rows.lowerBound) * tile.columns.count + first - tile.columns.lowerBound
            let destination = target + (row - rows.lowerBound) * width + first - columns.lowerBound
            let count = columns.upperBound - first
            bytes.withUnsafeBytes { raw in
                switch matrix.dtype {
                case .float64: Self.convert(raw.bindMemory(to: Double.self).baseAddress! + source, to: destination, count: count)
                case .float32: Self.convert(raw.bindMemory(to: Float.self).baseAddress! + source, to: destination, count: count)
                }
            }
        }
        guard layout == .upper else { return }
        for row in rows {
            for column in columns.lowerBound ..< Swift.min(row, columns.upperBound) {
                // (row, column) is (column, row), and row `column` is in this panel.
                target[(row - rows.lowerBound) * width + column - columns.lowerBound] =
                    target[(column - rows.lowerBound) * width + row - columns.lowerBound]
            }
        }
    }

    /// Copies `count` values, converting only when the dtypes differ.
    private static func convert<Source: BLASScalar, Target: BLASScalar>(_ source: UnsafePointer<Source>,
                                                                        to target: UnsafeMutablePointer<Target>, count: Int) {
        if Source.self == Target.self {
            UnsafeMutableRawPointer(target).copyMemory(from: source, byteCount: count * MemoryLayout<Target>.size)
        } else {
            for index in 0 ..< count { target[index] = Target(source[index]) }
        }
    }

    /// The tile of block `position` that holds `row`, read once.
    private func tile(holding row: Int, position: Int) throws -> (TileReader.Placement, [UInt8]) {
        if let current, current.position == position, current.tile.rows.contains(row) { return (current.tile, current.bytes) }
        let reader = try readers[position] ?? store.read { db in try TileReader(db, matrix, position: position) }
        readers[position] = reader
        guard let placement = reader.tiles.first(where: { $0.rows.contains(row) }) else {
            throw StoreError(.corrupt, "matrix '\(matrix.name)': no tile holds row \(row) of block '\(matrix.collection.entries[position].name)'")
        }
        let count = placement.rows.count * placement.columns.count
        let size = matrix.dtype == .float64 ? 8 : 4
        var bytes = current.map { $0.bytes } ?? []
        current = nil
        if bytes.count < count * size { bytes = [UInt8](repeating: 0, count: count * size) }
        try bytes.withUnsafeMutableBytes { raw in
            switch matrix.dtype {
            case .float64: try store.read { _ in try reader.read(placement, into: raw.bindMemory(to: Double.self).baseAddress!) }
            case .float32: try store.read { _ in try reader.read(placement, into: raw.bindMemory(to: Float.self).baseAddress!) }
            }
        }
        current = (position, placement, bytes)
        return (placement, bytes)
    }
}
