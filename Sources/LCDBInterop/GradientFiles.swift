import Foundation
import LCDBCore

/// Per-example gradients in safetensors files (issue "Curvature from data"):
/// each file holds, for every layer of the collection, `<layer>.weight` of
/// shape `(n, *weight_shape)` and `<layer>.bias` of shape `(n, *bias_shape)`
/// (a Parameter layer: `<layer>`, `(n, *size)`), PyTorch's
/// `named_parameters()` names with a leading example axis. A dataset comes as
/// several files (shards), each with its own `n`. Everything is checked
/// against the collection before any value is read; values are then read in
/// slabs of examples, never a whole tensor.
public struct GradientFiles {
    /// One layer's tensors in one shard: the weight's (or the Parameter's), then the bias's.
    struct LayerTensors {
        let weight: SafetensorsFile.Tensor
        let bias: SafetensorsFile.Tensor?
    }

    typealias Shard = ExampleShard<LayerTensors>

    let shards: [Shard]
    public let collection: LayerCollection
    /// Examples (numbered over all shards in order) read as zeros and not
    /// checked: those `scanNonFinite` found, when the user asks to leave them
    /// out (their weight must then be zero too).
    public var skipped: Set<Int> = []

    /// Examples over all shards.
    public var examples: Int { Shard.total(shards) }
    public var paths: [String] { shards.map(\.file.path) }

    /// The files named by `pattern`: comma-separated paths, each possibly a
    /// glob (`grads_*.safetensors`), expanded in sorted order.
    public static func paths(matching pattern: String) throws -> [String] {
        var paths: [String] = []
        for item in pattern.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !item.isEmpty {
            guard item.contains("*") || item.contains("?") else {
                paths.append(item)
                continue
            }
            let folder = (item as NSString).deletingLastPathComponent
            let name = (item as NSString).lastPathComponent
            let listed = (try? FileManager.default.contentsOfDirectory(atPath: folder.isEmpty ? "." : folder)) ?? []
            let matched = listed.filter { Glob.matches($0, name) }.sorted()
            guard !matched.isEmpty else { throw InteropError(item, "no file matches this pattern") }
            paths += matched.map { folder.isEmpty ? $0 : (folder as NSString).appendingPathComponent($0) }
        }
        guard !paths.isEmpty else { throw InteropError(pattern, "no gradient file given") }
        return paths
    }

    /// Opens and checks every shard: each layer's tensors present, floating,
    /// of the layer's shape after the example axis, with one `n` per file.
    public static func open(_ paths: [String], over collection: LayerCollection) throws -> GradientFiles {
        var shards: [Shard] = []
        for path in paths {
            let file = try SafetensorsFile.open(path)
            var layers: [LayerTensors] = []
            var examples: Int?
            func tensor(_ name: String, shape: [Int]) throws -> SafetensorsFile.Tensor {
                guard let tensor = file.tensor(named: name) else {
                    throw InteropError(path, "tensor '\(name)' is missing (per-example gradients of every layer of the collection are needed)")
                }
                guard tensor.dtype.isFloatingPoint else {
                    throw InteropError(path, "tensor '\(name)' is \(tensor.dtype.rawValue), not floating point")
                }
                guard tensor.shape.count == shape.count + 1, Array(tensor.shape.dropFirst()) == shape else {
                    throw InteropError(path, "tensor '\(name)' has shape \(describe(tensor.shape)), expected (n, \(shape.map(String.init).joined(separator: ", "))) with n examples")
                }
                if let examples, examples != tensor.shape[0] {
                    throw InteropError(path, "tensor '\(name)' has \(tensor.shape[0]) examples, the file's other tensors \(examples)")
                }
                examples = tensor.shape[0]
                return tensor
            }
            for entry in collection.entries {
                let layer = entry.layer
                if layer.kind == .parameter {
                    layers.append(LayerTensors(weight: try tensor(entry.name, shape: layer.weightShape), bias: nil))
                } else {
                    let weight = try tensor("\(entry.name).weight", shape: layer.weightShape)
                    let bias = try layer.biasShape.map { try tensor("\(entry.name).bias", shape: $0) }
                    layers.append(LayerTensors(weight: weight, bias: bias))
                }
            }
            shards.append(Shard(file: file, examples: examples ?? 0, layers: layers))
        }
        let files = GradientFiles(shards: shards, collection: collection)
        guard files.examples > 0 else { throw InteropError(paths.joined(separator: ", "), "the files hold no examples") }
        return files
    }

