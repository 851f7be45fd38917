import LCDBCore
import LCDBStore

/// Row panels of a matrix expression computed without whole blocks: generated
/// matrices, stored ones (`StoredPanelReader`), in-memory ones, and sums and
/// multiples of those. `let` streams such a result tile by tile, so its
/// memory stays at a few tiles whatever the block size. Inverses and matrix
/// products need whole blocks: `make` returns nil for them.
struct PanelSource<Scalar: BLASScalar> {
    /// Fills `target` with columns `columns` of rows `rows` of block `position` (side `side`).
    let fill: (_ position: Int, _ side: Int, _ rows: Range<Int>, _ columns: Range<Int>,
               _ target: UnsafeMutablePointer<Scalar>) throws -> Void

    /// A source for `value`'s panels in the result's `layout`, or nil when some
    /// part of it needs whole blocks (or whole rows of a stored triangle, for
    /// a `full` result).
    static func make(_ value: MatrixValue, layout: MatrixLayout, store: Store) throws -> PanelSource? {
        switch value.origin {
        case .source(let source):
            return PanelSource { position, side, rows, columns, target in
                source.fill(block: position, side: side, rows: rows, columns: columns, into: target)
            }
        case .passes(let passes):
            // Bands hold the upper triangle: a full-layout result goes block by block.
            guard layout == .upper else { return nil }
            return PanelSource { position, _, rows, columns, target in
                try passes.fill(position, rows, columns, into: target)
            }
        case .memory(let matrix):
            let typed = matrix.typed(Scalar.self)
            return PanelSource { position, side, rows, columns, target in
                typed.blocks[position].withUnsafeBufferPointer {
                    Store.copyPanel(from: $0.baseAddress!, side: side, rows: rows, columns: columns, to: target)
                }
            }
        case .stored(let name):
            let reader = try StoredPanelReader(store, matrix: name)
            guard layout == .upper || reader.layout == .full else { return nil }
            return PanelSource { position, _, rows, columns, target in
                try reader.read(position: position, rows: rows, columns: columns, into: target)
            }
        case .scaled(let operand, let alpha):
            guard let inner = try make(operand, layout: layout, store: store) else { return nil }
            return PanelSource { position, side, rows, columns, target in
                try inner.fill(position, side, rows, columns, target)
                Scalar.scal(count: rows.count * columns.count, alpha: Scalar(alpha), target)
            }
        case .sum(let left, let right, let alpha):
            guard let first = try make(left, layout: layout, store: store),
                  let second = try make(right, layout: layout, store: store) else { return nil }
            let scratch = PanelScratch<Scalar>()
            return PanelSource { position, side, rows, columns, target in
                let count = rows.count * columns.count
                try first.fill(position, side, rows, columns, target)
                try scratch.withBuffer(count) { buffer in
                    try second.fill(position, side, rows, columns, buffer)
                    Scalar.axpy(count: count, alpha: Scalar(alpha), buffer, target)
                }
            }
        case .inverse, .product, .storedForms, .structured, .transformedForms:
            return nil
        }
    }
}

/// A buffer reused from panel to panel by a sum's right-hand side.
final class PanelScratch<Scalar: BLASScalar> {
    private var buffer: [Scalar] = []

    func withBuffer(_ count: Int, _ body: (UnsafeMutablePointer<Scalar>) throws -> Void) throws {
        if buffer.count < count { buffer = [Scalar](repeating: 0, count: count) }
        try buffer.withUnsafeMutableBufferPointer { try body($0.baseAddress!) }
    }
}
