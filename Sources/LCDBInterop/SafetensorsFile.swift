import Foundation

/// A safetensors file: an 8-byte little-endian header length, a JSON header
/// `name -> {dtype, shape, data_offsets}` (offsets relative to the data
/// section), then the data. Parsing checks every offset and size against the
/// file before any value is read.
public struct SafetensorsFile: Sendable {
    public struct Tensor: Equatable, Sendable {
        public let name: String
        public let dtype: TensorDType
        public let shape: [Int]
        /// Byte range in the whole file.
        public let range: Range<Int>
        public var count: Int { shape.reduce(1, *) }
    }

    public let path: String
    /// Tensors in the order of the header.
    public let tensors: [Tensor]
    public let metadata: [(key: String, value: String)]
    /// The whole file, or empty when opened with `open`, which reads values
    /// from the file on demand (for data larger than memory).
    private let bytes: Data
    private let streamed: Bool

    /// Largest header accepted (the format's reference implementation uses 100 MB).
    static let maxHeaderLength = 100_000_000

    /// Maps the whole file (no copy) and checks its header.
    public static func read(_ path: String) throws -> SafetensorsFile {
        try FileRegion.requireRegularInput(path)
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) else {
            throw InteropError(path, "cannot read the file (missing or not readable)")
        }
        return try SafetensorsFile(data: data, path: path)
    }

    /// Reads only the header; values are read from the file when asked for.
    public static func open(_ path: String) throws -> SafetensorsFile {
        try FileRegion.requireRegularInput(path)
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw InteropError(path, "cannot read the file (missing or not readable)")
        }
        defer { try? handle.close() }
        let fileSize = Int((try? handle.seekToEnd()) ?? 0)
        try? handle.seek(toOffset: 0)
        let prefix = [UInt8]((try? handle.read(upToCount: 8)) ?? Data())
        var header: [UInt8] = []
        if prefix.count == 8 {
            let length = SafetensorsFile.headerLength(prefix)
            if length <= UInt64(max(0, fileSize - 8)) && length <= UInt64(maxHeaderLength) {
                header = [UInt8]((try? handle.read(upToCount: Int(length))) ?? Data())
            }
        }
        return try SafetensorsFile(prefix: prefix, header: header, fileSize: fileSize, bytes: Data(), streamed: true, path: path)
    }

    public init(bytes: [UInt8], path: String) throws {
        try self.init(data: Data(bytes), path: path)
    }

    public init(data: Data, path: String) throws {
        let prefix = [UInt8](data.prefix(8))
        var header: [UInt8] = []
        if prefix.count == 8 {
            let length = SafetensorsFile.headerLength(prefix)
            if length <= UInt64(data.count - 8) && length <= UInt64(SafetensorsFile.maxHeaderLength) {
                header = [UInt8](data[data.startIndex + 8 ..< data.startIndex + 8 + Int(length)])
            }
        }
        try self.init(prefix: prefix, header: header, fileSize: data.count, bytes: data, streamed: false, path: path)
    }

    static func headerLength(_ prefix: [UInt8]) -> UInt64 {
        prefix.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
    }

    private init(prefix: [UInt8], header headerBytes: [UInt8], fileSize: Int, bytes: Data, streamed: Bool, path: String) throws {
        self.path = path
        self.bytes = bytes
        self.streamed = streamed
        func fail(_ message: String) -> InteropError { InteropError(path, message) }
        guard fileSize >= 8, prefix.count == 8 else {
            throw fail("truncated: \(fileSize) bytes, shorter than the 8-byte header length")
        }
        let headerLength = SafetensorsFile.headerLength(prefix)
        guard headerLength <= UInt64(fileSize - 8) else {
            throw fail("header length \(headerLength) is larger than the file (\(fileSize) bytes): the file is truncated or not safetensors")
        }
        guard headerLength <= UInt64(SafetensorsFile.maxHeaderLength) else {
            throw fail("header length \(headerLength) is over the limit of \(SafetensorsFile.maxHeaderLength) bytes")
        }
        guard headerBytes.count == Int(headerLength) else { throw fail("cannot read the header") }
        let dataStart = 8 + Int(headerLength)
        let dataSize = fileSize - dataStart
        let header: JSONValue
        do { header = try JSONReader.parse(headerBytes) } catch let error as JSONReader.Error {
            throw fail("invalid JSON header: \(error.message) at byte \(8 + error.offset)")
        }
        guard case .object(let members) = header else { throw fail("the header is not a JSON object") }
        var tensors: [Tensor] = []
        var metadata: [(key: String, value: String)] = []
        var names = Set<String>()
        for (name, value) in members {
            if name == "__metadata__" {
                guard case .object(let pairs) = value else { throw fail("__metadata__ is not an object") }
                for (key, text) in pairs {
                    guard let text = text.string else { throw fail("__metadata__ value of '\(key)' is not a string") }
                    metadata.append((key, text))
                }
                continue
            }
            guard names.insert(name).inserted else { throw fail("tensor '\(name)' appears twice in the header") }
            guard let dtypeName = value["dtype"]?.string else { throw fail("tensor '\(name)' has no dtype") }
            guard let dtype = TensorDType(rawValue: dtypeName) else {
                throw fail("tensor '\(name)' has an unknown dtype '\(dtypeName)'")
            }
            guard case .array(let dims)? = value["shape"] else { throw fail("tensor '\(name)' has no shape") }
            var shape: [Int] = []
            var count = 1
            for dim in dims {
                guard let size = dim.integer, size >= 0 else { throw fail("tensor '\(name)' has an invalid shape \(value["shape"]?.text ?? "")") }
                let (product, overflow) = count.multipliedReportingOverflow(by: size)
                guard !overflow else { throw fail("tensor '\(name)': shape \(shape + [size]) overflows") }
                shape.append(size)
                count = product
            }
            guard case .array(let offsets)? = value["data_offsets"], offsets.count == 2,
                  let begin = offsets[0].integer, let end = offsets[1].integer else {
                throw fail("tensor '\(name)' has no valid data_offsets")
            }
            guard begin >= 0, begin <= end, end <= dataSize else {
                throw fail("tensor '\(name)': data_offsets [\(begin), \(end)] lie outside the \(dataSize) bytes of data")
            }
            let (needed, overflow) = count.multipliedReportingOverflow(by: dtype.size)
            guard !overflow, needed == end - begin else {
                throw fail("tensor '\(name)': shape \(shape) of \(dtype.rawValue) needs \(overflow ? "too many" : String(needed)) bytes, but data_offsets give \(end - begin)")
            }
            tensors.append(Tensor(name: name, dtype: dtype, shape: shape, range: (dataStart + begin) ..< (dataStart + end)))
        }
        let sorted = tensors.sorted { $0.range.lowerBound < $1.range.lowerBound }
        for (a, b) in zip(sorted, sorted.dropFirst()) where a.range.overlaps(b.range) {
            throw fail("tensors '\(a.name)' and '\(b.name)' overlap in the data")
        }
        self.tensors = tensors
        self.metadata = metadata
    }

    public func tensor(named name: String) -> Tensor? { tensors.first { $0.name == name } }

    /// A floating tensor's values as Doubles (exact).
    public func values(of tensor: Tensor) throws -> [Double] {
        try values(of: tensor, elements: 0 ..< tensor.count)
    }

    /// A floating tensor's values decoded straight into `target` (tensor.count values).
    public func decode<Scalar: BinaryFloatingPoint>(_ tensor: Tensor, into target: UnsafeMutablePointer<Scalar>) throws {
        guard tensor.dtype.isFloatingPoint else {
            throw InteropError(path, "tensor '\(tensor.name)' is \(tensor.dtype.rawValue), not a floating-point tensor")
        }
        guard tensor.count > 0 else { return }
        if streamed {
            let raw = try FileRegion.read(path, offset: tensor.range.lowerBound, count: tensor.count * tensor.dtype.size)
            raw.withUnsafeBytes { TensorDType.decode(tensor.dtype, $0, offset: 0, count: tensor.count, into: target) }
        } else {
            bytes.withUnsafeBytes { TensorDType.decode(tensor.dtype, $0, offset: tensor.range.lowerBound, count: tensor.count, into: target) }
        }
    }

    /// Some of a floating tensor's values (row-major element indices), read
    /// from the file itself when the file was opened with `open`.
    public func values<Scalar: BinaryFloatingPoint>(of tensor: Tensor, elements: Range<Int>,
                                                    as _: Scalar.Type = Double.self) throws -> [Scalar] {
        guard tensor.dtype.isFloatingPoint else {
            throw InteropError(path, "tensor '\(tensor.name)' is \(tensor.dtype.rawValue), not a floating-point tensor")
        }
        precondition(elements.lowerBound >= 0 && elements.upperBound <= tensor.count, "element range outside the tensor")
        let start = tensor.range.lowerBound + elements.lowerBound * tensor.dtype.size
        if !streamed {
            return bytes.withUnsafeBytes { TensorDType.decode(tensor.dtype, $0, offset: start, count: elements.count, as: Scalar.self) }
        }
        let raw = try FileRegion.read(path, offset: start, count: elements.count * tensor.dtype.size)
        return raw.withUnsafeBytes { TensorDType.decode(tensor.dtype, $0, offset: 0, count: elements.count, as: Scalar.self) }
    }

    /// The raw little-endian bytes of some of a floating tensor's values
    /// (row-major element indices), passed to `body`: from the file itself
    /// into `scratch` (grown as needed, reused by the caller across reads)
    /// when the file was opened with `open`, else from memory.
    func withRawBytes<R>(of tensor: Tensor, elements: Range<Int>, scratch: inout [UInt8],
                         _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        guard tensor.dtype.isFloatingPoint else {
            throw InteropError(path, "tensor '\(tensor.name)' is \(tensor.dtype.rawValue), not a floating-point tensor")
        }
        precondition(elements.lowerBound >= 0 && elements.upperBound <= tensor.count, "element range outside the tensor")
        let start = tensor.range.lowerBound + elements.lowerBound * tensor.dtype.size
        let count = elements.count * tensor.dtype.size
        if !streamed {
            return try bytes.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[start ..< start + count])) }
        }
        if scratch.count < count { scratch = [UInt8](repeating: 0, count: count) }
        return try scratch.withUnsafeMutableBytes { buffer in
            if count > 0 { try FileRegion.read(path, offset: start, count: count, into: buffer.baseAddress!) }
            return try body(UnsafeRawBufferPointer(rebasing: buffer[0 ..< count]))
        }
    }

    /// Some of an integer tensor's values (row-major element indices): token
    /// indices of an Embedding's inputs.
    public func integers(of tensor: Tensor, elements: Range<Int>) throws -> [Int] {
        guard !tensor.dtype.isFloatingPoint, tensor.dtype != .bool else {
            throw InteropError(path, "tensor '\(tensor.name)' is \(tensor.dtype.rawValue), not an integer tensor")
        }
        precondition(elements.lowerBound >= 0 && elements.upperBound <= tensor.count, "element range outside the tensor")
        let size = tensor.dtype.size
        let start = tensor.range.lowerBound + elements.lowerBound * size
        let raw = streamed ? try FileRegion.read(path, offset: start, count: elements.count * size) : bytes.subdata(in: start ..< start + elements.count * size)
        return raw.withUnsafeBytes { b in
            (0 ..< elements.count).map { i -> Int in
                let at = i * size
                switch tensor.dtype {
                case .i64: return Int(Int64(littleEndian: b.loadUnaligned(fromByteOffset: at, as: Int64.self)))
                case .u64: return Int(truncatingIfNeeded: UInt64(littleEndian: b.loadUnaligned(fromByteOffset: at, as: UInt64.self)))
                case .i32: return Int(Int32(littleEndian: b.loadUnaligned(fromByteOffset: at, as: Int32.self)))
                case .u32: return Int(UInt32(littleEndian: b.loadUnaligned(fromByteOffset: at, as: UInt32.self)))
                case .i16: return Int(Int16(littleEndian: b.loadUnaligned(fromByteOffset: at, as: Int16.self)))
                case .u16: return Int(UInt16(littleEndian: b.loadUnaligned(fromByteOffset: at, as: UInt16.self)))
                case .i8: return Int(b.load(fromByteOffset: at, as: Int8.self))
                default: return Int(b.load(fromByteOffset: at, as: UInt8.self))
                }
            }
        }
    }

    /// The header of a file whose tensors are written afterwards in order
    /// (streamed exports): 8-byte length, JSON padded to 8 bytes.
    public static func header(for tensors: [(name: String, dtype: TensorDType, shape: [Int])]) -> Data {
        var members: [(key: String, value: JSONValue)] = []
        var offset = 0
        for tensor in tensors {
            let size = tensor.shape.reduce(1, *) * tensor.dtype.size
            members.append((tensor.name, .object([
                ("dtype", .string(tensor.dtype.rawValue)),
                ("shape", .array(tensor.shape.map { .number(Double($0), text: String($0)) })),
                ("data_offsets", .array([.number(Double(offset), text: String(offset)), .number(Double(offset + size), text: String(offset + size))])),
            ])))
            offset += size
        }
        var json = Array(JSONValue.object(members).text.utf8)
        while (8 + json.count) % 8 != 0 { json.append(0x20) }
        var out = Data()
        var length = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &length) { out.append(contentsOf: $0) }
        out.append(contentsOf: json)
        return out
    }

    /// Writes tensors (float32 or float64 values, in order) as a safetensors file.
    public static func write(_ tensors: [(name: String, shape: [Int], values: TensorValues)], to path: String) throws {
        var header: [(key: String, value: JSONValue)] = []
        var offset = 0
        for tensor in tensors {
            let size = tensor.values.byteCount
            header.append((tensor.name, .object([
                ("dtype", .string(tensor.values.dtype.rawValue)),
                ("shape", .array(tensor.shape.map { .number(Double($0), text: String($0)) })),
                ("data_offsets", .array([.number(Double(offset), text: String(offset)), .number(Double(offset + size), text: String(offset + size))])),
            ])))
            offset += size
        }
        var json = Array(JSONValue.object(header).text.utf8)
        while (8 + json.count) % 8 != 0 { json.append(0x20) } // align the data to 8 bytes
        var out = Data()
        var length = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &length) { out.append(contentsOf: $0) }
        out.append(contentsOf: json)
        for tensor in tensors { tensor.values.append(to: &out) }
        try FileWriter.write(out, to: path)
    }
}

/// Values to write: float32 or float64, little-endian.
public enum TensorValues: Sendable {
    case float32([Float])
    case float64([Double])

    var dtype: TensorDType {
        switch self {
        case .float32: .f32
        case .float64: .f64
        }
    }

    var byteCount: Int {
        switch self {
        case .float32(let values): values.count * 4
        case .float64(let values): values.count * 8
        }
    }

    func append(to data: inout Data) {
        switch self {
        case .float32(let values): values.withUnsafeBytes { data.append(contentsOf: $0) }
        case .float64(let values): values.withUnsafeBytes { data.append(contentsOf: $0) }
        }
    }
}
