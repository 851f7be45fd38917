import Foundation
import LCDBCore

/// Layer statistics for KFAC in safetensors files (issue "Curvature from
/// data"): for every Linear and Conv layer of the collection,
/// `<layer>.inputs` of shape `(n, in_eff)` or `(n, positions, in_eff)` (Conv:
/// the unfolded patches, `in_channels * prod(kernel_size)` wide; sequences:
/// tokens) and `<layer>.output_grads` of shape `(n, out)` or
/// `(n, positions, out)`; for an Embedding, `<layer>.inputs` holds the token
/// indices, integers of shape `(n,)` or `(n, positions)`, and
/// `<layer>.output_grads` `(n, embedding_dim)` or `(n, positions, embedding_dim)`.
/// Checked against the collection before any value is read; read a slab of
/// examples and one layer at a time.
public struct LayerStatisticsFiles {
    struct LayerTensors {
        let position: Int
        let inputs: SafetensorsFile.Tensor
        let outputGrads: SafetensorsFile.Tensor
        /// Positions per example (1 without a positions axis).
        let positions: Int
    }

    typealias Shard = ExampleShard<LayerTensors>

    let shards: [Shard]
    public let collection: LayerCollection

    public var examples: Int { Shard.total(shards) }
    /// The layers each slab is read for (those with statistics).
    public var layerCount: Int { shards.first?.layers.count ?? 0 }

    /// Opens and checks every shard. Layers that are not Linear, Conv1d,
    /// Conv2d or Embedding need no statistics (their blocks come from elsewhere).
    public static func open(_ paths: [String], over collection: LayerCollection) throws -> LayerStatisticsFiles {
        var shards: [Shard] = []
        for path in paths {
            let file = try SafetensorsFile.open(path)
            var examples: Int?
            var layers: [LayerTensors] = []
            for (position, entry) in collection.entries.enumerated() {
                let layer = entry.layer
                guard [.linear, .conv1d, .conv2d, .embedding].contains(layer.kind) else { continue }
                let embedding = layer.kind == .embedding
                // An Embedding's weight is num_embeddings x embedding_dim: its "out" is the second.
                let inEffective = layer.weightShape.dropFirst().reduce(1, *)
                let out = embedding ? layer.weightShape[1] : layer.weightShape[0]
                func tensor(_ suffix: String, width: Int?) throws -> (SafetensorsFile.Tensor, Int) {
                    let name = "\(entry.name).\(suffix)"
                    guard let tensor = file.tensor(named: name) else {
                        throw InteropError(path, "tensor '\(name)' is missing (KFAC needs the inputs and output gradients of every Linear, Conv and Embedding layer)")
                    }
                    if let width {
                        guard tensor.dtype.isFloatingPoint else { throw InteropError(path, "tensor '\(name)' is \(tensor.dtype.rawValue), not floating point") }
                        guard (tensor.shape.count == 2 || tensor.shape.count == 3), tensor.shape.last == width else {
                            throw InteropError(path, "tensor '\(name)' has shape \(GradientFiles.describe(tensor.shape)), expected (n, \(width)) or (n, positions, \(width))")
                        }
                    } else {
                        guard !tensor.dtype.isFloatingPoint, tensor.dtype != .bool else {
                            throw InteropError(path, "tensor '\(name)' is \(tensor.dtype.rawValue): an Embedding's inputs are integer token indices")
                        }
                        guard tensor.shape.count == 1 || tensor.shape.count == 2 else {
                            throw InteropError(path, "tensor '\(name)' has shape \(GradientFiles.describe(tensor.shape)), expected (n,) or (n, positions) token indices")
                        }
                    }
                    if let examples, examples != tensor.shape[0] {
                        throw InteropError(path, "tensor '\(name)' has \(tensor.shape[0]) examples, the file's other tensors \(examples)")
                    }
                    examples = tensor.shape[0]
                    let positional = width == nil ? tensor.shape.count == 2 : tensor.shape.count == 3
                    return (tensor, positional ? tensor.shape[1] : 1)
                }
                let (inputs, inputPositions) = try tensor("inputs", width: embedding ? nil : inEffective)
                let (grads, gradPositions) = try tensor("output_grads", width: out)
                guard inputPositions == gradPositions, (embedding ? inputs.shape.count + 1 : inputs.shape.count) == grads.shape.count else {
                    throw InteropError(path, "layer '\(entry.name)': inputs have \(inputPositions) positions, output gradients \(gradPositions)")
                }
                layers.append(LayerTensors(position: position, inputs: inputs, outputGrads: grads, positions: inputPositions))
            }
            shards.append(Shard(file: file, examples: examples ?? 0, layers: layers))
        }
        let files = LayerStatisticsFiles(shards: shards, collection: collection)
        guard files.examples > 0 else { throw InteropError(paths.joined(separator: ", "), "the files hold no examples") }
        return files
    }

