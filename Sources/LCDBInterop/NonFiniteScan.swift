/// The examples of gradient files whose gradients hold NaN or infinite
/// values, found by reading every tensor once: `fisher(..., nonfinite=skip)`
/// leaves them out and says how many and where; a refusal counts them.
public struct NonFiniteScan: Sendable {
    /// An example's non-finite values in one tensor.
    public struct Finding: Sendable, Equatable {
        public let file: String
        public let tensor: String
        /// Numbered over all shards in order.
        public let example: Int
        public let values: Int
    }

    /// Examples (numbered over all shards in order) holding a non-finite value.
    public private(set) var examples: Set<Int> = []
    /// Non-finite values in all.
    public private(set) var values = 0
    /// The first few findings, in reading order (file, layer, tensor, example).
    public private(set) var first: [Finding] = []

    mutating func record(_ finding: Finding) {
        examples.insert(finding.example)
        values += finding.values
        if first.count < 3 { first.append(finding) }
    }

    /// `2 of 20 examples (3 values; first: g.safetensors tensor 'fc.weight'
    /// example 2, ...)`; `total` is the number of examples read.
    public func summary(of total: Int) -> String {
        let listed = first.map { "\($0.file) tensor '\($0.tensor)' example \($0.example)" }.joined(separator: ", ")
        let more = first.count < examples.count || values > first.reduce(0) { $0 + $1.values } ? ", ..." : ""
        return "\(examples.count) of \(total) examples (\(values) value\(values == 1 ? "" : "s"); first: \(listed)\(more))"
    }
}
