import Foundation
import LCDBCore
import Testing
@testable import LCDBInterop

/// Mutation fuzzing of the file parsers: 100,000 inputs made from valid files
/// by flipping, overwriting, inserting, deleting and truncating bytes. Every
/// input must either parse or throw an InteropError: no crash, no read past a
/// buffer (Swift's bounds checks would trap), no hang.
struct ParserFuzzTests {
    static let seeds: [(name: String, bytes: [UInt8])] = [
        "dtypes.safetensors", "package_checkpoint.safetensors", "c_order_f8.npy", "fortran_f8.npy",
        "version3_f8.npy", "half_f2.npy", "big_endian_f8.npy",
    ].map { name in
        (name, [UInt8]((try? Data(contentsOf: URL(fileURLWithPath: InteropFileTests.fixture(name)))) ?? Data()))
    }

    static func mutate(_ input: [UInt8], _ generator: inout SeededGenerator) -> [UInt8] {
        var bytes = input
        let edits = 1 + Int(generator.next() % 4)
        for _ in 0 ..< edits {
            let position = bytes.isEmpty ? 0 : Int(generator.next() % UInt64(bytes.count))
            switch generator.next() % 6 {
            case 0 where !bytes.isEmpty: bytes[position] ^= UInt8(1 << (generator.next() % 8))
            case 1 where !bytes.isEmpty: bytes[position] = UInt8(truncatingIfNeeded: generator.next())
            case 2: bytes.insert(contentsOf: (0 ..< 1 + generator.next() % 8).map { _ in UInt8(truncatingIfNeeded: generator.next()) }, at: position)
            case 3 where !bytes.isEmpty: bytes.removeSubrange(position ..< min(bytes.count, position + 1 + Int(generator.next() % 16)))
            case 4: bytes = Array(bytes.prefix(position))
            default:
                // Interesting numbers in the length fields and digits of the header.
                if !bytes.isEmpty { bytes[position] = [0x00, 0xFF, 0x7F, 0x80, UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "\"")][Int(generator.next() % 7)] }
            }
        }
        return bytes
    }

    @Test func hundredThousandMutatedInputs() {
        #expect(Self.seeds.allSatisfy { !$0.bytes.isEmpty })
        var generator = SeededGenerator(seed: 2026)
        let rounds = 100_000
        var parsed = 0, refused = 0, unexpected: [String] = []
        for round in 0 ..< rounds {
            let (name, seed) = Self.seeds[round % Self.seeds.count]
            let input = Self.mutate(seed, &generator)
            do {
                if name.hasSuffix(".npy") {
                    _ = try NPYFile(bytes: input, path: name)
                } else {
                    let file = try SafetensorsFile(bytes: input, path: name)
                    for tensor in file.tensors where tensor.dtype.isFloatingPoint { _ = try file.values(of: tensor) }
                    _ = try? CheckpointInference(file)
                }
                parsed += 1
            } catch is InteropError {
                refused += 1
            } catch {
                if unexpected.count < 5 { unexpected.append("\(name) round \(round): \(error)") }
            }
        }
        #expect(parsed + refused == rounds)
        #expect(unexpected.isEmpty, "\(unexpected)")
        #expect(refused > rounds / 2, "most mutations break a file (parsed \(parsed), refused \(refused))")
    }

    @Test func randomBytesAsJSON() {
        var generator = SeededGenerator(seed: 7)
        let alphabet = Array("{}[]\",:0123456789.-eE tfalsnru\\".utf8)
        for _ in 0 ..< 20_000 {
            let length = Int(generator.next() % 40)
            let bytes = (0 ..< length).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] }
            _ = try? JSONReader.parse(bytes)
        }
        // Deep nesting is refused, not a stack overflow.
        #expect(throws: JSONReader.Error.self) { _ = try JSONReader.parse(Array(String(repeating: "[", count: 100_000).utf8)) }
    }
}