    /// Per-example weights from a safetensors file: its tensor `weights` (or
    /// its only tensor), one value per example of all shards in order,
    /// finite, non-negative, not all zero.
    public func weights(from path: String) throws -> [Double] {
        let file = try SafetensorsFile.open(path)
        guard let tensor = file.tensor(named: "weights") ?? (file.tensors.count == 1 ? file.tensors[0] : nil) else {
            throw InteropError(path, "no tensor 'weights' (per-example weights, shape (n,))")
        }
        guard tensor.dtype.isFloatingPoint, tensor.shape == [examples] else {
            throw InteropError(path, "tensor '\(tensor.name)' has shape \(GradientFiles.describe(tensor.shape)) (\(tensor.dtype.rawValue)); expected (\(examples),) floating weights, one per example of the gradient files")
        }
        let weights: [Double] = try file.values(of: tensor)
        if let bad = weights.firstIndex(where: { !$0.isFinite || $0 < 0 }) {
            throw InteropError(path, "weight \(bad) is \(weights[bad]); weights must be finite and non-negative")
        }
        guard weights.contains(where: { $0 > 0 }) else { throw InteropError(path, "every weight is zero") }
        return weights
    }

    /// Examples per slab so that one layer's slab takes about `bytes`.
    public func rowsPerSlab(bytes: Double = 32 * 1024 * 1024) -> Int {
        let widest = collection.entries.map(\.layer.numel).max() ?? 1
        return max(1, min(examples, Int(bytes / (Double(max(widest, 1)) * 8))))
    }

    /// `body(rows, position, columns, slab)`: for each slab of at most `rows`
    /// examples, each layer, and each run of at most `columnLimit` of its
    /// parameters (all of them by default), a `rows x columns.count`
    /// row-major float64 matrix (each example's weight gradient flattened,
    /// then its bias), over every shard in order; one slab in memory at a
    /// time (a layer wider than memory allows is read in column runs).
    /// Non-finite values are an error naming the file, tensor and example.
    /// `layers`: only these layers' tensors are read (all by default).
    public func forEachSlab(rows limit: Int, columns columnLimit: Int = .max, layers: Set<Int>? = nil,
                            _ body: (Int, Int, Range<Int>, [Double]) throws -> Void) throws {
        // One slab and one byte buffer for the whole pass: fresh 32 MB arrays
        // per slab cost page faults that dominated the reading time.
        var slab: [Double] = []
        var scratch: [UInt8] = []
        var base = 0 // the shard's first example, over all shards
        for shard in shards {
            defer { base += shard.examples }
            var start = 0
            while start < shard.examples {
                try Interruption.check()
                let rows = min(limit, shard.examples - start)
                for (position, tensors) in shard.layers.enumerated() where layers?.contains(position) ?? true {
                    let numel = collection.entries[position].layer.numel
                    var columnStart = 0
                    repeat {
                        let columns = columnStart ..< min(numel, columnStart + max(1, columnLimit))
                        if slab.count != rows * columns.count {
                            slab = []
                            slab = HugePages.array(count: rows * columns.count)
                        }
                        try read(shard, tensors, start: start, base: base, rows: rows, columns: columns, into: &slab, scratch: &scratch)
                        try body(rows, position, columns, slab)
                        columnStart = columns.upperBound
                    } while columnStart < numel
                }
                start += rows
            }
        }
    }

