import LCDBCore

/// Builds a layer collection from a checkpoint's tensors (NNGeometry's
/// `LayerCollection.from_model`, for files instead of live models).
///
/// Tensors `<module>.<param>` are grouped by module, in the order modules
/// first appear in the header (files written by the `safetensors` library
/// list tensors sorted by name). Per module, from the weight's shape:
/// 2-D -> Linear (Embedding when the module name contains "embed"),
/// 3-D -> Conv1d, 4-D -> Conv2d, 1-D with a bias -> LayerNorm (BatchNorm2d
/// when the module has `running_mean`), 1-D alone -> RMSNorm. Any other
/// floating tensor becomes a `Parameter` layer named after the tensor.
/// Buffers (`running_mean`, `running_var`, `num_batches_tracked`) and
/// non-floating tensors are skipped and reported. Overrides force a kind for
/// the modules whose name matches a glob pattern (`*` any text, `?` one character).
public struct CheckpointInference: Sendable {
    public struct Override: Sendable, Equatable {
        public let pattern: String
        public let kind: LayerKind
        /// Arguments the shapes cannot tell, e.g. `num_groups=32`.
        public let arguments: [String: HyperparameterValue]

        public init(pattern: String, kind: LayerKind, arguments: [String: HyperparameterValue] = [:]) {
            self.pattern = pattern
            self.kind = kind
            self.arguments = arguments
        }

        func matches(_ module: String) -> Bool { Glob.matches(module, pattern) }
    }

    public struct InferredLayer: Sendable, Equatable {
        public let name: String
        public let layer: Layer
        /// Tensor names holding the weight and the bias.
        public let weightTensor: String
        public let biasTensor: String?
        public let overridden: Bool
    }

    public let layers: [InferredLayer]
    /// (tensor, reason) for every tensor that is not a parameter.
    public let skipped: [(tensor: String, reason: String)]
    public let collection: LayerCollection

    public init(_ file: SafetensorsFile, overrides: [Override] = []) throws {
        var order: [String] = []
        var modules: [String: [String: SafetensorsFile.Tensor]] = [:]
        var skipped: [(tensor: String, reason: String)] = []
        var loose: [SafetensorsFile.Tensor] = []
        for tensor in file.tensors {
            guard tensor.dtype.isFloatingPoint else {
                skipped.append((tensor.name, "\(tensor.dtype.rawValue) buffer (not a floating-point parameter)"))
                continue
            }
            let parts = tensor.name.split(separator: ".", omittingEmptySubsequences: false)
            let parameter = parts.count > 1 ? String(parts.last!) : ""
            let module = parts.dropLast().joined(separator: ".")
            switch parameter {
            case "weight", "bias", "running_mean", "running_var":
                if modules[module] == nil { order.append(module); modules[module] = [:] }
                modules[module]?[parameter] = tensor
                if parameter.hasPrefix("running") { skipped.append((tensor.name, "batch-norm statistic (a buffer)")) }
            default:
                order.append("\u{0}" + tensor.name)
                loose.append(tensor)
            }
        }
        var layers: [InferredLayer] = []
        for key in order {
            if key.hasPrefix("\u{0}") {
                let name = String(key.dropFirst())
                guard let tensor = loose.first(where: { $0.name == name }) else { continue }
                layers.append(InferredLayer(name: name, layer: try CheckpointInference.parameter(tensor, file.path),
                                            weightTensor: name, biasTensor: nil, overridden: false))
                continue
            }
            let tensors = modules[key] ?? [:]
            guard let weight = tensors["weight"] else {
                // A bias without a weight: keep it as a plain parameter.
                if let bias = tensors["bias"] {
                    layers.append(InferredLayer(name: bias.name, layer: try CheckpointInference.parameter(bias, file.path),
                                                weightTensor: bias.name, biasTensor: nil, overridden: false))
                }
                continue
            }
            let bias = tensors["bias"]
            let override = overrides.first { $0.matches(key) }
            let layer = try CheckpointInference.layer(module: key, weight: weight, bias: bias,
                                                      hasRunningMean: tensors["running_mean"] != nil,
                                                      override: override, path: file.path)
            layers.append(InferredLayer(name: key, layer: layer, weightTensor: weight.name, biasTensor: bias?.name,
                                        overridden: override != nil))
        }
        var collection = LayerCollection()
        for inferred in layers {
            do { try collection.append(inferred.name, inferred.layer) } catch let error as CoreError {
                throw InteropError(file.path, error.message)
            }
        }
        self.layers = layers
        self.skipped = skipped
        self.collection = collection
    }

