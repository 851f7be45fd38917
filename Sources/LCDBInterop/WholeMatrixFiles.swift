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
    /// Each layer's tensors are `<layer>.<suffix>` for one of these.
    static let layerSuffixes = ["J", "rows"]
    /// Tensors of the whole matrix, named for no layer.
    static let matrixTensors = ["core", "shift"]

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
            let bounds = collection.offsets + [numel]
            let factor: any LowRankFactor
            if Double(n) * Double(numel) * 8 > LowRankPanels.inMemoryLimit {
                // Too large to hold: read from the file as it is stored (each
                // value checked finite then), after every shape is checked.
                var tensors: [SafetensorsFile.Tensor] = []
                for entry in collection.entries {
                    let name = "\(entry.name).J"
                    guard let tensor = file.tensor(named: name) else { throw InteropError(path, "tensor '\(name)' is missing") }
                    guard tensor.shape == [n, entry.layer.numel] else {
                        throw InteropError(path, "tensor '\(name)' has shape \(GradientFiles.describe(tensor.shape)), expected \(GradientFiles.describe([n, entry.layer.numel]))")
                    }
                    guard tensor.dtype.isFloatingPoint else {
                        throw InteropError(path, "tensor '\(name)' is \(tensor.dtype.rawValue), not a floating-point tensor")
                    }
                    anyDouble = anyDouble || tensor.dtype == .f64
                    tensors.append(tensor)
                }
                factor = FileFactor(file: file, tensors: tensors, rows: n, layerBounds: bounds)
            } else {
                var j = [Double](repeating: 0, count: n * numel)
                for (position, entry) in collection.entries.enumerated() {
                    try Interruption.check()
                    let side = entry.layer.numel, offset = collection.offsets[position]
                    let columns = try values("\(entry.name).J", shapes: [[n, side]])
                    for row in 0 ..< n { for k in 0 ..< side { j[row * numel + offset + k] = columns[row * side + k] } }
                }
                factor = InMemoryFactor(rows: n, layerBounds: bounds, values: j)
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
                return (try LowRankMatrix(collection: collection, factor: factor, core: core, coreScale: coreScale, shift: shift),
                        anyDouble ? .float64 : .float32)
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
            try writeLowRank(low, dtype: dtype, to: path)
            return
        } else {
            let all = try matrix.dense().values
            for (position, entry) in collection.entries.enumerated() {
                let range = collection.range(at: position)
                tensors.append(("\(entry.name).rows", [entry.layer.numel, numel], values(Array(all[range.lowerBound * numel ..< range.upperBound * numel]))))
            }
        }
        try SafetensorsFile.write(tensors, to: path)
    }

    /// A low-rank matrix streamed out: the header, then each layer's `J` a
    /// band of rows at a time (about 4 MB, read from wherever `J` is), then
    /// the core and shift, so a factor larger than memory exports too.
    static func writeLowRank(_ low: LowRankMatrix, dtype: DType, to path: String) throws {
        let collection = low.collection, n = low.rank
        let fileDType: TensorDType = dtype == .float32 ? .f32 : .f64
        var layout: [(name: String, dtype: TensorDType, shape: [Int])] = collection.entries.map { ("\($0.name).J", fileDType, [n, $0.layer.numel]) }
        var tail: [[Double]] = []
        if let core = low.core {
            layout.append(("core", fileDType, [n, n]))
            tail.append(core.values)
        } else if low.coreScale != 1 {
            layout.append(("core", fileDType, []))
            tail.append([low.coreScale])
        }
        if low.shift != 0 {
            layout.append(("shift", fileDType, []))
            tail.append([low.shift])
        }
        let writer = try FileWriter(path)
        try writer.write(SafetensorsFile.header(for: layout))
        func emit(_ values: UnsafeBufferPointer<Double>) throws {
            if dtype == .float32 {
                let floats = values.map { Float($0) }
                try floats.withUnsafeBytes { try writer.write($0) }
            } else {
                try writer.write(UnsafeRawBufferPointer(values))
            }
        }
        var band: [Double] = []
        for position in collection.entries.indices {
            let columns = collection.range(at: position)
            let step = max(1, (4 << 20) / max(1, 8 * columns.count))
            for first in stride(from: 0, to: n, by: step) {
                try Interruption.check()
                let rows = first ..< min(n, first + step)
                band = [Double](repeating: 0, count: rows.count * columns.count)
                try band.withUnsafeMutableBufferPointer { try low.factor.read(rows: rows, columns: columns, into: $0.baseAddress!) }
                try band.withUnsafeBufferPointer { try emit($0) }
            }
        }
        for values in tail { try values.withUnsafeBufferPointer { try emit($0) } }
        try writer.close()
    }
}