    /// `body(position, rows, positions, inputs, outputGrads)` per slab of at
    /// most `rows` examples and layer: `rows * positions` rows of `in_eff`
    /// and of `out` values, row-major, float64. Non-finite values are errors.
    /// `layers`: only these layers' tensors are read (all by default).
    public func forEachSlab(rows limit: Int, layers chosen: Set<Int>? = nil, _ body: (Int, Int, Int, [Double], [Double]) throws -> Void) throws {
        // One byte buffer and one pair of slabs for the whole pass (fresh
        // arrays per slab cost page faults).
        var scratch: [UInt8] = []
        var read: [[Double]] = [[], []]
        for shard in shards {
            var start = 0
            while start < shard.examples {
                try Interruption.check()
                let rows = min(limit, shard.examples - start)
                for layer in shard.layers where chosen?.contains(layer.position) ?? true {
                    for (slot, tensor) in [layer.inputs, layer.outputGrads].enumerated() {
                        let per = tensor.count / max(tensor.shape[0], 1)
                        let elements = start * per ..< (start + rows) * per
                        if !tensor.dtype.isFloatingPoint {
                            // Token indices, checked against the table's size.
                            let size = collection.entries[layer.position].layer.weightShape[0]
                            let indices = try shard.file.integers(of: tensor, elements: elements)
                            if let bad = indices.firstIndex(where: { $0 < 0 || $0 >= size }) {
                                throw InteropError(shard.file.path, "tensor '\(tensor.name)' holds index \(indices[bad]) at example \(start + bad / per); the Embedding has \(size) rows")
                            }
                            read[slot] = indices.map(Double.init)
                            continue
                        }
                        if read[slot].count != elements.count {
                            read[slot] = []
                            read[slot] = [Double](repeating: 0, count: elements.count)
                        }
                        try shard.file.withRawBytes(of: tensor, elements: elements, scratch: &scratch) { raw in
                            read[slot].withUnsafeMutableBufferPointer { target in
                                TensorDType.decode(tensor.dtype, raw, offset: 0, count: elements.count, into: target.baseAddress!)
                            }
                        }
                        let finite = read[slot].withUnsafeBufferPointer { FiniteCheck.allFinite($0.baseAddress!, count: $0.count) }
                        if !finite, let bad = read[slot].firstIndex(where: { !$0.isFinite }) {
                            throw InteropError(shard.file.path, "tensor '\(tensor.name)' holds \(read[slot][bad].isNaN ? "NaN" : "an infinite value") at example \(start + bad / per); nothing was stored")
                        }
                    }
                    try body(layer.position, rows, layer.positions, read[0], read[1])
                }
                start += rows
            }
        }
    }

    /// Examples per slab so that one layer's inputs take about `bytes`.
    public func rowsPerSlab(bytes: Double = 32 * 1024 * 1024) -> Int {
        let widest = shards.first?.layers.map { layer in
            let inputWidth = layer.inputs.dtype.isFloatingPoint ? (layer.inputs.shape.last ?? 1) : 1
            return layer.positions * max(inputWidth, layer.outputGrads.shape.last ?? 1)
        }.max() ?? 1
        return max(1, min(examples, Int(bytes / (Double(max(widest, 1)) * 8))))
    }
}
