import CDigest

/// A content address, `sha256:<64 hex>`, the only algorithm OCI images use in practice.
public struct Digest: Hashable, Codable, Sendable, CustomStringConvertible, Comparable {
    public let hex: String

    public init(hex: String) { self.hex = hex }

    /// Parses `sha256:HEX`; anything else is refused, naming the value.
    public init(parsing text: String, field: String) throws {
        guard text.hasPrefix("sha256:"), let digest = Digest(hexOnly: String(text.dropFirst(7))) else {
            throw RuntimeError("\(field) \"\(text)\": expected sha256: and 64 lowercase hex digits")
        }
        self = digest
    }

    /// 64 lowercase hex digits alone (docker-save names blobs that way).
    public init?(hexOnly text: String) {
        guard text.utf8.count == 64, text.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else {
            return nil
        }
        hex = text
    }

    public var description: String { "sha256:\(hex)" }
    public var short: String { String(hex.prefix(12)) }
    public static func < (a: Digest, b: Digest) -> Bool { a.hex < b.hex }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        self = try Digest(parsing: text, field: "digest")
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    public static func of(_ bytes: some Sequence<UInt8>) throws -> Digest {
        let hasher = try Hasher()
        hasher.update(Array(bytes))
        return hasher.finish()
    }

    /// SHA-256 fed piece by piece while bytes stream past, with a running byte count.
    /// libcrypto does the hashing; it is loaded on first use.
    public final class Hasher {
        private var state: UnsafeMutableRawPointer?
        public private(set) var count: Int64 = 0

        public init() throws {
            try loadLibrary { sha256_load($0, $1) }
            state = sha256_new()
            guard state != nil else { throw RuntimeError("libcrypto: cannot start a SHA-256") }
        }

        deinit {
            if state != nil {
                var discard = [UInt8](repeating: 0, count: 32)
                _ = sha256_final(state, &discard)
            }
        }

        public func update(_ bytes: UnsafeRawBufferPointer) {
            _ = sha256_update(state, bytes.baseAddress, bytes.count)
            count += Int64(bytes.count)
        }

        public func update(_ bytes: [UInt8]) {
            bytes.withUnsafeBytes { update($0) }
        }

        public func finish() -> Digest {
            var digest = [UInt8](repeating: 0, count: 32)
            _ = sha256_final(state, &digest)
            state = nil
            let hex = Array("0123456789abcdef".utf8)
            var text: [UInt8] = []
            text.reserveCapacity(64)
            for byte in digest {
                text.append(hex[Int(byte >> 4)])
                text.append(hex[Int(byte & 0x0f)])
            }
            return Digest(hex: String(decoding: text, as: UTF8.self))
        }
    }
}
