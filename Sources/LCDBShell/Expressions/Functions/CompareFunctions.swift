import LCDBCore
import LCDBStore

/// `compare(A, B)`: two matrices (two checkpoints' Fishers, a KFAC against
/// its dense blocks) or two vectors over the same collection, layer by layer
/// and over the whole collection, in one table.
enum CompareFunctions {
    static let all: [FunctionSpec] = [
        FunctionSpec(name: "compare", parameters: [.init("a", .anyObject), .init("b", .anyObject)],
                     summary: "A against B, per layer and over all layers (last row, '(all)'). Matrices: relative Frobenius distance |A - B| / |B|, trace ratio tr A / tr B, cosine similarity of the diagonals. Vectors: relative distance |a - b| / |b|, norm ratio and cosine similarity. Closed forms where they exist (kfac against kfac never builds a block). A low-rank or full matrix spans layers: its rows are its diagonal blocks, and '(all)' counts its blocks between layers too (the part a block-diagonal approximation drops).",
                     example: "compare(K, to_dense(K));") { args, evaluator in
            switch (args.value("a")!, args.value("b")!) {
            case (.matrix(let a), .matrix(let b)):
                return .table(try matrices(.blocks(a), .blocks(b), evaluator.store, args))
            case (.whole(let a), .matrix(let b)):
                return .table(try matrices(.whole(a.matrix), .blocks(b), evaluator.store, args))
            case (.matrix(let a), .whole(let b)):
                return .table(try matrices(.blocks(a), .whole(b.matrix), evaluator.store, args))
            case (.whole(let a), .whole(let b)):
                return .table(try matrices(.whole(a.matrix), .whole(b.matrix), evaluator.store, args))
            case (.vector(let a, _), .vector(let b, _)):
                return .table(try vectors(a, b, args))
            default:
                throw args.error("compares two matrices or two vectors")
            }
        },
    ]

    /// A compared matrix: block-diagonal, or spanning layers (low-rank, full).
    private enum Operand {
        case blocks(MatrixValue)
        case whole(any WholeMatrix)

        var collection: LayerCollection {
            switch self {
            case .blocks(let m): m.collection
            case .whole(let m): m.collection
            }
        }
    }

    private static func matrices(_ a: Operand, _ b: Operand, _ store: Store, _ args: CallArguments) throws -> ResultTable {
        try a.collection.requireEqual(to: b.collection, for: "compare")
        func forms(_ operand: Operand) throws -> StructuredMatrix? {
            if case .blocks(let m) = operand { return try m.structuredForm(store: store) }
            return nil
        }
        func block(_ operand: Operand, _ forms: StructuredMatrix?, _ position: Int) throws -> any BlockForm {
            switch operand {
            case .blocks(let m): return try forms?.blocks[position] ?? denseBlock(m, position, store)
            case .whole(let m): return DenseForm(block: try m.diagonalBlock(at: position))
            }
        }
        let aForms = try forms(a), bForms = try forms(b)
        let names = a.collection.names
        var rows: [[ResultTable.Cell]] = []
        var difference = 0.0, reference = 0.0, traceA = 0.0, traceB = 0.0, diagonalDot = 0.0, diagonalA = 0.0, diagonalB = 0.0
        var blockEnergyA = 0.0, blockInner = 0.0
        for position in a.collection.entries.indices {
            try Interruption.check()
            let x = try block(a, aForms, position)
            let y = try block(b, bForms, position)
            let nx = x.frobeniusNorm(), ny = y.frobeniusNorm()
            // Subtracted in a form where one is closed (no cancellation), else <x - y, x - y> expanded.
            let distance: Double
            if let closed = BlockForms.sum(x, y, scaledBy: -1) {
                distance = closed.frobeniusNorm()
            } else {
                let inner = try x.frobeniusInner(y, layer: names[position])
                distance = max(0, nx * nx + ny * ny - 2 * inner).squareRoot()
            }
            if case .whole = a, case .whole = b { blockInner += try x.frobeniusInner(y, layer: names[position]) }
            let dx = x.diagonal(), dy = y.diagonal()
            let dot = zip(dx, dy).reduce(0) { $0 + $1.0 * $1.1 }
            let sx = dx.reduce(0) { $0 + $1 * $1 }, sy = dy.reduce(0) { $0 + $1 * $1 }
            let (tx, ty) = (x.trace(), y.trace())
            rows.append([.text(names[position]), .real(distance / ny), .real(tx / ty), .real(dot / (sx * sy).squareRoot())])
            difference += distance * distance
            reference += ny * ny
            blockEnergyA += nx * nx
            traceA += tx
            traceB += ty
            diagonalDot += dot
            diagonalA += sx
            diagonalB += sy
        }
        // The blocks between layers, which only a whole-collection operand has:
        // |A - B|² gains |off A|² + |off B|² - 2 <off A, off B>.
        func offEnergy(_ operand: Operand, _ blockEnergy: Double) throws -> Double {
            guard case .whole(let m) = operand else { return 0 }
            let norm = try m.frobeniusNorm()
            return max(0, norm * norm - blockEnergy)
        }
        let offA = try offEnergy(a, blockEnergyA), offB = try offEnergy(b, reference)
        var offInner = 0.0
        if case .whole(let x) = a, case .whole(let y) = b { offInner = try x.frobeniusInner(y) - blockInner }
        difference = max(0, difference + offA + offB - 2 * offInner)
        reference += offB
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