    static func parameter(_ tensor: SafetensorsFile.Tensor, _ path: String) throws -> Layer {
        do { return try .parameter(tensor.shape.isEmpty ? [1] : tensor.shape) } catch let error as CoreError {
            throw InteropError(path, "tensor '\(tensor.name)': \(error.message)")
        }
    }

    static func layer(module: String, weight: SafetensorsFile.Tensor, bias: SafetensorsFile.Tensor?,
                      hasRunningMean: Bool, override: Override?, path: String) throws -> Layer {
        let w = weight.shape
        let hasBias = bias != nil
        func fail(_ message: String) -> InteropError { InteropError(path, "module '\(module)': \(message)") }
        let kind: LayerKind
        if let override {
            kind = override.kind
        } else {
            switch w.count {
            case 2: kind = module.lowercased().contains("embed") && !hasBias ? .embedding : .linear
            case 3: kind = .conv1d
            case 4: kind = .conv2d
            case 1: kind = hasBias ? (hasRunningMean ? .batchNorm2d : .layerNorm) : .rmsNorm
            default: kind = .parameter
            }
        }
        var keywords: [(name: String, value: HyperparameterValue)]
        switch kind {
        case .linear, .weightNorm1d, .cosine1d:
            guard w.count == 2 else { throw fail("\(kind.rawValue) needs a 2-D weight, the file has \(w)") }
            keywords = [("in_features", .int(w[1])), ("out_features", .int(w[0]))]
        case .embedding:
            guard w.count == 2 else { throw fail("Embedding needs a 2-D weight, the file has \(w)") }
            keywords = [("num_embeddings", .int(w[0])), ("embedding_dim", .int(w[1]))]
        case .conv1d:
            guard w.count == 3 else { throw fail("Conv1d needs a 3-D weight, the file has \(w)") }
            keywords = [("in_channels", .int(w[1])), ("out_channels", .int(w[0])), ("kernel_size", .int(w[2]))]
        case .conv2d, .weightNorm2d:
            guard w.count == 4 else { throw fail("\(kind.rawValue) needs a 4-D weight, the file has \(w)") }
            keywords = [("in_channels", .int(w[1])), ("out_channels", .int(w[0])), ("kernel_size", .shape([w[2], w[3]]))]
        case .convTranspose2d:
            guard w.count == 4 else { throw fail("ConvTranspose2d needs a 4-D weight, the file has \(w)") }
            keywords = [("in_channels", .int(w[0])), ("out_channels", .int(w[1])), ("kernel_size", .shape([w[2], w[3]]))]
        case .batchNorm1d, .batchNorm2d:
            guard w.count == 1 else { throw fail("\(kind.rawValue) needs a 1-D weight, the file has \(w)") }
            keywords = [("num_features", .int(w[0]))]
        case .groupNorm:
            guard w.count == 1 else { throw fail("GroupNorm needs a 1-D weight, the file has \(w)") }
            guard override?.arguments["num_groups"] != nil else {
                throw fail("GroupNorm needs num_groups, which the shapes cannot tell: give it in the override, e.g. GroupNorm(num_groups=32)")
            }
            keywords = [("num_channels", .int(w[0]))]
        case .layerNorm:
            keywords = [("normalized_shape", .shape(w))]
        case .rmsNorm:
            keywords = [("normalized_shape", .shape(w))]
        case .affine1d:
            guard w.count == 1 else { throw fail("Affine1d needs a 1-D weight, the file has \(w)") }
            keywords = [("num_features", .int(w[0]))]
        case .parameter:
            keywords = [("size", .shape(w))]
        }
        if kind.signature.contains(where: { $0.name == "bias" }) { keywords.append(("bias", .bool(hasBias))) }
        for (name, value) in override?.arguments ?? [:] where !keywords.contains(where: { $0.name == name }) {
            keywords.append((name, value))
        }
        let layer: Layer
        do { layer = try Layer(kind, [], keywords: keywords) } catch let error as CoreError { throw fail(error.message) }
        guard layer.weightShape == w else { throw fail("as \(layer) the weight is \(layer.weightShape), the file has \(w)") }
        guard layer.biasShape == bias?.shape else {
            throw fail("as \(layer) the bias is \(layer.biasShape.map { "\($0)" } ?? "absent"), the file has \(bias.map { "\($0.shape)" } ?? "none")")
        }
        return layer
    }
}
