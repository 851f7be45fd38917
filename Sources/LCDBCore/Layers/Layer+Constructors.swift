/// Typed constructors with PyTorch's argument names and defaults.
extension Layer {
    public static func linear(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true) throws -> Layer {
        try Layer(.linear, [.int(inFeatures), .int(outFeatures), .bool(bias)])
    }
    public static func conv1d(_ inChannels: Int, _ outChannels: Int, kernelSize: Int, bias: Bool = true) throws -> Layer {
        try Layer(.conv1d, [.int(inChannels), .int(outChannels), .int(kernelSize), .bool(bias)])
    }
    public static func conv2d(_ inChannels: Int, _ outChannels: Int, kernelSize: (Int, Int), bias: Bool = true) throws -> Layer {
        try Layer(.conv2d, [.int(inChannels), .int(outChannels), .shape([kernelSize.0, kernelSize.1]), .bool(bias)])
    }
    public static func convTranspose2d(_ inChannels: Int, _ outChannels: Int, kernelSize: (Int, Int), bias: Bool = true) throws -> Layer {
        try Layer(.convTranspose2d, [.int(inChannels), .int(outChannels), .shape([kernelSize.0, kernelSize.1]), .bool(bias)])
    }
    public static func batchNorm1d(_ numFeatures: Int) throws -> Layer {
        try Layer(.batchNorm1d, [.int(numFeatures)])
    }
    public static func batchNorm2d(_ numFeatures: Int) throws -> Layer {
        try Layer(.batchNorm2d, [.int(numFeatures)])
    }
    public static func groupNorm(numGroups: Int, numChannels: Int) throws -> Layer {
        try Layer(.groupNorm, [.int(numGroups), .int(numChannels)])
    }
    public static func layerNorm(_ normalizedShape: [Int], bias: Bool = true) throws -> Layer {
        try Layer(.layerNorm, [.shape(normalizedShape), .bool(bias)])
    }
    public static func rmsNorm(_ normalizedShape: [Int]) throws -> Layer {
        try Layer(.rmsNorm, [.shape(normalizedShape)])
    }
    public static func embedding(_ numEmbeddings: Int, _ embeddingDim: Int) throws -> Layer {
        try Layer(.embedding, [.int(numEmbeddings), .int(embeddingDim)])
    }
    public static func weightNorm1d(_ inFeatures: Int, _ outFeatures: Int) throws -> Layer {
        try Layer(.weightNorm1d, [.int(inFeatures), .int(outFeatures)])
    }
    public static func weightNorm2d(_ inChannels: Int, _ outChannels: Int, kernelSize: (Int, Int)) throws -> Layer {
        try Layer(.weightNorm2d, [.int(inChannels), .int(outChannels), .shape([kernelSize.0, kernelSize.1])])
    }
    public static func cosine1d(_ inFeatures: Int, _ outFeatures: Int) throws -> Layer {
        try Layer(.cosine1d, [.int(inFeatures), .int(outFeatures)])
    }
    public static func affine1d(_ numFeatures: Int, bias: Bool = true) throws -> Layer {
        try Layer(.affine1d, [.int(numFeatures), .bool(bias)])
    }
    public static func parameter(_ shape: [Int]) throws -> Layer {
        try Layer(.parameter, [.shape(shape)])
    }
}
