import Foundation

/// NumPy's .npy format, versions 1.0 to 3.0: magic `\x93NUMPY`, version,
/// header length (2 bytes in 1.0, 4 in 2.0 and 3.0), a Python dict literal
/// `{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }`, then the data.
/// Floating dtypes f2/f4/f8 in either byte order are read; Fortran-ordered
/// arrays are converted to C order; object arrays are refused.
public struct NPYFile: Sendable {
    public let shape: [Int]
    /// The values in C (row-major) order, exactly as Doubles.
    public let values: [Double]
    public let dtype: TensorDType

    public static func read(_ path: String) throws -> NPYFile {
        return try NPYFile(bytes: [UInt8](try FileRegion.contents(path)), path: path)
    }

    public init(bytes: [UInt8], path: String) throws {
        let layout = try NPYFile.layout(bytes: bytes, fileSize: bytes.count, path: path)
        dtype = layout.dtype
        shape = layout.shape
        var values = bytes.withUnsafeBytes {
            TensorDType.decode(layout.dtype, $0, offset: layout.dataOffset, count: layout.count, bigEndian: layout.bigEndian)
        }
        if layout.fortranOrder && shape.count > 1 { values = NPYFile.fortranToC(values, shape: shape) }
        self.values = values
    }

    /// Where an array's values are in its file, and how they are encoded.
    public struct Layout: Sendable {
        public let shape: [Int]
        public let dtype: TensorDType
        public let bigEndian: Bool
        public let fortranOrder: Bool
        public let dataOffset: Int
        public var count: Int { shape.reduce(1, *) }
    }

    /// Reads only the header of an .npy file (for streamed imports).
    public static func layout(of path: String) throws -> Layout {
        try FileRegion.requireRegularInput(path)
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw InteropError(path, "cannot read the file (missing or not readable)")
        }
        defer { try? handle.close() }
        let fileSize = Int((try? handle.seekToEnd()) ?? 0)
        try? handle.seek(toOffset: 0)
        // Version 1.0 headers are under 64 KiB; 2.0 and 3.0 say their length in the first 12 bytes.
        var prefix = [UInt8]((try? handle.read(upToCount: 12)) ?? Data())
        if prefix.count == 12 {
            let length = prefix[6] == 1 ? Int(prefix[8]) | Int(prefix[9]) << 8 : (8 ..< 12).reduce(0) { $0 | Int(prefix[$1]) << (8 * ($1 - 8)) }
            prefix += [UInt8]((try? handle.read(upToCount: min(length, max(0, fileSize - 12)))) ?? Data())
        }
        return try layout(bytes: prefix, fileSize: fileSize, path: path)
    }

    /// Values `elements` (file order) of an array, read from its file.
    public static func values<Scalar: BinaryFloatingPoint>(_ layout: Layout, elements: Range<Int>, path: String,
                                                           as _: Scalar.Type = Double.self) throws -> [Scalar] {
        let raw = try FileRegion.read(path, offset: layout.dataOffset + elements.lowerBound * layout.dtype.size,
                                      count: elements.count * layout.dtype.size)
        return raw.withUnsafeBytes { TensorDType.decode(layout.dtype, $0, offset: 0, count: elements.count, bigEndian: layout.bigEndian, as: Scalar.self) }
    }

    /// Parses and checks the header found at the start of `bytes` (which need
    /// hold only the header) against a file of `fileSize` bytes.
    static func layout(bytes: [UInt8], fileSize: Int, path: String) throws -> Layout {
        func fail(_ message: String) -> InteropError { InteropError(path, message) }
        let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)
        guard bytes.count >= 10, Array(bytes[0 ..< 6]) == magic else {
            throw fail(fileSize < 10 ? "truncated: \(fileSize) bytes, too short for an .npy header" : "not an .npy file (no \\x93NUMPY magic)")
        }
        let major = bytes[6]
        let headerStart: Int
        let headerLength: Int
        switch major {
        case 1:
            headerStart = 10
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        case 2, 3:
            guard bytes.count >= 12 else { throw fail("truncated: too short for a version \(major) header") }
            headerStart = 12
            headerLength = (8 ..< 12).reduce(0) { $0 | Int(bytes[$1]) << (8 * ($1 - 8)) }
        default:
            throw fail("unsupported .npy version \(major).\(bytes[7]) (lcdb reads 1.0 to 3.0)")
        }
        guard headerLength <= bytes.count - headerStart, headerLength <= fileSize - headerStart else {
            throw fail("header length \(headerLength) is larger than the rest of the file")
        }
        let headerBytes = Array(bytes[headerStart ..< headerStart + headerLength])
        guard let headerText = major == 3 ? String(validating: headerBytes, as: UTF8.self)
                : String(headerBytes.map { Character(Unicode.Scalar($0)) }) else {
            throw fail("the header is not valid UTF-8")
        }
        let header = try NPYHeader(headerText, path: path)
        var count = 1
        for dim in header.shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: dim)
            guard !overflow else { throw fail("shape \(header.shape) overflows") }
            count = product
        }
        let dataStart = headerStart + headerLength
        let (needed, overflow) = count.multipliedReportingOverflow(by: header.dtype.size)
        guard !overflow, needed == fileSize - dataStart else {
            throw fail("shape \(header.shape) of \(header.descr) needs \(needed) bytes of data, the file has \(fileSize - dataStart)")
        }
        return Layout(shape: header.shape, dtype: header.dtype, bigEndian: header.bigEndian,
                      fortranOrder: header.fortranOrder, dataOffset: dataStart)
    }

    /// Reorders column-major values into row-major ones.
    static func fortranToC(_ values: [Double], shape: [Int]) -> [Double] {
        var result = [Double](repeating: 0, count: values.count)
        var columnMajorStrides = [Int](repeating: 1, count: shape.count)
        for axis in 1 ..< shape.count { columnMajorStrides[axis] = columnMajorStrides[axis - 1] * shape[axis - 1] }
        var index = [Int](repeating: 0, count: shape.count)
        for position in 0 ..< values.count {
            result[position] = values[zip(index, columnMajorStrides).reduce(0) { $0 + $1.0 * $1.1 }]
            var axis = shape.count - 1
            while axis >= 0 {
                index[axis] += 1
                if index[axis] < shape[axis] { break }
                index[axis] = 0
                axis -= 1
            }
        }
        return result
    }

    /// The header of a C-ordered little-endian float32 or float64 array,
    /// version 1.0 (2.0 when the header needs it), padded to 64 bytes.
    public static func header(shape: [Int], dtype: TensorDType) -> Data {
        let descr = dtype == .f32 ? "<f4" : "<f8"
        let dims = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(dims), }"
        let version: UInt8 = header.utf8.count + 11 > 65535 ? 2 : 1
        let prefix = version == 1 ? 10 : 12
        while (prefix + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var out = Data([0x93] + Array("NUMPY".utf8) + [version, 0])
        let length = header.utf8.count
        if version == 1 {
            out.append(contentsOf: [UInt8(length & 0xFF), UInt8(length >> 8)])
        } else {
            out.append(contentsOf: (0 ..< 4).map { UInt8((length >> (8 * $0)) & 0xFF) })
        }
        out.append(contentsOf: Array(header.utf8))
        return out
    }

    /// Writes a whole array (see `header`).
    public static func write(shape: [Int], values: TensorValues, to path: String) throws {
        var out = header(shape: shape, dtype: values.dtype)
        values.append(to: &out)
        try FileWriter.write(out, to: path)
    }
}