    /// Examples `start ..< start + rows` of one layer, parameters `columns` of
    /// its flattening, decoded straight from the file's bytes into `slab`.
    private func read(_ shard: Shard, _ tensors: LayerTensors, start: Int, base: Int, rows: Int, columns: Range<Int>,
                      into slab: inout [Double], scratch: inout [UInt8]) throws {
        var offset = 0 // where this tensor starts in the layer's flattening
        for tensor in [tensors.weight] + (tensors.bias.map { [$0] } ?? []) {
            let per = tensor.count / max(tensor.shape[0], 1)
            defer { offset += per }
            let (low, high) = (max(offset, columns.lowerBound), min(offset + per, columns.upperBound))
            guard low < high else { continue }
            let local = (low - offset) ..< (high - offset)
            let column = low - columns.lowerBound // where this tensor's run goes in a slab row
            let width = columns.count, size = tensor.dtype.size
            // Whole rows of the tensor: one read; a run of its columns: one read per example.
            let runs: [(row: Int, elements: Range<Int>)] = local.count == per
                ? [(0, start * per ..< (start + rows) * per)]
                : (0 ..< rows).map { ($0, (start + $0) * per + local.lowerBound ..< (start + $0) * per + local.upperBound) }
            for run in runs {
                let runRows = local.count == per ? rows : 1
                try shard.file.withRawBytes(of: tensor, elements: run.elements, scratch: &scratch) { raw in
                    slab.withUnsafeMutableBufferPointer { target in
                        for r in 0 ..< runRows {
                            TensorDType.decode(tensor.dtype, raw, offset: r * local.count * size, count: local.count,
                                               into: target.baseAddress! + (run.row + r) * width + column)
                        }
                    }
                }
                for r in 0 ..< runRows {
                    let row = run.row + r
                    if !skipped.isEmpty && skipped.contains(base + start + row) {
                        for k in 0 ..< local.count { slab[row * width + column + k] = 0 }
                        continue
                    }
                    let finite = slab.withUnsafeBufferPointer { FiniteCheck.allFinite($0.baseAddress! + row * width + column, count: local.count) }
                    if finite { continue }
                    for k in 0 ..< local.count where !slab[row * width + column + k].isFinite {
                        let value = slab[row * width + column + k]
                        let more = (0 ..< local.count).filter { !slab[row * width + column + $0].isFinite }.count - 1
                        // How many there are in all: a second reading, on this error's path only.
                        let all = (try? scanNonFinite()).map { "; \($0.summary(of: examples)) hold non-finite values" } ?? ""
                        throw InteropError(shard.file.path, "tensor '\(tensor.name)' holds \(value.isNaN ? "NaN" : "an infinite value") at example \(start + row) (and \(more) more non-finite values in that example)\(all); nothing was stored (nonfinite=skip leaves such examples out)")
                    }
                }
            }
        }
    }

    /// Every example holding a NaN or an infinite value, in any tensor of any
    /// shard: one reading of the files, about 32 MB at a time.
    public func scanNonFinite() throws -> NonFiniteScan {
        var scan = NonFiniteScan()
        var buffer: [Double] = []
        var scratch: [UInt8] = []
        var base = 0
        for shard in shards {
            defer { base += shard.examples }
            for tensors in shard.layers {
                for tensor in [tensors.weight] + (tensors.bias.map { [$0] } ?? []) {
                    let per = tensor.count / max(tensor.shape[0], 1)
                    guard per > 0 else { continue }
                    let step = max(1, min(shard.examples, 4 * 1024 * 1024 / per))
                    var start = 0
                    while start < shard.examples {
                        try Interruption.check()
                        let rows = min(step, shard.examples - start)
                        if buffer.count < rows * per { buffer = [Double](repeating: 0, count: rows * per) }
                        try shard.file.withRawBytes(of: tensor, elements: start * per ..< (start + rows) * per, scratch: &scratch) { raw in
                            buffer.withUnsafeMutableBufferPointer {
                                TensorDType.decode(tensor.dtype, raw, offset: 0, count: rows * per, into: $0.baseAddress!)
                            }
                        }
                        buffer.withUnsafeBufferPointer { values in
                            guard !FiniteCheck.allFinite(values.baseAddress!, count: rows * per) else { return }
                            for row in 0 ..< rows where !FiniteCheck.allFinite(values.baseAddress! + row * per, count: per) {
                                let bad = (0 ..< per).filter { !values[row * per + $0].isFinite }.count
                                scan.record(.init(file: shard.file.path, tensor: tensor.name, example: base + start + row, values: bad))
                            }
                        }
                        start += rows
                    }
                }
            }
        }
        return scan
    }

    static func describe(_ shape: [Int]) -> String {
        "(" + shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? ",)" : ")")
    }
}

/// One file of a dataset split over examples (gradients or layer
/// statistics): the file, its number of examples, and each layer's tensors.
struct ExampleShard<LayerTensors> {
    let file: SafetensorsFile
    let examples: Int
    let layers: [LayerTensors]

    static func total(_ shards: [ExampleShard]) -> Int { shards.reduce(0) { $0 + $1.examples } }
}
