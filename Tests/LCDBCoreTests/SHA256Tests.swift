import Foundation
import Testing
@testable import LCDBCore

/// SHA-256 against FIPS 180-4's examples (as Python's hashlib gives them),
/// on both paths (the x86 SHA extensions when this CPU has them, and the
/// portable code), and fed in pieces of every size across block boundaries.
struct SHA256Tests {
    static func digest(_ text: String, hardware: Bool) -> String {
        var hash = SHA256()
        hash.usesHardware = hardware
        hash.update(text)
        return hash.finalize()
    }

    static var paths: [Bool] { SHA256.hardware ? [true, false] : [false] }

    @Test func standardVectors() {
        for hardware in Self.paths {
            #expect(Self.digest("", hardware: hardware) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
            #expect(Self.digest("abc", hardware: hardware) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
            #expect(Self.digest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", hardware: hardware)
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
            #expect(Self.digest(String(repeating: "a", count: 1_000_000), hardware: hardware)
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        }
    }

    /// The hardware path is taken whenever Linux reports the extensions.
    @Test func theHardwarePathIsUsedWhereTheCPUHasIt() throws {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let flags = cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") }.map { Set($0.split(separator: " ").map(String.init)) } ?? []
        #expect(SHA256.hardware == (flags.contains("sha_ni") && flags.contains("sse4_1") && flags.contains("ssse3")))
    }

    /// Many blocks at once (the hardware path's loop), against the portable path.
    @Test func bothPathsAgreeOnLongInputs() {
        var generator = SeededGenerator(seed: 5)
        let bytes = (0 ..< 100_003).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        var portable = SHA256()
        portable.usesHardware = false
        portable.update(bytes)
        var fast = SHA256()
        fast.update(bytes)
        #expect(fast.finalize() == portable.finalize())
    }

    @Test func piecesOfAnySizeGiveTheSameDigest() {
        let bytes = (0 ..< 1000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        var whole = SHA256()
        whole.update(bytes)
        let want = whole.finalize()
        for piece in [1, 3, 63, 64, 65, 127, 500] {
            var hash = SHA256()
            for start in stride(from: 0, to: bytes.count, by: piece) {
                hash.update(Array(bytes[start ..< min(bytes.count, start + piece)]))
            }
            #expect(hash.finalize() == want, "pieces of \(piece)")
        }
    }
}
