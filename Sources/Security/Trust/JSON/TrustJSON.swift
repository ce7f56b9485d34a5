/// A JSON value as trust metadata needs it: parsed by hand, so that what is signed is
/// exactly what was received (integers stay integers, duplicate keys and floats are
/// refused), with limits on size and depth before anything is built; and written back in
/// canonical form, the bytes every signature covers.
///
/// Both dialects canonicalize the same way, the OLPC rules: keys sorted by code point, no
/// whitespace, integers only, and in strings only `"` and `\` escaped (securesystemslib's
/// `encode_canonical` for TUF 1.0, docker/go's `MarshalCanonical` for Notary).
public enum TrustJSON: Equatable, Sendable {
    case null
    case bool(Bool)
    case integer(Int64)
    case string(String)
    case array([TrustJSON])
    case object([String: TrustJSON])

    public subscript(key: String) -> TrustJSON? {
        if case .object(let members) = self { members[key] } else { nil }
    }
    public var string: String? { if case .string(let value) = self { value } else { nil } }
    public var integer: Int64? { if case .integer(let value) = self { value } else { nil } }
    public var bool: Bool? { if case .bool(let value) = self { value } else { nil } }
    public var array: [TrustJSON]? { if case .array(let value) = self { value } else { nil } }
    public var object: [String: TrustJSON]? { if case .object(let value) = self { value } else { nil } }
}

// MARK: - Parsing

extension TrustJSON {
    /// The deepest nesting accepted: TUF metadata is five levels deep; 64 leaves room for
    /// unknown fields without letting a crafted file exhaust the stack.
    public static let maximumDepth = 64

    /// Parses one JSON document (RFC 8259, UTF-8). `limit` is checked before a byte is read.
    public static func parse(_ bytes: [UInt8], limit: Int) throws(TrustError) -> TrustJSON {
        guard bytes.count <= limit else {
            throw .malformed("metadata is \(bytes.count) bytes, more than the \(limit) allowed")
        }
        return try bytes.withUnsafeBufferPointer { buffer throws(TrustError) in
            var parser = Parser(bytes: buffer)
            let value = try parser.value(depth: 0)
            parser.skipWhitespace()
            guard parser.offset == buffer.count else { throw parser.failure("text after the JSON value") }
            return value
        }
    }

    private struct Parser {
        let bytes: UnsafeBufferPointer<UInt8>
        var offset = 0

        func failure(_ what: String) -> TrustError { .malformed("JSON at byte \(offset): \(what)") }

        mutating func skipWhitespace() {
            while offset < bytes.count, [0x20, 0x09, 0x0a, 0x0d].contains(bytes[offset]) { offset += 1 }
        }

        mutating func value(depth: Int) throws(TrustError) -> TrustJSON {
            guard depth <= TrustJSON.maximumDepth else { throw failure("nested deeper than \(TrustJSON.maximumDepth) levels") }
            skipWhitespace()
            guard offset < bytes.count else { throw failure("unexpected end") }
            switch bytes[offset] {
            case UInt8(ascii: "{"): return try object(depth: depth)
            case UInt8(ascii: "["): return try array(depth: depth)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .integer(try integer())
            default: throw failure("expected a value")
            }
        }

        mutating func literal(_ word: String) throws(TrustError) {
            let utf8 = Array(word.utf8)
            guard offset + utf8.count <= bytes.count,
                  utf8.indices.allSatisfy({ bytes[offset + $0] == utf8[$0] }) else { throw failure("expected \(word)") }
            offset += utf8.count
        }

        mutating func object(depth: Int) throws(TrustError) -> TrustJSON {
            offset += 1
            var members: [String: TrustJSON] = [:]
            skipWhitespace()
            if offset < bytes.count, bytes[offset] == UInt8(ascii: "}") { offset += 1; return .object(members) }
            while true {
                skipWhitespace()
                guard offset < bytes.count, bytes[offset] == UInt8(ascii: "\"") else { throw failure("expected a member name") }
                let key = try string()
                skipWhitespace()
                guard offset < bytes.count, bytes[offset] == UInt8(ascii: ":") else { throw failure("expected ':'") }
                offset += 1
                let member = try value(depth: depth + 1)
                // Two members of one name would let two parsers see two documents in one signature.
                guard members.updateValue(member, forKey: key) == nil else { throw failure("member \"\(key)\" appears twice") }
                skipWhitespace()
                guard offset < bytes.count else { throw failure("unexpected end") }
                if bytes[offset] == UInt8(ascii: ",") { offset += 1; continue }
                if bytes[offset] == UInt8(ascii: "}") { offset += 1; return .object(members) }
                throw failure("expected ',' or '}'")
            }
        }

        mutating func array(depth: Int) throws(TrustError) -> TrustJSON {
            offset += 1
            var elements: [TrustJSON] = []
            skipWhitespace()
            if offset < bytes.count, bytes[offset] == UInt8(ascii: "]") { offset += 1; return .array(elements) }
            while true {
                elements.append(try value(depth: depth + 1))
                skipWhitespace()
                guard offset < bytes.count else { throw failure("unexpected end") }
                if bytes[offset] == UInt8(ascii: ",") { offset += 1; continue }
                if bytes[offset] == UInt8(ascii: "]") { offset += 1; return .array(elements) }
                throw failure("expected ',' or ']'")
            }
        }

