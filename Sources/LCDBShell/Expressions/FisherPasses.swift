import Foundation
import LCDBCore
import LCDBInterop

/// The dense Fisher blocks of gradient files when the blocks do not all fit
/// in memory, computed a band of rows at a time in passes over the files
/// (`DenseFisherBands`). `let` streams them into the store panel by panel:
/// each panel is served from the bands in memory, and a panel past them runs
/// the next pass, for as many rows as the band budget holds. Memory stays at
/// the budget whatever the blocks' size; the files are read once per pass.
public final class FisherPasses: FisherBlockSource, @unchecked Sendable {
    let files: GradientFiles
    private let weights: [Double]?
    private let totalWeight: Double
    private let bandBytes: Double
    private var current: DenseFisherBands?
    /// Passes run so far.
    private(set) var passes = 0

    /// Bytes of bands per pass: `LCDB_FISHER_BAND_BYTES` (a knob for tests,
    /// which also makes every dense build go through passes), else a quarter
    /// of the memory budget, at most 2 GB.
    static var configuredBandBytes: Double? {
        ProcessInfo.processInfo.environment["LCDB_FISHER_BAND_BYTES"].flatMap(Double.init).map { max(8, $0) }
    }

    /// Passes for `files` when their dense blocks do not fit in memory (or the
    /// knob asks for them); nil when the blocks are built in memory as before.
    static func ifNeeded(_ files: GradientFiles, weights: [Double]?) -> FisherPasses? {
        let bytes = files.collection.entries.reduce(0.0) { $0 + Double($1.layer.numel) * Double($1.layer.numel) * 8 }
        let knob = configuredBandBytes
        guard knob != nil || bytes * 1.1 > MemoryBudget.budget else { return nil }
        return FisherPasses(files: files, weights: weights, bandBytes: knob ?? min(2e9, MemoryBudget.budget / 4))
    }

    private init(files: GradientFiles, weights: [Double]?, bandBytes: Double) {
        self.files = files
        self.weights = weights
        totalWeight = weights?.reduce(0, +) ?? Double(files.examples)
        self.bandBytes = bandBytes
    }

    /// Reads the files once for the bands from row `row` of block `position` on.
    private func runPass(from position: Int, row: Int) throws {
        current = nil // freed before the next bands are allocated
        let collection = files.collection
        var bands = try DenseFisherBands(collection: collection, plan: DenseFisherBands.plan(collection, from: position, row: row, bytes: bandBytes))
        var starts = [Int](repeating: 0, count: collection.count)
        var scaled: [Double] = []
        try files.forEachSlab(rows: files.rowsPerSlab(), layers: bands.positions) { rows, layer, _, slab in
            let start = starts[layer]
            starts[layer] += rows
            guard let weights else {
                slab.withUnsafeBufferPointer { bands.add(position: layer, examples: rows, slab: $0.baseAddress!) }
                return
            }
            // w g gᵀ = (√w g)(√w g)ᵀ.
            let side = slab.count / max(rows, 1)
            scaled = slab
            for example in 0 ..< rows {
                let root = weights[start + example].squareRoot()
                for k in 0 ..< side { scaled[example * side + k] *= root }
            }
            scaled.withUnsafeBufferPointer { bands.add(position: layer, examples: rows, slab: $0.baseAddress!) }
        }
        bands.finish(totalWeight: totalWeight)
        current = bands
        passes += 1
    }

    /// Columns `columns` of rows `rows` of block `position` into `target`
    /// (row-major, `columns.count` per row): the upper triangle from the
    /// bands (running the next pass when a row is past them), the entries
    /// left of the diagonal mirrored from the panel itself. So the columns
    /// must start at or after the rows and run to the block's end: an
    /// `upper` tile, or a whole block.
    public func fill<Scalar: BLASScalar>(_ position: Int, _ rows: Range<Int>, _ columns: Range<Int>, into target: UnsafeMutablePointer<Scalar>) throws {
        let side = files.collection.entries[position].layer.numel, width = columns.count
        guard columns.lowerBound >= rows.lowerBound, columns.upperBound == side else {
            throw ShellError("dense Fisher blocks built in passes are read as upper panels or whole blocks (asked rows \(rows), columns \(columns))")
        }
        var row = rows.lowerBound
        while row < rows.upperBound {
            guard let band = current?.bands.first(where: { $0.position == position && $0.rows.contains(row) }) else {
                try runPass(from: position, row: row)
                continue
            }
            let last = min(rows.upperBound, band.rows.upperBound), held = band.columns
            band.values.withUnsafeBufferPointer { values in
                for r in row ..< last {
                    let first = max(r, columns.lowerBound)
                    let source = values.baseAddress! + (r - band.rows.lowerBound) * held.count + first - held.lowerBound
                    let destination = target + (r - rows.lowerBound) * width + first - columns.lowerBound
                    for k in 0 ..< columns.upperBound - first { destination[k] = Scalar(source[k]) }
                }
            }
            row = last
        }
        for r in rows {
            for c in columns.lowerBound ..< min(r, columns.upperBound) {
                target[(r - rows.lowerBound) * width + c - columns.lowerBound] = target[(c - rows.lowerBound) * width + r - columns.lowerBound]
            }
        }
    }

    /// Block `position` whole (its caller checked that it fits).
    public func block<Scalar: BLASScalar>(at position: Int, as _: Scalar.Type) throws -> [Scalar] {
        let side = files.collection.entries[position].layer.numel
        var block = [Scalar](repeating: 0, count: side * side)
        try block.withUnsafeMutableBufferPointer { try fill(position, 0 ..< side, 0 ..< side, into: $0.baseAddress!) }
        return block
    }
}
