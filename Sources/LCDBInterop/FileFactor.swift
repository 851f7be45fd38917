import LCDBCore

/// J of a low-rank matrix in a safetensors file (`<layer>.J`, `n x numel of
/// the layer`, float32 or float64), read from the file a band of rows or a
/// panel at a time, so that importing a factor larger than memory streams it
/// into the store. Every value is checked finite as it is read: a NaN ends
/// the import (its transaction), naming the tensor and the element.
final class FileFactor: LowRankFactor, @unchecked Sendable {
    let rows: Int
    let layerBounds: [Int]
    let widestPanel: Int
    private let file: SafetensorsFile
    /// Each layer's `J` tensor, shapes checked by the caller.
    private let tensors: [SafetensorsFile.Tensor]
    private var scratch: [UInt8] = []
    private let buffer = PanelBuffer()

    init(file: SafetensorsFile, tensors: [SafetensorsFile.Tensor], rows: Int, layerBounds: [Int]) {
        self.file = file
        self.tensors = tensors
        self.rows = rows
        self.layerBounds = layerBounds
        widestPanel = LowRankPanels.width(rows: rows)
    }

    var isInMemory: Bool { false }

    func read(rows: Range<Int>, columns: Range<Int>, into target: UnsafeMutablePointer<Double>) throws(CoreError) {
        let layer = self.layer(holding: columns.lowerBound), tensor = tensors[layer]
        let width = layerBounds[layer + 1] - layerBounds[layer], first = columns.lowerBound - layerBounds[layer]
        // Whole rows are contiguous in the tensor: one read; else one per row.
        let runs: [(row: Int, elements: Range<Int>)] = columns.count == width
            ? [(rows.lowerBound, rows.lowerBound * width ..< rows.upperBound * width)]
            : rows.map { ($0, $0 * width + first ..< $0 * width + first + columns.count) }
        do {
            for run in runs {
                try file.withRawBytes(of: tensor, elements: run.elements, scratch: &scratch) { raw in
                    TensorDType.decode(tensor.dtype, raw, offset: 0, count: run.elements.count,
                                       into: target + (run.row - rows.lowerBound) * columns.count)
                }
            }
        } catch {
            throw CoreError(.io, "\(error)")
        }
        let count = rows.count * columns.count
        guard !FiniteCheck.allFinite(target, count: count) else { return }
        let bad = (0 ..< count).first { !target[$0].isFinite } ?? 0
        let element = (rows.lowerBound + bad / columns.count) * width + first + bad % columns.count
        throw CoreError(.invalidArgument, "\(file.path): tensor '\(tensor.name)' holds \(target[bad].isNaN ? "NaN" : "an infinite value") at element \(element); nothing was stored")
    }

    func withPanel<R>(_ columns: Range<Int>, _ body: (UnsafePointer<Double>, Int) throws(CoreError) -> R) throws(CoreError) -> R {
        try readPanel(columns, through: buffer, body)
    }
}
