import CCrypto

/// The digests metadata names files by (`"hashes": {"sha256": …, "sha512": …}`).
public enum TrustDigest {
    public static func sha256(_ bytes: [UInt8]) -> [UInt8] { digest(bytes, count: 32, crypto_sha256) }
    public static func sha512(_ bytes: [UInt8]) -> [UInt8] { digest(bytes, count: 64, crypto_sha512) }

    private static func digest(
        _ bytes: [UInt8], count: Int, _ function: (UnsafeRawPointer?, Int, UnsafeMutablePointer<UInt8>?) -> Int32
    ) -> [UInt8] {
        // Without libcrypto there is no content trust at all; the first key or signature
        // reports it as an error, a digest (which cannot throw) stops here.
        do { try Libcrypto.load() } catch { fatalError("\(error)") }
        var digest = [UInt8](repeating: 0, count: count)
        let status = bytes.withUnsafeBytes { input in
            digest.withUnsafeMutableBufferPointer { function(input.baseAddress, input.count, $0.baseAddress) }
        }
        precondition(status == 0, "libcrypto refused to hash \(bytes.count) bytes")
        return digest
    }
}
