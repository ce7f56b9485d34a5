import CCrypto

/// libcrypto through Sources/CCrypto: loaded with dlopen the first time a key, a signature
/// or a digest is needed, so that commands without content trust never load it.
enum Libcrypto {
    static func load() throws(TrustError) {
        var error = [CChar](repeating: 0, count: 256)
        guard crypto_load(&error, error.count) == 0 else { throw .unavailable(text(error)) }
    }

    /// A NUL-terminated message from C.
    static func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// What a CCrypto call that hands out a buffer gave back.
    enum Outcome {
        case bytes(SecretBytes)
        /// The call's status (-1, or -2 for a wrong passphrase) and its reason.
        case failed(Int32, String)
    }

    /// Calls `body` with the out-buffer, its count and an error buffer, and takes the result.
    static func call(
        _ body: (UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>, UnsafeMutablePointer<Int>, UnsafeMutablePointer<CChar>, Int) -> Int32
    ) -> Outcome {
        var out: UnsafeMutablePointer<UInt8>? = nil
        var count = 0
        var error = [CChar](repeating: 0, count: 256)
        let status = error.withUnsafeMutableBufferPointer { body(&out, &count, $0.baseAddress!, $0.count) }
        guard status == 0, let out else {
            return .failed(status == 0 ? -1 : status, text(error))
        }
        return .bytes(SecretBytes(taking: out, count: count))
    }

    /// `call` for results that are no secret (public keys, signatures, certificates).
    static func bytes(_ what: String, _ outcome: Outcome) throws(TrustError) -> [UInt8] {
        switch outcome {
        case .bytes(let secret): return secret.array
        case .failed(_, let reason): throw .key("\(what): \(reason)")
        }
    }

    /// `call` for results that are no secret (public keys, signatures, certificates).
    static func bytes(
        _ what: String,
        _ body: (UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>, UnsafeMutablePointer<Int>, UnsafeMutablePointer<CChar>, Int) -> Int32
    ) throws(TrustError) -> [UInt8] {
        switch call(body) {
        case .bytes(let secret): return secret.array
        case .failed(_, let reason): throw .key("\(what): \(reason)")
        }
    }
}

/// Bytes CCrypto handed out (malloc'd), zeroed before they are freed: the same path serves
/// anything that could hold key material.
final class SecretBytes: @unchecked Sendable {
    let base: UnsafeMutablePointer<UInt8>
    let count: Int

    init(taking base: UnsafeMutablePointer<UInt8>, count: Int) {
        self.base = base
        self.count = count
    }

    deinit { crypto_free(base, count) }

    var array: [UInt8] { Array(UnsafeBufferPointer(start: base, count: count)) }
}
