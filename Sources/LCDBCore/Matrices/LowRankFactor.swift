import Foundation

/// The `n x numel` factor J of a low-rank matrix (`LowRankMatrix`), read a
/// panel of columns at a time: every operation on the matrix is one or two
/// passes over the panels, so J itself may be larger than memory (spilled to a
/// file while it is built, `SpilledFactor`, or kept in the database). In
/// memory (`InMemoryFactor`) a panel is a view into J, not a copy.
public protocol LowRankFactor: AnyObject, Sendable {
    /// n: the rows (examples).
    var rows: Int { get }
    /// The first column of each layer, then numel: panels never cross a
    /// layer, since the database keeps J a layer at a time.
    var layerBounds: [Int] { get }
    /// True when J is in memory (panels are views).
    var isInMemory: Bool { get }
    /// The most columns a panel has (`LowRankPanels.width(rows:)` unless a
    /// test asks for narrower ones).
    var widestPanel: Int { get }
    /// Copies rows `rows` and columns `columns` (inside one layer) of J to
    /// `target`, row-major with `columns.count` values per row.
    func read(rows: Range<Int>, columns: Range<Int>, into target: UnsafeMutablePointer<Double>) throws(CoreError)
    /// Calls `body` with every row of columns `columns` (inside one layer):
    /// row-major values and their leading dimension.
    func withPanel<R>(_ columns: Range<Int>, _ body: (UnsafePointer<Double>, Int) throws(CoreError) -> R) throws(CoreError) -> R
}

extension LowRankFactor {
    /// numel.
    public var columns: Int { layerBounds.last ?? 0 }

    /// Bytes J takes as float64.
    public var byteCount: Double { 8 * Double(rows) * Double(columns) }

    /// The panels a pass reads, in order: each layer split evenly into runs of
    /// at most `widestPanel` columns.
    public var panels: [Range<Int>] {
        let widest = max(1, widestPanel)
        var result: [Range<Int>] = []
        for (start, end) in zip(layerBounds, layerBounds.dropFirst()) where end > start {
            let count = (end - start + widest - 1) / widest
            let step = (end - start + count - 1) / count
            for first in stride(from: start, to: end, by: step) { result.append(first ..< min(end, first + step)) }
        }
        return result
    }

    /// One pass: `body(columns, values, leading dimension)` for every panel.
    public func forEachPanel(_ body: (Range<Int>, UnsafePointer<Double>, Int) throws(CoreError) -> Void) throws(CoreError) {
        try forEachPanel(among: panels, body)
    }

    /// A pass over `chosen` panels (some of `panels`).
    public func forEachPanel(among chosen: [Range<Int>], _ body: (Range<Int>, UnsafePointer<Double>, Int) throws(CoreError) -> Void) throws(CoreError) {
        for columns in chosen {
            try Interruption.check()
            try withPanel(columns) { (values, leading) throws(CoreError) in try body(columns, values, leading) }
        }
    }

    /// `withPanel` for a factor kept outside memory: every row of `columns`
    /// copied by `read` into `buffer`'s room, then handed to `body`.
    public func readPanel<R>(_ columns: Range<Int>, through buffer: PanelBuffer,
                             _ body: (UnsafePointer<Double>, Int) throws(CoreError) -> R) throws(CoreError) -> R {
        try buffer.with(count: rows * columns.count) { (values) throws(CoreError) -> R in
            try read(rows: 0 ..< rows, columns: columns, into: values)
            return try body(values, columns.count)
        }
    }

    /// The layer holding column `column`.
    public func layer(holding column: Int) -> Int {
        var low = 0, high = layerBounds.count - 2
        while low < high {
            let middle = (low + high + 1) / 2
            if layerBounds[middle] <= column { low = middle } else { high = middle - 1 }
        }
        return low
    }
}

/// How wide a panel of J is, and how large a factor stays in memory.
public enum LowRankPanels {
    /// Bytes of one panel: 32 MiB (`LCDB_PANEL_BYTES` sets it: a knob for tests).
    public static var panelBytes: Int {
        ProcessInfo.processInfo.environment["LCDB_PANEL_BYTES"].flatMap(Int.init).map { max(8, $0) } ?? 32 << 20
    }

    /// Columns per panel for `rows` rows: at least one.
    public static func width(rows: Int) -> Int { max(1, panelBytes / (8 * max(1, rows))) }

    /// A factor up to this many bytes is held in memory; a larger one is
    /// streamed from a file or the database (256 MB, so that building and using
    /// a low-rank Fisher stays within a few hundred MB whatever n and numel;
    /// `LCDB_FACTOR_MEMORY_BYTES` sets it, a knob for tests and benchmarks).
    public static var inMemoryLimit: Double {
        let knob = ProcessInfo.processInfo.environment["LCDB_FACTOR_MEMORY_BYTES"].flatMap(Double.init)
        return min(knob ?? 256e6, MemoryBudget.budget / 2)
    }
}

/// J in memory, row-major.
public final class InMemoryFactor: LowRankFactor {
    public let rows: Int
    public let layerBounds: [Int]
    public let values: [Double]
    public let widestPanel: Int

    public init(rows: Int, layerBounds: [Int], values: [Double], widestPanel: Int? = nil) {
        precondition(values.count == rows * (layerBounds.last ?? 0), "InMemoryFactor: values do not fill J")
        self.widestPanel = widestPanel ?? LowRankPanels.width(rows: rows)
        self.rows = rows
        self.layerBounds = layerBounds
        self.values = values
    }

    public var isInMemory: Bool { true }

    public func read(rows: Range<Int>, columns: Range<Int>, into target: UnsafeMutablePointer<Double>) throws(CoreError) {
        let numel = self.columns, width = columns.count
        values.withUnsafeBufferPointer { j in
            for row in rows {
                (target + (row - rows.lowerBound) * width).update(from: j.baseAddress! + row * numel + columns.lowerBound, count: width)
            }
        }
    }

    public func withPanel<R>(_ columns: Range<Int>, _ body: (UnsafePointer<Double>, Int) throws(CoreError) -> R) throws(CoreError) -> R {
        let numel = self.columns
        return try values.withUnsafeBufferPointer { (j) throws(CoreError) -> R in try body(j.baseAddress! + columns.lowerBound, numel) }
    }
}

/// A reused buffer for the panels of a factor read from a file or the
/// database; a panel asked for while another is in use (two passes nested
/// over one factor) gets its own.
public final class PanelBuffer: @unchecked Sendable {
    private var storage: [Double] = []
    private var inUse = false
    private let lock = NSLock()

    public init() {}

    /// Calls `body` with room for `count` values.
    public func with<R>(count: Int, _ body: (UnsafeMutablePointer<Double>) throws(CoreError) -> R) throws(CoreError) -> R {
        lock.lock()
        let mine = !inUse
        if mine { inUse = true }
        lock.unlock()
        guard mine else {
            var own = [Double](repeating: 0, count: count)
            return try own.withUnsafeMutableBufferPointer { (buffer) throws(CoreError) -> R in try body(buffer.baseAddress!) }
        }
        defer {
            lock.lock()
            inUse = false
            lock.unlock()
        }
        if storage.count < count { storage = [Double](repeating: 0, count: count) }
        return try storage.withUnsafeMutableBufferPointer { (buffer) throws(CoreError) -> R in try body(buffer.baseAddress!) }
    }
}
