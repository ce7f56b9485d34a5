extension JSON {
    /// Why a document was refused, and where: `expected "," or "]" at byte 17`.
    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public var message: String
        /// Bytes from the start of the document to the first one that is wrong.
        public var offset: Int

        public init(message: String, offset: Int) {
            self.message = message
            self.offset = offset
        }

        public var description: String { "\(message) at byte \(offset)" }
    }

    /// Bounds on what `parse` reads: a document longer than `maximumBytes`, or with arrays
    /// and objects open more than `maximumDepth` deep, is refused (the parser recurses once
    /// per level, so depth is what keeps its stack bounded).
    public struct Limits: Sendable {
        public var maximumBytes: Int
        public var maximumDepth: Int

        public init(maximumBytes: Int = 1 << 20, maximumDepth: Int = 64) {
            self.maximumBytes = maximumBytes
            self.maximumDepth = maximumDepth
        }
    }

    /// One JSON value filling `bytes` (RFC 8259; whitespace around it allowed), as UTF-8.
    ///
    /// Refused: anything RFC 8259 does not allow (trailing commas, leading zeros, `NaN`,
    /// control characters in strings, invalid UTF-8), and escapes of lone surrogates
    /// (`"\ud800"`), which no Swift String can hold and which would otherwise have to be
    /// changed silently.
    public static func parse(_ bytes: [UInt8], limits: Limits = Limits()) throws(ParseError) -> JSON {
        guard bytes.count <= limits.maximumBytes else {
            throw ParseError(message: "document is longer than \(limits.maximumBytes) bytes", offset: limits.maximumBytes)
        }
        var parser = Parser(bytes: bytes, maximumDepth: limits.maximumDepth)
        parser.skipSpace()
        let value = try parser.value(depth: 0)
        parser.skipSpace()
        guard parser.offset == bytes.count else { throw parser.error("unexpected text after the document") }
        return value
    }

    public static func parse(_ text: String, limits: Limits = Limits()) throws(ParseError) -> JSON {
        try parse(Array(text.utf8), limits: limits)
    }
}

private struct Parser {
    let bytes: [UInt8]
    let maximumDepth: Int
    var offset = 0

    init(bytes: [UInt8], maximumDepth: Int) {
        self.bytes = bytes
        self.maximumDepth = maximumDepth
    }

    func error(_ message: String, at offset: Int? = nil) -> JSON.ParseError {
        JSON.ParseError(message: message, offset: offset ?? self.offset)
    }

    /// What the byte at the offset is, as an error names it.
    func unexpected() -> JSON.ParseError {
        guard offset < bytes.count else { return error("unexpected end of input") }
        let byte = bytes[offset]
        if byte > 0x20, byte < 0x7f { return error("unexpected \"\(Character(Unicode.Scalar(byte)))\"") }
        let hex = String(byte, radix: 16)
        return error("unexpected byte 0x\(hex.count == 1 ? "0" : "")\(hex)")
    }

    var current: UInt8? { offset < bytes.count ? bytes[offset] : nil }

    mutating func skipSpace() {
        while let byte = current, byte == 0x20 || byte == 0x0a || byte == 0x0d || byte == 0x09 { offset += 1 }
    }

    mutating func value(depth: Int) throws(JSON.ParseError) -> JSON {
        guard let byte = current else { throw error("unexpected end of input") }
        switch byte {
        case UInt8(ascii: "{"):
            guard depth < maximumDepth else { throw error("nested deeper than \(maximumDepth) levels") }
            offset += 1
            var members: [(String, JSON)] = []
            skipSpace()
            if current == UInt8(ascii: "}") { offset += 1; return .object(members) }
            while true {
                skipSpace()
                guard current == UInt8(ascii: "\"") else {
                    throw current == UInt8(ascii: "}") ? error("trailing comma in an object") : error("expected a key in quotes")
                }
                let key = try string()
                skipSpace()
                guard current == UInt8(ascii: ":") else { throw error("expected \":\" after a key") }
                offset += 1
                skipSpace()
                members.append((key, try value(depth: depth + 1)))
                skipSpace()
                guard let next = current else { throw error("unexpected end of input") }
                if next == UInt8(ascii: ",") { offset += 1; continue }
                guard next == UInt8(ascii: "}") else { throw error("expected \",\" or \"}\"") }
                offset += 1
                return .object(members)
            }
        case UInt8(ascii: "["):
            guard depth < maximumDepth else { throw error("nested deeper than \(maximumDepth) levels") }
            offset += 1
            var items: [JSON] = []
            skipSpace()
            if current == UInt8(ascii: "]") { offset += 1; return .array(items) }
            while true {
                skipSpace()
                if current == UInt8(ascii: "]") { throw error("trailing comma in an array") }
                items.append(try value(depth: depth + 1))
                skipSpace()
                guard let next = current else { throw error("unexpected end of input") }
                if next == UInt8(ascii: ",") { offset += 1; continue }
                guard next == UInt8(ascii: "]") else { throw error("expected \",\" or \"]\"") }
                offset += 1
                return .array(items)
            }
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw unexpected()
        }
    }

