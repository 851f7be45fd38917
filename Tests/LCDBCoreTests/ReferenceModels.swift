import LCDBCore

/// Public architectures written out layer by layer, with PyTorch module names.
enum ReferenceModels {
    /// torchvision's resnet18 (BasicBlock, [2, 2, 2, 2]).
    static func resnet18(classes: Int = 1000) throws -> LayerCollection {
        var layers: [(String, Layer)] = [
            ("conv1", try .conv2d(3, 64, kernelSize: (7, 7), bias: false)),
            ("bn1", try .batchNorm2d(64)),
        ]
        var inputs = 64
        for (stage, width) in [64, 128, 256, 512].enumerated() {
            for block in 0 ..< 2 {
                let prefix = "layer\(stage + 1).\(block)"
                let blockInputs = block == 0 ? inputs : width
                layers.append(("\(prefix).conv1", try .conv2d(blockInputs, width, kernelSize: (3, 3), bias: false)))
                layers.append(("\(prefix).bn1", try .batchNorm2d(width)))
                layers.append(("\(prefix).conv2", try .conv2d(width, width, kernelSize: (3, 3), bias: false)))
                layers.append(("\(prefix).bn2", try .batchNorm2d(width)))
                if block == 0 && stage > 0 {
                    layers.append(("\(prefix).downsample.0", try .conv2d(inputs, width, kernelSize: (1, 1), bias: false)))
                    layers.append(("\(prefix).downsample.1", try .batchNorm2d(width)))
                }
            }
            inputs = width
        }
        layers.append(("fc", try .linear(512, classes)))
        return try LayerCollection(layers)
    }

    /// GPT-2 small (Hugging Face module names), lm_head tied to wte so not listed.
    static func gpt2() throws -> LayerCollection {
        var layers: [(String, Layer)] = [("wte", try .embedding(50257, 768)), ("wpe", try .embedding(1024, 768))]
        for block in 0 ..< 12 {
            layers += [
                ("h.\(block).ln_1", try .layerNorm([768])),
                ("h.\(block).attn.c_attn", try .linear(768, 2304)),
                ("h.\(block).attn.c_proj", try .linear(768, 768)),
                ("h.\(block).ln_2", try .layerNorm([768])),
                ("h.\(block).mlp.c_fc", try .linear(768, 3072)),
                ("h.\(block).mlp.c_proj", try .linear(3072, 768)),
            ]
        }
        layers.append(("ln_f", try .layerNorm([768])))
        return try LayerCollection(layers)
    }
}
