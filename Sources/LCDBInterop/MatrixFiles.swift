import Foundation
import LCDBCore

/// Block-diagonal matrices to and from files, one 2-D `side x side` tensor
/// per layer named after the layer: a safetensors file, or a directory with
/// one `<layer>.npy` per layer. Both directions go row panel by row panel, so
/// blocks larger than memory pass through (a Fortran-ordered .npy block is
/// the exception: it is read whole, to transpose it).
public enum MatrixFiles {
    /// Streams a matrix out: `tiles` must call its argument for every tile of
    /// every block, in order (position, side, rows, raw bytes of `dtype`).
    public static func export(_ collection: LayerCollection, dtype: DType, to path: String,
                              tiles: ((Int, Int, Range<Int>, UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        let fileDType: TensorDType = dtype == .float32 ? .f32 : .f64
        if path.lowercased().hasSuffix(".safetensors") {
            let writer = try FileWriter(path)
            try writer.write(SafetensorsFile.header(for: collection.entries.map { ($0.name, fileDType, [$0.layer.numel, $0.layer.numel]) }))
            try tiles { _, _, _, bytes in try writer.write(bytes) }
            try writer.close()
            return
        }
        // One .npy holds one array: a one-block matrix is written there, a
        // larger one would need a directory that the name does not announce.
        let single = path.lowercased().hasSuffix(".npy")
        if single {
            guard collection.count == 1 else {
                throw InteropError(path, "a .npy file holds one array, and this matrix has \(collection.count) blocks; export to a .safetensors file, or to a directory name (one <layer>.npy per block)")
            }
        } else {
            switch FileKind.of(path) {
            case nil:
                do {
                    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
                } catch {
                    throw InteropError(path, "cannot create the directory")
                }
            case .directory?: break
            case let kind?:
                throw InteropError(path, "is \(kind.description); a matrix exports to a .safetensors file or a directory of .npy files")
            }
        }
        var writer: FileWriter?
        var current = -1
        try tiles { position, side, _, bytes in
            if position != current {
                try writer?.close()
                let file = single ? path : (path as NSString).appendingPathComponent(try fileName(collection.entries[position].name, path))
                writer = try FileWriter(file)
                try writer?.write(NPYFile.header(shape: [side, side], dtype: fileDType))
                current = position
            }
            try writer?.write(bytes)
        }
        try writer?.close()
    }

    /// A layer's .npy file name in a directory export.
    static func fileName(_ layer: String, _ path: String) throws -> String {
        guard !layer.contains("/"), layer != ".", layer != ".." else {
            throw InteropError(path, "layer '\(layer)' cannot be a file name; export to a .safetensors file instead")
        }
        return layer + ".npy"
    }

    /// A reader of row panels from a safetensors file or a .npy directory,
    /// checking every block's presence and shape first.
    public struct Reader {
        private let read: (Int, Range<Int>) throws -> [Double]
        private let readFloats: (Int, Range<Int>) throws -> [Float]
        /// float64 when any block is stored as float64 in the file, else float32.
        public let fileDType: DType

        public init(_ path: String, over collection: LayerCollection) throws {
            let sides = collection.entries.map(\.layer.numel)
            if path.lowercased().hasSuffix(".safetensors") {
                let file = try SafetensorsFile.open(path)
                let tensors = try collection.entries.enumerated().map { index, entry -> SafetensorsFile.Tensor in
                    guard let tensor = file.tensor(named: entry.name) else {
                        throw InteropError(path, "no tensor '\(entry.name)' for the block of layer '\(entry.name)'")
                    }
                    guard tensor.shape == [sides[index], sides[index]] else {
                        throw InteropError(path, "tensor '\(entry.name)' has shape \(tensor.shape), the block of layer '\(entry.name)' is [\(sides[index]), \(sides[index])]")
                    }
                    return tensor
                }
                read = { position, rows in
                    try file.values(of: tensors[position], elements: rows.lowerBound * sides[position] ..< rows.upperBound * sides[position])
                }
                readFloats = { position, rows in
                    try file.values(of: tensors[position], elements: rows.lowerBound * sides[position] ..< rows.upperBound * sides[position],
                                    as: Float.self)
                }
                fileDType = tensors.contains { $0.dtype == .f64 } ? .float64 : .float32
            } else {
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
                    throw InteropError(path, "not a .safetensors file or a directory of .npy files")
                }
                let files = try collection.entries.map { (path as NSString).appendingPathComponent(try MatrixFiles.fileName($0.name, path)) }
                let layouts = try collection.entries.enumerated().map { index, entry -> NPYFile.Layout in
                    let layout = try NPYFile.layout(of: files[index])
                    guard layout.shape == [sides[index], sides[index]] else {
                        throw InteropError(files[index], "shape \(layout.shape), the block of layer '\(entry.name)' is [\(sides[index]), \(sides[index])]")
                    }
                    return layout
                }
                var transposed: (position: Int, values: [Double])?
                read = { position, rows in
                    let side = sides[position]
                    if layouts[position].fortranOrder {
                        if transposed?.position != position {
                            transposed = (position, try NPYFile.read(files[position]).values)
                        }
                        let values = transposed?.values ?? []
                        return Array(values[rows.lowerBound * side ..< rows.upperBound * side])
                    }
                    return try NPYFile.values(layouts[position], elements: rows.lowerBound * side ..< rows.upperBound * side, path: files[position])
                }
                let readDoubles = read
                readFloats = { position, rows in
                    let side = sides[position]
                    if layouts[position].fortranOrder { return try readDoubles(position, rows).map { Float($0) } }
                    return try NPYFile.values(layouts[position], elements: rows.lowerBound * side ..< rows.upperBound * side,
                                              path: files[position], as: Float.self)
                }
                fileDType = layouts.contains { $0.dtype == .f64 } ? .float64 : .float32
            }
        }

        /// Rows `rows` of block `position`, as Doubles (exact).
        public func rows(_ position: Int, _ rows: Range<Int>) throws -> [Double] { try read(position, rows) }

        /// The same rows as Float, decoded straight from the file: float32
        /// data keeps its bits (a signalling NaN stays signalling, which a
        /// detour through Double would quiet).
        public func rows(_ position: Int, _ rows: Range<Int>, as _: Float.Type) throws -> [Float] { try readFloats(position, rows) }
    }
}
