import Foundation
import LCDBCore
import Testing
@testable import LCDBInterop

/// Reading files written by NumPy and the safetensors package (fixtures made by
/// Fixtures/make_fixtures.py), and refusing bad ones.
struct InteropFileTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static func fixture(_ name: String) -> String { fixtures.appendingPathComponent(name).path }
    /// `np.arange(12).reshape(3, 4) / 8 - 0.5`: exact in f2, bf16, f4 and f8.
    static let values: [Double] = (0 ..< 12).map { Double($0) / 8 - 0.5 }

    @Test(arguments: ["c_order_f8.npy", "c_order_f4.npy", "big_endian_f8.npy", "fortran_f8.npy", "half_f2.npy",
                      "version2_f8.npy", "version3_f8.npy"])
    func npyVariantsReadTheSameValues(file: String) throws {
        let array = try NPYFile.read(Self.fixture(file))
        #expect(array.shape == [3, 4])
        #expect(array.values == Self.values)
    }

    @Test func objectArraysAreRefused() throws {
        let path = Self.fixture("objects.npy")
        #expect(throws: InteropError(path, "dtype '|O' is an object array: it holds Python objects, not numbers, and cannot be read")) {
            _ = try NPYFile.read(path)
        }
    }

    @Test func safetensorsDTypesReadExactly() throws {
        let file = try SafetensorsFile.read(Self.fixture("dtypes.safetensors"))
        #expect(file.tensors.map(\.name) == ["a.weight", "b.weight", "c.weight", "d.weight"])
        #expect(file.tensors.map(\.dtype) == [.f64, .f32, .f16, .bf16])
        for tensor in file.tensors {
            #expect(tensor.shape == [3, 4])
            #expect(try file.values(of: tensor) == Self.values, "\(tensor.name)")
        }
    }

    @Test func halfPrecisionDecodesEveryClass() {
        #expect(TensorDType.halfToFloat(0x3C00) == 1)
        #expect(TensorDType.halfToFloat(0xC000) == -2)
        #expect(TensorDType.halfToFloat(0x0001) == 0x1p-24)          // smallest subnormal
        #expect(TensorDType.halfToFloat(0x7BFF) == 65504)            // largest finite
        #expect(TensorDType.halfToFloat(0x7C00) == .infinity)
        #expect(TensorDType.halfToFloat(0x7E00).isNaN)
        #expect(TensorDType.halfToFloat(0x8000).sign == .minus)
    }

    @Test func checkpointInference() throws {
        let file = try SafetensorsFile.read(Self.fixture("package_checkpoint.safetensors"))
        let inference = try CheckpointInference(file)
        let expected = try LayerCollection([
            ("bn", .batchNorm2d(4)), ("conv", .conv2d(3, 4, kernelSize: (3, 3))), ("fc", .linear(4, 2)),
        ])
        #expect(inference.collection == expected)
        #expect(inference.collection.numel == 8 + 112 + 10)
        #expect(inference.skipped.map(\.tensor) == ["bn.num_batches_tracked", "bn.running_mean", "bn.running_var"])
        // The parameter tensors' sizes add up to numel.
        let parameterElements = file.tensors.filter { $0.dtype.isFloatingPoint && !$0.name.contains("running") }.reduce(0) { $0 + $1.count }
        #expect(parameterElements == inference.collection.numel)
    }

    @Test func overridesForceAKind() throws {
        let file = try SafetensorsFile.read(Self.fixture("package_checkpoint.safetensors"))
        let grouped = try CheckpointInference(file, overrides: [.init(pattern: "b?", kind: .groupNorm, arguments: ["num_groups": .int(2)])])
        #expect(try grouped.collection.layer(named: "bn") == (try .groupNorm(numGroups: 2, numChannels: 4)))
        #expect(throws: InteropError(file.path, "module 'bn': GroupNorm needs num_groups, which the shapes cannot tell: give it in the override, e.g. GroupNorm(num_groups=32)")) {
            _ = try CheckpointInference(file, overrides: [.init(pattern: "bn", kind: .groupNorm)])
        }
        // ConvTranspose2d reads the weight as (in, out, kh, kw): the bias (4) no longer fits out = 3.
        #expect(throws: InteropError(file.path, "module 'conv': as ConvTranspose2d(4, 3, kernel_size=(3, 3)) the bias is [3], the file has [4]")) {
            _ = try CheckpointInference(file, overrides: [.init(pattern: "conv*", kind: .convTranspose2d)])
        }
        #expect(Glob.matches("layer1.0.conv1", "layer*.conv?"))
        #expect(!Glob.matches("layer1.0.conv12", "layer*.conv?"))
        #expect(Glob.matches("axxbyybc", "a*b*c") && !Glob.matches("axxbyyb", "a*b*c"))
        #expect(Glob.matches("", "*") && !Glob.matches("", "?*") && Glob.matches("fc", "fc") && !Glob.matches("fc1", "fc"))
        #expect(Glob.matches("h.11.mlp.c_fc", "h.*.mlp.*") && !Glob.matches("h.11.attn.c_attn", "h.*.mlp.*"))
    }

    // MARK: - Bad files

    /// A valid one-tensor file around a header, for corrupting.
    static func safetensors(header: String, data: [UInt8], declaredLength: UInt64? = nil) -> [UInt8] {
        let json = Array(header.utf8)
        let length = declaredLength ?? UInt64(json.count)
        return (0 ..< 8).map { UInt8((length >> (8 * UInt64($0))) & 0xFF) } + json + data
    }

    static let badSafetensors: [(bytes: [UInt8], message: String)] = [
        ([1, 2, 3], "truncated: 3 bytes, shorter than the 8-byte header length"),
        (safetensors(header: "{}", data: [], declaredLength: 1000), "header length 1000 is larger than the file (10 bytes): the file is truncated or not safetensors"),
        (safetensors(header: "{\"a\": [}", data: []), "invalid JSON header: unexpected character at byte 15"),
        (safetensors(header: #"{"a":{"dtype":"F17","shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]), "tensor 'a' has an unknown dtype 'F17'"),
        (safetensors(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: [0, 0, 0, 0]), "tensor 'a': data_offsets [0, 8] lie outside the 4 bytes of data"),
        (safetensors(header: #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8)), "tensor 'a': shape [3] of F32 needs 12 bytes, but data_offsets give 8"),
        (safetensors(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: [UInt8](repeating: 0, count: 8)), "tensors 'a' and 'b' overlap in the data"),
        (safetensors(header: #"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}"#, data: []), "tensor 'a' has an invalid shape [-1]"),
        (safetensors(header: "[1, 2]", data: []), "the header is not a JSON object"),
    ]

    @Test(arguments: badSafetensors.indices)
    func badSafetensorsAreNamedErrors(index: Int) {
        let (bytes, message) = Self.badSafetensors[index]
        #expect(throws: InteropError("bad.safetensors", message)) { _ = try SafetensorsFile(bytes: bytes, path: "bad.safetensors") }
    }

    @Test func badNPYAreNamedErrors() throws {
        let good = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.fixture("c_order_f8.npy"))))
        #expect(throws: InteropError("x.npy", "truncated: 5 bytes, too short for an .npy header")) {
            _ = try NPYFile(bytes: Array(good.prefix(5)), path: "x.npy")
        }
        #expect(throws: InteropError("x.npy", "shape [3, 4] of <f8 needs 96 bytes of data, the file has 88")) {
            _ = try NPYFile(bytes: Array(good.dropLast(8)), path: "x.npy")
        }
        #expect(throws: InteropError("x.npy", "not an .npy file (no \\x93NUMPY magic)")) {
            _ = try NPYFile(bytes: [UInt8](repeating: 65, count: 20), path: "x.npy")
        }
        var future = good
        future[6] = 4
        #expect(throws: InteropError("x.npy", "unsupported .npy version 4.0 (lcdb reads 1.0 to 3.0)")) { _ = try NPYFile(bytes: future, path: "x.npy") }
    }

    // MARK: - Writing

    @Test func writtenFilesReadBack() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lcdb-interop-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let collection = try LayerCollection([("fc", .linear(3, 2)), ("scale", .parameter([2, 2])), ("ln", .layerNorm([2]))])
        let vector = ParameterVector<Float>.random(over: collection, seed: 4)
        for name in ["v.safetensors", "v.npy"] {
            let path = folder.appendingPathComponent(name).path
            try VectorFiles.write(.float32(vector), to: path)
            let (values, nonFinite) = try VectorFiles.read(path, over: collection)
            #expect(values == vector.values.map(Double.init) && nonFinite.isEmpty)
        }
        let names = try SafetensorsFile.read(folder.appendingPathComponent("v.safetensors").path).tensors.map(\.name)
        #expect(names == ["fc.weight", "fc.bias", "scale", "ln.weight", "ln.bias"])
        let json = folder.appendingPathComponent("c.json").path
        try CollectionJSON.write(collection, name: "c", to: json)
        #expect(try CollectionJSON.read(json) == collection)
    }
}