        /// Integers only: canonical JSON has no fractions or exponents, and a signature over
        /// `1.0` could not be checked against the `1` a re-encoding would give.
        mutating func integer() throws(TrustError) -> Int64 {
            let start = offset
            if bytes[offset] == UInt8(ascii: "-") { offset += 1 }
            let digitsStart = offset
            while offset < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[offset]) { offset += 1 }
            guard offset > digitsStart else { throw failure("expected digits") }
            guard !(bytes[digitsStart] == UInt8(ascii: "0") && offset - digitsStart > 1) else { throw failure("a number with a leading zero") }
            if offset < bytes.count, [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains(bytes[offset]) {
                throw failure("a number that is not an integer (canonical JSON has integers only)")
            }
            guard let value = Int64(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<offset]), as: UTF8.self)) else {
                throw failure("an integer out of range")
            }
            return value
        }

        mutating func string() throws(TrustError) -> String {
            offset += 1
            var scalars = String.UnicodeScalarView()
            var runStart = offset
            func flush(_ end: Int) throws(TrustError) {
                guard end > runStart else { return }
                guard let run = String(validating: UnsafeBufferPointer(rebasing: bytes[runStart..<end]), as: UTF8.self) else {
                    throw failure("a string that is not UTF-8")
                }
                scalars.append(contentsOf: run.unicodeScalars)
            }
            while offset < bytes.count {
                let byte = bytes[offset]
                if byte == UInt8(ascii: "\"") {
                    try flush(offset)
                    offset += 1
                    return String(scalars)
                }
                guard byte >= 0x20 else { throw failure("a control character in a string") }
                if byte != UInt8(ascii: "\\") { offset += 1; continue }
                try flush(offset)
                offset += 1
                guard offset < bytes.count else { break }
                let escape = bytes[offset]
                offset += 1
                switch escape {
                case UInt8(ascii: "\""): scalars.append("\"")
                case UInt8(ascii: "\\"): scalars.append("\\")
                case UInt8(ascii: "/"): scalars.append("/")
                case UInt8(ascii: "b"): scalars.append("\u{08}")
                case UInt8(ascii: "f"): scalars.append("\u{0C}")
                case UInt8(ascii: "n"): scalars.append("\n")
                case UInt8(ascii: "r"): scalars.append("\r")
                case UInt8(ascii: "t"): scalars.append("\t")
                case UInt8(ascii: "u"):
                    var code = try hex4()
                    if (0xD800..<0xDC00).contains(code) {
                        guard offset + 1 < bytes.count, bytes[offset] == UInt8(ascii: "\\"), bytes[offset + 1] == UInt8(ascii: "u") else {
                            throw failure("a lone surrogate in a string")
                        }
                        offset += 2
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw failure("a lone surrogate in a string") }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let scalar = Unicode.Scalar(code) else { throw failure("a lone surrogate in a string") }
                    scalars.append(scalar)
                default: throw failure("an unknown escape in a string")
                }
                runStart = offset
            }
            throw failure("an unterminated string")
        }

        mutating func hex4() throws(TrustError) -> UInt32 {
            guard offset + 4 <= bytes.count else { throw failure("a short \\u escape") }
            var code: UInt32 = 0
            for _ in 0..<4 {
                let byte = bytes[offset]
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: throw failure("a bad \\u escape")
                }
                code = code << 4 | UInt32(digit)
                offset += 1
            }
            return code
        }
    }
}

// MARK: - Canonical form

extension TrustJSON {
    /// The canonical bytes: what is hashed for key IDs and what signatures cover.
    public var canonical: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(1024)
        appendCanonical(to: &out)
        return out
    }

    public func appendCanonical(to out: inout [UInt8]) { append(to: &out, escapingControls: false) }

    /// Compact JSON with sorted keys, as the dialects' tools write files: the canonical
    /// form, except that control characters in strings are escaped as JSON requires
    /// (canonical JSON writes them raw).
    func appendCompact(to out: inout [UInt8]) { append(to: &out, escapingControls: true) }

    private func append(to out: inout [UInt8], escapingControls: Bool) {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let value): out.append(contentsOf: (value ? "true" : "false").utf8)
        case .integer(let value): out.append(contentsOf: String(value).utf8)
        case .string(let value): Self.append(string: value, to: &out, escapingControls: escapingControls)
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                element.append(to: &out, escapingControls: escapingControls)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            // Sorted by code point, which for UTF-8 is byte order (Swift's `<` on String
            // compares by grapheme, which differs for combining characters).
            for (index, key) in members.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }).enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                Self.append(string: key, to: &out, escapingControls: escapingControls)
                out.append(UInt8(ascii: ":"))
                members[key]!.append(to: &out, escapingControls: escapingControls)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    private static func append(string: String, to out: inout [UInt8], escapingControls: Bool) {
        out.append(UInt8(ascii: "\""))
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                out.append(UInt8(ascii: "\\"))
                out.append(byte)
            case 0..<0x20 where escapingControls:
                switch byte {
                case 0x0a: out.append(contentsOf: "\\n".utf8)
                case 0x0d: out.append(contentsOf: "\\r".utf8)
                case 0x09: out.append(contentsOf: "\\t".utf8)
                default: out.append(contentsOf: Array("\\u00\(TrustEncoding.hex([byte]))".utf8))
                }
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