    mutating func literal(_ word: StaticString, _ value: JSON) throws(JSON.ParseError) -> JSON {
        let start = offset
        for expected in UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount) {
            guard current == expected else { throw current == nil ? error("unexpected end of input") : error("unexpected text, expected \(word)", at: start) }
            offset += 1
        }
        return value
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, kept as text.
    mutating func number() throws(JSON.ParseError) -> JSON {
        let start = offset
        if current == UInt8(ascii: "-") { offset += 1 }
        if current == UInt8(ascii: "0") {
            offset += 1
            if Self.isDigit(current) { throw error("leading zero in a number", at: offset - 1) }
        } else if digits() == 0 {
            throw error("expected digits in a number")
        }
        if current == UInt8(ascii: ".") {
            offset += 1
            guard digits() > 0 else { throw error("expected digits after \".\" in a number") }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            offset += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { offset += 1 }
            guard digits() > 0 else { throw error("expected digits in a number's exponent") }
        }
        return .number(String(decoding: bytes[start..<offset], as: UTF8.self))
    }

    static func isDigit(_ byte: UInt8?) -> Bool { byte.map { $0 >= 0x30 && $0 <= 0x39 } ?? false }

    /// Skips digits, returning how many.
    mutating func digits() -> Int {
        let from = offset
        while Self.isDigit(current) { offset += 1 }
        return offset - from
    }

    mutating func string() throws(JSON.ParseError) -> String {
        let opening = offset
        offset += 1
        var text = ""
        var run = offset
        func flush(_ end: Int) { if end > run { text += String(decoding: bytes[run..<end], as: UTF8.self) } }
        while let byte = current {
            switch byte {
            case UInt8(ascii: "\""):
                flush(offset)
                offset += 1
                return text
            case UInt8(ascii: "\\"):
                flush(offset)
                text.unicodeScalars.append(try escape())
                run = offset
            case ..<0x20:
                throw error("control character in a string (escape it as \\u00\(byte < 0x10 ? "0" : "")\(String(byte, radix: 16)))")
            case ..<0x80:
                offset += 1
            default:
                // Checked here so that the String built from the run is the bytes as given.
                guard let length = utf8SequenceLength() else { throw error("invalid UTF-8 in a string") }
                offset += length
            }
        }
        throw error("unterminated string", at: opening)
    }

    /// The scalar an escape stands for; the backslash is at `offset`.
    mutating func escape() throws(JSON.ParseError) -> Unicode.Scalar {
        let start = offset
        offset += 1
        guard let kind = current else { throw error("unterminated string") }
        offset += 1
        switch kind {
        case UInt8(ascii: "\""): return "\""
        case UInt8(ascii: "\\"): return "\\"
        case UInt8(ascii: "/"): return "/"
        case UInt8(ascii: "b"): return "\u{08}"
        case UInt8(ascii: "f"): return "\u{0c}"
        case UInt8(ascii: "n"): return "\n"
        case UInt8(ascii: "r"): return "\r"
        case UInt8(ascii: "t"): return "\t"
        case UInt8(ascii: "u"):
            let code = try hex4()
            switch code {
            case 0xd800..<0xdc00:
                guard offset + 1 < bytes.count, bytes[offset] == UInt8(ascii: "\\"), bytes[offset + 1] == UInt8(ascii: "u") else {
                    throw error("lone surrogate \\u\(String(code, radix: 16)) in a string: expected a pair \\ud800-\\udbff \\udc00-\\udfff", at: start)
                }
                offset += 2
                let low = try hex4()
                guard (0xdc00..<0xe000).contains(low) else {
                    throw error("lone surrogate \\u\(String(code, radix: 16)) in a string: expected a pair \\ud800-\\udbff \\udc00-\\udfff", at: start)
                }
                return Unicode.Scalar(0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00))!
            case 0xdc00..<0xe000:
                throw error("lone surrogate \\u\(String(code, radix: 16)) in a string: expected a pair \\ud800-\\udbff \\udc00-\\udfff", at: start)
            default:
                return Unicode.Scalar(code)!
            }
        default:
            offset -= 1
            throw error("invalid escape in a string", at: start)
        }
    }

    mutating func hex4() throws(JSON.ParseError) -> UInt32 {
        var code: UInt32 = 0
        for index in offset..<offset + 4 {
            guard index < bytes.count else { throw error("unterminated \\u escape") }
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw error("expected 4 hex digits after \\u", at: index)
            }
            code = code << 4 | UInt32(digit)
        }
        offset += 4
        return code
    }

    /// The length of the well-formed UTF-8 sequence at `offset` (RFC 3629: no overlong
    /// forms, no surrogates, nothing past U+10FFFF), nil if it is not one.
    func utf8SequenceLength() -> Int? {
        let lead = bytes[offset]
        let length: Int
        var low: UInt8 = 0x80, high: UInt8 = 0xbf
        switch lead {
        case 0xc2...0xdf: length = 2
        case 0xe0: length = 3; low = 0xa0
        case 0xe1...0xec, 0xee...0xef: length = 3
        case 0xed: length = 3; high = 0x9f
        case 0xf0: length = 4; low = 0x90
        case 0xf1...0xf3: length = 4
        case 0xf4: length = 4; high = 0x8f
        default: return nil
        }
        guard offset + length <= bytes.count else { return nil }
        guard (low...high).contains(bytes[offset + 1]) else { return nil }
        for index in offset + 2..<offset + length where !(0x80...0xbf).contains(bytes[index]) { return nil }
        return length
    }
}
