/// The text forms metadata carries bytes in: hex (TUF signatures, hashes, ed25519 keys),
/// base64 (everything in Notary, as Go's `encoding/json` writes `[]byte`), and PEM (TUF's
/// ecdsa and rsa keys, Notary's certificates). Strict: a decoder that skips what it does
/// not understand would let two files with different bytes mean the same key.
public enum TrustEncoding {
    // MARK: Hex

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// Lowercase, as securesystemslib and notary write it.
    public static func hex(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(hexDigits[Int(byte >> 4)])
            out.append(hexDigits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Either case; nil for an odd length or a character that is not a hex digit.
    public static func bytes(hex text: String) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count / 2)
        var index = 0
        while index < utf8.count {
            guard let high = hexValue(utf8[index]), let low = hexValue(utf8[index + 1]) else { return nil }
            out.append(high << 4 | low)
            index += 2
        }
        return out
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    // MARK: Base64 (RFC 4648 standard alphabet, padded, as Go's StdEncoding)

    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let reverse: [UInt8] = {
        var table = [UInt8](repeating: 0xff, count: 256)
        for (index, byte) in alphabet.enumerated() { table[Int(byte)] = UInt8(index) }
        return table
    }()

    public static func base64(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index + 3 <= bytes.count {
            let value = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            out.append(alphabet[Int(value >> 18 & 0x3f)])
            out.append(alphabet[Int(value >> 12 & 0x3f)])
            out.append(alphabet[Int(value >> 6 & 0x3f)])
            out.append(alphabet[Int(value & 0x3f)])
            index += 3
        }
        let rest = bytes.count - index
        if rest > 0 {
            let value = UInt32(bytes[index]) << 16 | (rest == 2 ? UInt32(bytes[index + 1]) << 8 : 0)
            out.append(alphabet[Int(value >> 18 & 0x3f)])
            out.append(alphabet[Int(value >> 12 & 0x3f)])
            out.append(rest == 2 ? alphabet[Int(value >> 6 & 0x3f)] : UInt8(ascii: "="))
            out.append(UInt8(ascii: "="))
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Padded standard base64 with no whitespace; nil otherwise (also for non-zero bits
    /// after the last byte, which Go's strict decoding refuses too).
    public static func bytes(base64 text: String) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 4 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count / 4 * 3)
        var index = 0
        while index < utf8.count {
            let last = index + 4 == utf8.count
            var value: UInt32 = 0
            var padding = 0
            for offset in 0..<4 {
                let byte = utf8[index + offset]
                if byte == UInt8(ascii: "=") && last && offset >= 2 {
                    padding += 1
                    value <<= 6
                    continue
                }
                let digit = reverse[Int(byte)]
                guard digit != 0xff, padding == 0 else { return nil }
                value = value << 6 | UInt32(digit)
            }
            out.append(UInt8(value >> 16 & 0xff))
            if padding < 2 { out.append(UInt8(value >> 8 & 0xff)) } else if value & 0xffff != 0 { return nil }
            if padding < 1 { out.append(UInt8(value & 0xff)) } else if value & 0xff != 0 { return nil }
            index += 4
        }
        return out
    }

    // MARK: PEM

    /// One block, base64 in lines of 64 as OpenSSL and Python's `cryptography` write it,
    /// ending in a newline: the exact text securesystemslib puts in `keyval.public`, so key
    /// IDs computed over it agree.
    public static func pem(_ der: [UInt8], label: String) -> String {
        String(decoding: PEM(type: label, der: der).encoded, as: UTF8.self)
    }

    /// The first block, which must be labelled `label` and carry no headers (those are for
    /// encrypted keys); nil when there is none or its base64 is bad.
    public static func bytes(pem text: String, label: String) -> [UInt8]? {
        guard let block = PEM(Array(text.utf8)), block.type == label, block.headers.isEmpty else { return nil }
        return block.der
    }
}
