import Foundation
import LCDBCore

/// Matrices that span layers, to and from one safetensors file. Low-rank
/// (`c I + Jᵀ S J`): `<layer>.J` (`n x numel of the layer`, the layer's
/// columns of J) for every layer, and `core` (`n x n`, or a scalar `s` for
/// `s I`) and `shift` (scalar `c`) when they are not `I` and 0: NNGeometry's
/// `PMatLowRank` is `J` alone (its `data` reshaped to `n x numel` and split
/// by layer). Full: `<layer>.rows` (`numel of the layer x numel`), the layer's
/// rows: NNGeometry's `PMatDense` split by rows. Export writes the same names.
public enum WholeMatrixFiles {
    /// The kind of whole matrix the file holds over `collection` (`lowrank`
    /// when every layer has `.J`, `full` when every layer has `.rows`), or nil.
    public static func kind(_ path: String, over collection: LayerCollection) throws -> String? {
        guard path.lowercased().hasSuffix(".safetensors") else { return nil }
        let file = try SafetensorsFile.open(path)
        if collection.names.allSatisfy({ file.tensor(named: "\($0).J") != nil }) { return "lowrank" }
        if collection.names.allSatisfy({ file.tensor(named: "\($0).rows") != nil }) { return "full" }
        return nil
    }

    /// Reads the whole matrix, its shapes checked against the collection
    /// (each wrong tensor named with the expected and found shape) and its
    /// values finite, before anything is stored. Returns it and the file's
    /// dtype (float64 if any tensor is).
    public static func read(_ path: String, over collection: LayerCollection) throws -> (any WholeMatrix, DType) {
        let file = try SafetensorsFile.open(path)
        var anyDouble = false
        func values(_ name: String, shapes: [[Int]]) throws -> [Double] {
            guard let tensor = file.tensor(named: name) else { throw InteropError(path, "tensor '\(name)' is missing") }
            guard shapes.contains(tensor.shape) else {
                let expected = shapes.map(GradientFiles.describe).joined(separator: " or ")
                throw InteropError(path, "tensor '\(name)' has shape \(GradientFiles.describe(tensor.shape)), expected \(expected)")
            }
            try MemoryBudget.require(Double(tensor.count) * 8, for: "tensor '\(name)' in memory")
            anyDouble = anyDouble || tensor.dtype == .f64
            let read = try file.values(of: tensor)
            if let bad = read.firstIndex(where: { !$0.isFinite }) {
                throw InteropError(path, "tensor '\(name)' holds \(read[bad].isNaN ? "NaN" : "an infinite value") at element \(bad); nothing was stored")
            }
            return read
        }
        let numel = collection.numel
        switch try kind(path, over: collection) {
        case "lowrank":
            guard let first = file.tensor(named: "\(collection.names[0]).J"), first.shape.count == 2, first.shape[0] > 0 else {
                throw InteropError(path, "tensor '\(collection.names[0]).J' must be 2-D: (n, numel of the layer)")
            }
            let n = first.shape[0]
            try MemoryBudget.require(Double(n) * Double(numel) * 8 * 2, for: "the low-rank factor J (\(n) x \(numel)) in memory")
            var factor = [Double](repeating: 0, count: n * numel)
            for (position, entry) in collection.entries.enumerated() {
                try Interruption.check()
                let side = entry.layer.numel, offset = collection.offsets[position]
                let columns = try values("\(entry.name).J", shapes: [[n, side]])
                for row in 0 ..< n { for k in 0 ..< side { factor[row * numel + offset + k] = columns[row * side + k] } }
            }
            var core: Matrix64?
            var coreScale = 1.0
            if file.tensor(named: "core") != nil {
                let read = try values("core", shapes: [[n, n], []])
                if read.count == 1 && n != 1 { coreScale = read[0] } else { core = Matrix64(rows: n, columns: n, values: read) }
                if let core, core.asymmetry > 1e-10 {
                    throw InteropError(path, "tensor 'core' is not symmetric (largest |s_ij - s_ji| is \(core.asymmetry) of its largest entry)")
                }
            }
            let shift = file.tensor(named: "shift") != nil ? try values("shift", shapes: [[]])[0] : 0
            do {
                return (try LowRankMatrix(collection: collection, factor: Matrix64(rows: n, columns: numel, values: factor),
                                          core: core, coreScale: coreScale, shift: shift), anyDouble ? .float64 : .float32)
            } catch {
                throw InteropError(path, "\(error)")
            }
        case "full":
            try FullMatrix.requireMemory(over: collection, for: "the full matrix (\(numel) x \(numel)) in memory")
            var all: [Double] = []
            all.reserveCapacity(numel * numel)
            for entry in collection.entries {
                try Interruption.check()
                all += try values("\(entry.name).rows", shapes: [[entry.layer.numel, numel]])
            }
            do {
                return (try FullMatrix(collection: collection, matrix: Matrix64(rows: numel, columns: numel, values: all)), anyDouble ? .float64 : .float32)
            } catch {
                throw InteropError(path, "\(error)")
            }
        default:
            throw InteropError(path, "holds neither '<layer>.J' (low-rank) nor '<layer>.rows' (full) tensors for every layer")
        }
    }

    /// Writes the matrix's tensors in `dtype` (the names `read` takes).
    public static func write(_ matrix: any WholeMatrix, dtype: DType, to path: String) throws {
        guard path.lowercased().hasSuffix(".safetensors") else {
            throw InteropError(path, "a \(matrix.kindName) matrix exports to a .safetensors file (<layer>.J or <layer>.rows tensors)")
        }
        let collection = matrix.collection, numel = matrix.numel
        func values(_ doubles: [Double]) -> TensorValues { dtype == .float32 ? .float32(doubles.map { Float($0) }) : .float64(doubles) }
        var tensors: [(name: String, shape: [Int], values: TensorValues)] = []
        if let low = matrix as? LowRankMatrix {
            let n = low.rank
            for (position, entry) in collection.entries.enumerated() {
                tensors.append(("\(entry.name).J", [n, entry.layer.numel], values(try low.factorColumns(position).values)))
            }
            if let core = low.core {
                tensors.append(("core", [n, n], values(core.values)))
            } else if low.coreScale != 1 {
                tensors.append(("core", [], values([low.coreScale])))
            }
            if low.shift != 0 { tensors.append(("shift", [], values([low.shift]))) }
        } else {
            let all = try matrix.dense().values
            for (position, entry) in collection.entries.enumerated() {
                let range = collection.range(at: position)
                tensors.append(("\(entry.name).rows", [entry.layer.numel, numel], values(Array(all[range.lowerBound * numel ..< range.upperBound * numel]))))
            }
        }
        try SafetensorsFile.write(tensors, to: path)
    }
}