/// The dict literal of an .npy header, read strictly.
struct NPYHeader {
    let descr: String
    let dtype: TensorDType
    let bigEndian: Bool
    let fortranOrder: Bool
    let shape: [Int]

    init(_ text: String, path: String) throws {
        func fail(_ message: String) -> InteropError { InteropError(path, "invalid .npy header: \(message)") }
        var scanner = Array(text.unicodeScalars)
        var index = 0
        func skip() { while index < scanner.count, scanner[index].properties.isWhitespace { index += 1 } }
        func expect(_ c: Unicode.Scalar) throws {
            skip()
            guard index < scanner.count, scanner[index] == c else { throw fail("expected '\(c)'") }
            index += 1
        }
        func quoted() throws -> String {
            skip()
            guard index < scanner.count, scanner[index] == "'" || scanner[index] == "\"" else { throw fail("expected a quoted string") }
            let quote = scanner[index]
            index += 1
            var out = ""
            while index < scanner.count, scanner[index] != quote { out.unicodeScalars.append(scanner[index]); index += 1 }
            guard index < scanner.count else { throw fail("unterminated string") }
            index += 1
            return out
        }
        var descr: String?
        var fortran: Bool?
        var shape: [Int]?
        try expect("{")
        while true {
            skip()
            if index < scanner.count, scanner[index] == "}" { index += 1; break }
            let key = try quoted()
            try expect(":")
            skip()
            switch key {
            case "descr":
                descr = try quoted()
            case "fortran_order":
                if text.unicodeScalars.dropFirst(index).starts(with: "True".unicodeScalars) { fortran = true; index += 4 }
                else if text.unicodeScalars.dropFirst(index).starts(with: "False".unicodeScalars) { fortran = false; index += 5 }
                else { throw fail("fortran_order must be True or False") }
            case "shape":
                try expect("(")
                var dims: [Int] = []
                while true {
                    skip()
                    if index < scanner.count, scanner[index] == ")" { index += 1; break }
                    var digits = ""
                    while index < scanner.count, ("0" ... "9").contains(scanner[index]) { digits.unicodeScalars.append(scanner[index]); index += 1 }
                    guard let dim = Int(digits) else { throw fail("shape holds a non-integer") }
                    dims.append(dim)
                    skip()
                    if index < scanner.count, scanner[index] == "," { index += 1 }
                }
                shape = dims
            default:
                throw fail("unknown key '\(key)'")
            }
            skip()
            if index < scanner.count, scanner[index] == "," { index += 1 }
        }
        scanner.removeAll()
        guard let descr, let fortranOrder = fortran, let shape else { throw fail("descr, fortran_order and shape are required") }
        self.descr = descr
        self.fortranOrder = fortranOrder
        self.shape = shape
        if descr.contains("O") {
            throw InteropError(path, "dtype '\(descr)' is an object array: it holds Python objects, not numbers, and cannot be read")
        }
        let order = descr.first
        let code = String(descr.dropFirst())
        guard descr.count >= 3, order == "<" || order == ">" || order == "=" || order == "|" else {
            throw InteropError(path, "unsupported dtype '\(descr)' (lcdb reads f2, f4 and f8)")
        }
        switch code {
        case "f8": dtype = .f64
        case "f4": dtype = .f32
        case "f2": dtype = .f16
        default: throw InteropError(path, "unsupported dtype '\(descr)' (lcdb reads f2, f4 and f8)")
        }
        bigEndian = order == ">"
    }
}
