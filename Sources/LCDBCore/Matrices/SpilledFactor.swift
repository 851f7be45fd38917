import Foundation

/// J on disk while a low-rank Fisher too large for memory is built and used
/// within one statement: a temporary file in the database's folder (unlinked
/// as soon as it is made, so it vanishes with the process whatever happens),
/// holding each layer's columns row-major (`n x numel of the layer`, float64),
/// written a slab of examples at a time and read back a panel at a time.
/// `scale` multiplies every value read (`1/√Σw`, known only at the end).
public final class SpilledFactor: LowRankFactor, @unchecked Sendable {
    public let rows: Int
    public let layerBounds: [Int]
    public let widestPanel: Int
    public private(set) var scale = 1.0
    private let descriptor: Int32
    private let buffer = PanelBuffer()

    /// Makes the file in `directory`, checking first that its disk has room.
    public init(rows: Int, layerBounds: [Int], directory: String, widestPanel: Int? = nil) throws(CoreError) {
        self.widestPanel = widestPanel ?? LowRankPanels.width(rows: rows)
        self.rows = rows
        self.layerBounds = layerBounds
        let bytes = 8 * Double(rows) * Double(layerBounds.last ?? 0)
        var info = statvfs()
        if statvfs(directory, &info) == 0 {
            let free = Double(info.f_bavail) * Double(info.f_frsize)
            guard bytes + 64e6 < free else {
                throw CoreError(.tooLarge, "the low-rank factor J (\(rows) x \(layerBounds.last ?? 0), float64) is \(MemoryBudget.format(bytes)): more than memory allows, so it is spilled to a temporary file in '\(directory)', whose disk has \(MemoryBudget.format(free)) free")
            }
        }
        var template = Array((directory + "/.lcdb-factor-XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard made >= 0 else {
            throw CoreError(.io, "cannot make a temporary file in '\(directory)' for the low-rank factor: \(String(cString: strerror(errno)))")
        }
        descriptor = made
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
    }

    deinit { close(descriptor) }

    public var isInMemory: Bool { false }

    /// Sets the scale applied on read, once every row is written.
    public func finish(scale: Double) { self.scale = scale }

    /// Byte offset of (`row`, `column`) in layer `layer`'s rows.
    private func offset(row: Int, column: Int, layer: Int) -> off_t {
        let start = layerBounds[layer], width = layerBounds[layer + 1] - start
        return off_t(8 * (rows * start + row * width + column - start))
    }

    /// Writes rows `rows` of columns `columns` (inside one layer) from
    /// `values` (row-major, `columns.count` per row): one write when the
    /// columns are the layer's whole width, since its rows are contiguous.
    public func write(rows: Range<Int>, columns: Range<Int>, from values: UnsafePointer<Double>) throws(CoreError) {
        let layer = self.layer(holding: columns.lowerBound), width = columns.count
        let source = UnsafeMutableRawPointer(mutating: values)
        if width == layerBounds[layer + 1] - layerBounds[layer] {
            try transfer(source, bytes: 8 * width * rows.count, at: offset(row: rows.lowerBound, column: columns.lowerBound, layer: layer), writing: true)
            return
        }
        for row in rows {
            try transfer(source + 8 * (row - rows.lowerBound) * width, bytes: 8 * width,
                         at: offset(row: row, column: columns.lowerBound, layer: layer), writing: true)
        }
    }

    public func read(rows: Range<Int>, columns: Range<Int>, into target: UnsafeMutablePointer<Double>) throws(CoreError) {
        let layer = self.layer(holding: columns.lowerBound), width = columns.count
        let layerWidth = layerBounds[layer + 1] - layerBounds[layer]
        if width == layerWidth {
            // Whole rows of a layer are contiguous: one read.
            try transfer(UnsafeMutableRawPointer(target), bytes: 8 * width * rows.count,
                         at: offset(row: rows.lowerBound, column: columns.lowerBound, layer: layer), writing: false)
        } else {
            for row in rows {
                try transfer(UnsafeMutableRawPointer(target + (row - rows.lowerBound) * width), bytes: 8 * width,
                             at: offset(row: row, column: columns.lowerBound, layer: layer), writing: false)
            }
        }
        if scale != 1 {
            for index in 0 ..< rows.count * width { target[index] *= scale }
        }
    }

    public func withPanel<R>(_ columns: Range<Int>, _ body: (UnsafePointer<Double>, Int) throws(CoreError) -> R) throws(CoreError) -> R {
        try readPanel(columns, through: buffer, body)
    }

    /// pread/pwrite until every byte is moved.
    private func transfer(_ pointer: UnsafeMutableRawPointer, bytes: Int, at offset: off_t, writing: Bool) throws(CoreError) {
        var done = 0
        while done < bytes {
            let moved = writing ? pwrite(descriptor, pointer + done, bytes - done, offset + off_t(done))
                : pread(descriptor, pointer + done, bytes - done, offset + off_t(done))
            if moved < 0 && errno == EINTR { continue }
            guard moved > 0 else {
                let reason = moved < 0 ? String(cString: strerror(errno)) : "the file ended early"
                throw CoreError(.io, "the temporary file of the low-rank factor could not be \(writing ? "written" : "read"): \(reason)")
            }
            done += moved
        }
    }
}
