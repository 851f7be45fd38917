import LCDBCore
import LCDBStore

/// `compare(A, B)`: two matrices (two checkpoints' Fishers, a KFAC against
/// its dense blocks) or two vectors over the same collection, layer by layer
/// and over the whole collection, in one table.
enum CompareFunctions {
    static let all: [FunctionSpec] = [
        FunctionSpec(name: "compare", parameters: [.init("a", .object), .init("b", .object)],
                     summary: "A against B, per layer and over all layers (last row, '(all)'). Matrices: relative Frobenius distance |A - B| / |B|, trace ratio tr A / tr B, cosine similarity of the diagonals. Vectors: relative distance |a - b| / |b|, norm ratio and cosine similarity. Closed forms where they exist (kfac against kfac never builds a block).",
                     example: "compare(K, to_dense(K));") { args, evaluator in
            switch (args.value("a")!, args.value("b")!) {
            case (.matrix(let a), .matrix(let b)):
                return .table(try matrices(a, b, evaluator.store, args))
            case (.vector(let a, _), .vector(let b, _)):
                return .table(try vectors(a, b, args))
            default:
                throw args.error("compares two matrices or two vectors")
            }
        },
    ]

    private static func matrices(_ a: MatrixValue, _ b: MatrixValue, _ store: Store, _ args: CallArguments) throws -> ResultTable {
        try a.collection.requireEqual(to: b.collection, for: "compare")
        let aForms = try a.structuredForm(store: store), bForms = try b.structuredForm(store: store)
        let names = a.collection.names
        var rows: [[ResultTable.Cell]] = []
        var difference = 0.0, reference = 0.0, traceA = 0.0, traceB = 0.0, diagonalDot = 0.0, diagonalA = 0.0, diagonalB = 0.0
        for position in a.collection.entries.indices {
            try Interruption.check()
            let x = try aForms?.blocks[position] ?? denseBlock(a, position, store)
            let y = try bForms?.blocks[position] ?? denseBlock(b, position, store)
            let nx = x.frobeniusNorm(), ny = y.frobeniusNorm()
            // Subtracted in a form where one is closed (no cancellation), else <x - y, x - y> expanded.
            let distance: Double
            if let closed = x.plus(y, scaledBy: -1) {
                distance = closed.frobeniusNorm()
            } else {
                let inner = try x.frobeniusInner(y, layer: names[position])
                distance = max(0, nx * nx + ny * ny - 2 * inner).squareRoot()
            }
            let dx = x.diagonal(), dy = y.diagonal()
            let dot = zip(dx, dy).reduce(0) { $0 + $1.0 * $1.1 }
            let sx = dx.reduce(0) { $0 + $1 * $1 }, sy = dy.reduce(0) { $0 + $1 * $1 }
            let (tx, ty) = (x.trace(), y.trace())
            rows.append([.text(names[position]), .real(distance / ny), .real(tx / ty), .real(dot / (sx * sy).squareRoot())])
            difference += distance * distance
            reference += ny * ny
            traceA += tx
            traceB += ty
            diagonalDot += dot
            diagonalA += sx
            diagonalB += sy
        }
        rows.append([.text("(all)"), .real((difference / reference).squareRoot()), .real(traceA / traceB),
                     .real(diagonalDot / (diagonalA * diagonalB).squareRoot())])
        return ResultTable(columns: ["layer", "rel_frobenius", "trace_ratio", "diag_cosine"], rows: rows)
    }

    private static func denseBlock(_ m: MatrixValue, _ position: Int, _ store: Store) throws -> any BlockForm {
        let side = m.collection.entries[position].layer.numel
        return DenseForm(block: Matrix64(rows: side, columns: side, values: try m.block(at: position, store: store, as: Double.self)))
    }

    private static func vectors(_ a: AnyParameterVector, _ b: AnyParameterVector, _ args: CallArguments) throws -> ResultTable {
        try a.collection.requireEqual(to: b.collection, for: "compare")
        let x = a.typed(Double.self).values, y = b.typed(Double.self).values
        let collection = a.collection
        var rows: [[ResultTable.Cell]] = []
        var totals = (difference: 0.0, xx: 0.0, yy: 0.0, xy: 0.0)
        for (position, name) in collection.names.enumerated() {
            var (difference, xx, yy, xy) = (0.0, 0.0, 0.0, 0.0)
            for k in collection.range(at: position) {
                difference += (x[k] - y[k]) * (x[k] - y[k])
                xx += x[k] * x[k]
                yy += y[k] * y[k]
                xy += x[k] * y[k]
            }
            rows.append(row(name, difference, xx, yy, xy))
            totals = (totals.difference + difference, totals.xx + xx, totals.yy + yy, totals.xy + xy)
        }
        rows.append(row("(all)", totals.difference, totals.xx, totals.yy, totals.xy))
        return ResultTable(columns: ["layer", "rel_distance", "norm_ratio", "cosine"], rows: rows)
    }

    private static func row(_ name: String, _ difference: Double, _ xx: Double, _ yy: Double, _ xy: Double) -> [ResultTable.Cell] {
        [.text(name), .real((difference / yy).squareRoot()), .real((xx / yy).squareRoot()), .real(xy / (xx * yy).squareRoot())]
    }
}
