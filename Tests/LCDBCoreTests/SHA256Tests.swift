import Testing
@testable import LCDBCore

/// SHA-256 against FIPS 180-4's examples (as Python's hashlib gives them),
/// and fed in pieces of every size across block boundaries.
struct SHA256Tests {
    static func digest(_ text: String) -> String {
        var hash = SHA256()
        hash.update(text)
        return hash.finalize()
    }

    @Test func standardVectors() {
        #expect(Self.digest("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Self.digest("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Self.digest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(Self.digest(String(repeating: "a", count: 1_000_000)) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
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
