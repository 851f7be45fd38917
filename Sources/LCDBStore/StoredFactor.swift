import LCDBCore

/// J of a stored low-rank matrix too large to hold, read from the database a
/// panel of columns at a time. Each layer's part `J` is kept in tiles of
/// whole rows (`n x numel of the layer`); a panel takes its columns from
/// every tile with one blob read per row (`TileReader.read(_:rows:columns:)`),
/// so memory stays at one panel whatever n and numel. Reads go through the
/// store's open transaction when there is one (`let P = inv(L, regul=1)`
/// reads L while it writes P, even when P replaces L: the new tiles are
/// written before the old matrix goes).
final class StoredFactor: LowRankFactor, @unchecked Sendable {
    let rows: Int
    let layerBounds: [Int]
    let widestPanel: Int
    private let store: Store
    private let matrix: StoredMatrix
    /// Each layer's `J` tiles.
    private let readers: [TileReader]
    private let buffer = PanelBuffer()
    private var floats: [Float] = []

    init(store: Store, matrix: StoredMatrix, rows: Int, readers: [TileReader]) {
        self.store = store
        self.matrix = matrix
        self.rows = rows
        self.readers = readers
        layerBounds = matrix.collection.offsets + [matrix.collection.numel]
        widestPanel = LowRankPanels.width(rows: rows)
    }

    var isInMemory: Bool { false }

    func read(rows: Range<Int>, columns: Range<Int>, into target: UnsafeMutablePointer<Double>) throws(CoreError) {
        let layer = self.layer(holding: columns.lowerBound), start = layerBounds[layer]
        let local = columns.lowerBound - start ..< columns.upperBound - start
        let reader = readers[layer], width = columns.count
        do {
            try store.read { _ in
                for tile in reader.tiles where tile.rows.overlaps(rows) {
                    let band = max(tile.rows.lowerBound, rows.lowerBound) ..< min(tile.rows.upperBound, rows.upperBound)
                    let destination = target + (band.lowerBound - rows.lowerBound) * width
                    switch matrix.dtype {
                    case .float64:
                        try reader.read(tile, rows: band, columns: local, into: destination)
                    case .float32:
                        let count = band.count * width
                        if floats.count < count { floats = [Float](repeating: 0, count: count) }
                        try floats.withUnsafeMutableBufferPointer { values in
                            try reader.read(tile, rows: band, columns: local, into: values.baseAddress!)
                            for index in 0 ..< count { destination[index] = Double(values[index]) }
                        }
                    }
                }
            }
        } catch let error as CoreError {
            throw error
        } catch {
            throw CoreError(.io, "reading the factor of low-rank matrix '\(matrix.name)': \(error)")
        }
    }

    func withPanel<R>(_ columns: Range<Int>, _ body: (UnsafePointer<Double>, Int) throws(CoreError) -> R) throws(CoreError) -> R {
        try readPanel(columns, through: buffer, body)
    }
}
