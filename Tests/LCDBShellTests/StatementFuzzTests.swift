import Foundation
import Testing

/// A statement fuzzer run on the release binary: the statements of the
/// samples, mutated (characters dropped, repeated, swapped and inserted;
/// deep nesting; long flat sums; CRLF and a byte order mark), in batches
/// with --keep-going under a memory cap and a time limit. Every batch must
/// end with status 0 or 1: a result or located errors, never a signal, a
/// time-out or an allocation beyond the cap. Seeded, so a failure repeats.
struct StatementFuzzTests {
    /// A small deterministic generator (SplitMix64), so batches are the same on every run.
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let setup = """
        create collection mlp (fc1 Linear(8, 16), bn BatchNorm1d(16), fc2 Linear(16, 4, bias=false));
        let g = randn(mlp, seed=42); let F = random_spd(mlp, seed=1);
        """

    static func seeds() throws -> [String] {
        let folder = LCDBProcess.packageRoot.appendingPathComponent("samples")
        var statements: [String] = []
        for file in ["quickstart.lc", "natural_gradient.lc", "finetune_diff.lc"] {
            let text = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
            let code = text.split(separator: "\n").filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("--") }.joined(separator: "\n")
            statements += code.split(separator: ";").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
        }
        return statements
    }

    static func mutate(_ statement: String, _ random: inout SplitMix) -> String {
        var characters = Array(statement)
        let alphabet = Array("()+-*;,'\"=.0123456789eE_ \n\r\t\u{FEFF}éΔ✓[]{}\\/#$%&")
        for _ in 0 ..< Int.random(in: 1 ... 4, using: &random) {
            let position = characters.isEmpty ? 0 : Int.random(in: 0 ..< characters.count, using: &random)
            switch Int.random(in: 0 ..< 9, using: &random) {
            case 0 where !characters.isEmpty: characters.remove(at: position)
            case 1: characters.insert(alphabet.randomElement(using: &random)!, at: position)
            case 2 where characters.count > 1:
                let other = Int.random(in: 0 ..< characters.count, using: &random)
                characters.swapAt(position, other)
            case 3:
                let end = min(characters.count, position + Int.random(in: 1 ... 12, using: &random))
                let piece = characters[position ..< end]
                characters.insert(contentsOf: Array(repeating: piece, count: Int.random(in: 2 ... 50, using: &random)).joined(), at: position)
            case 4:
                let depth = [10, 150, 250, 5_000].randomElement(using: &random)!
                return String(repeating: "(", count: depth) + String(characters) + String(repeating: ")", count: depth)
            case 5:
                return String(characters) + String(repeating: " + 1", count: Int.random(in: 100 ... 5_000, using: &random))
            case 6:
                return String(repeating: "norm(", count: Int.random(in: 1 ... 400, using: &random)) + "g" + String(repeating: ")", count: 300)
            case 7: return String(characters).replacingOccurrences(of: "\n", with: "\r\n")
            default:
                let numbers = ["0", "-1", "1e308", "1e-320", "9223372036854775807", "99999999999999999999", "nan", "inf", "1e400"]
                characters.insert(contentsOf: Array(numbers.randomElement(using: &random)!), at: position)
            }
        }
        return String(characters)
    }

    @Test func mutatedStatementsEndInAResultOrAnError() throws {
        let binary = try #require(LCDBProcess.releaseExecutable, "no release binary: run the tests with make test")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lcdb-fuzz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let seeds = try Self.seeds()
        #expect(seeds.count > 20)
        var random = SplitMix(state: 20261129)
        let batches = 6, perBatch = 400
        for batch in 0 ..< batches {
            var script = Self.setup + "\n"
            if batch == 0 { script = "\u{FEFF}" + script }
            for _ in 0 ..< perBatch {
                script += Self.mutate(seeds.randomElement(using: &random)!, &random) + ";\n"
            }
            let file = folder.appendingPathComponent("batch\(batch).lc")
            try script.write(to: file, atomically: true, encoding: .utf8)
            // Exports and imports stay inside the folder; the database is in memory.
            let command = "ulimit -v 4000000; exec timeout 120 '\(binary.path)' --no-init --keep-going :memory: '\(file.path)' >/dev/null 2>&1"
            let result = try LCDBProcess.run(["-c", command], in: folder, executableOverride: "/bin/sh")
            #expect(result.status == 0 || result.status == 1,
                    "batch \(batch) ended with status \(result.status) (124: time-out, >128: a signal); rerun \(file.lastPathComponent)")
        }
    }
}
