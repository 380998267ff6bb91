/// 64-bit FNV-1a, a fast non-cryptographic hash for feature hashing and test fixtures
/// (never for secrets: those use SHA-256).
enum FNV1a {
    static func hash(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return hash
    }
}
