/// Just enough JSON (RFC 8259) to pull a few members out of package.json and lockfiles
/// without decoding the rest: a package.json carries scripts, readmes and whole config
/// trees the inventory does not need, and decoding a thousand of them into values would be
/// most of a scan's time. Members not asked for are stepped over, checked only for shape.
struct JSONScanner {
    struct Failure: Error { var reason: String }

    private let bytes: [UInt8]
    private var index: Int
    private var depth = 0
    static let maximumDepth = 256

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        var start = 0
        // A UTF-8 byte order mark, as some editors write.
        if bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF { start = 3 }
        index = start
    }

    private func failure(_ what: String) -> Failure {
        Failure(reason: "byte \(index): expected \(what)")
    }

    private mutating func skipSpace() {
        while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x0A || bytes[index] == 0x0D || bytes[index] == 0x09 { index += 1 }
    }

    private mutating func expect(_ byte: UInt8, _ what: String) throws(Failure) {
        skipSpace()
        guard index < bytes.count, bytes[index] == byte else { throw failure(what) }
        index += 1
    }

    /// The whole document is one object: `body` is called with each member's key and must
    /// consume its value (with `string()`, `bool()`, `object`, `skipValue()`…).
    mutating func document(_ body: (inout JSONScanner, String) throws(Failure) -> Void) throws(Failure) {
        try object(body)
        skipSpace()
        guard index == bytes.count else { throw failure("the end of the document") }
    }

    mutating func object(_ body: (inout JSONScanner, String) throws(Failure) -> Void) throws(Failure) {
        try expect(UInt8(ascii: "{"), "an object")
        depth += 1
        defer { depth -= 1 }
        guard depth <= Self.maximumDepth else { throw failure("at most \(Self.maximumDepth) levels of nesting") }
        skipSpace()
        if index < bytes.count && bytes[index] == UInt8(ascii: "}") {
            index += 1
            return
        }
        while true {
            let key = try string()
            try expect(UInt8(ascii: ":"), "`:`")
            let before = index
            try body(&self, key)
            if index == before { try skipValue() }
            skipSpace()
            guard index < bytes.count else { throw failure("`,` or `}`") }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "}") { index += 1; return }
            throw failure("`,` or `}`")
        }
    }

    /// The next value if it is an object (members through `body`), else stepped over.
    mutating func objectIfAny(_ body: (inout JSONScanner, String) throws(Failure) -> Void) throws(Failure) {
        skipSpace()
        if index < bytes.count && bytes[index] == UInt8(ascii: "{") { try object(body) } else { try skipValue() }
    }

    /// The next value if it is a string, else nil (and the value is stepped over).
    mutating func stringIfAny() throws(Failure) -> String? {
        skipSpace()
        if index < bytes.count && bytes[index] == UInt8(ascii: "\"") { return try string() }
        try skipValue()
        return nil
    }

    /// The next value if it is `true` or `false`, else nil (and the value is stepped over).
    mutating func boolIfAny() throws(Failure) -> Bool? {
        skipSpace()
        if bytes[index...].starts(with: "true".utf8) { index += 4; return true }
        if bytes[index...].starts(with: "false".utf8) { index += 5; return false }
        try skipValue()
        return nil
    }

    /// The next value if it is a whole number, else nil (and the value is stepped over).
    mutating func integerIfAny() throws(Failure) -> Int? {
        skipSpace()
        let start = index
        try skipValue()
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        return Int(text)
    }

    mutating func string() throws(Failure) -> String {
        try expect(UInt8(ascii: "\""), "a string")
        let start = index
        // The closing quote, over the raw buffer: strings are most of a package.json.
        let (end, plain, control) = bytes.withUnsafeBufferPointer { buffer -> (Int?, Bool, Bool) in
            var at = start, plain = true
            while at < buffer.count {
                let byte = buffer[at]
                if byte == 0x22 { return (at, plain, false) }
                if byte < 0x20 { return (at, plain, true) }
                if byte == 0x5C {
                    plain = false
                    at += 1
                }
                at += 1
            }
            return (nil, plain, false)
        }
        guard let end else {
            index = bytes.count
            throw failure("the string's closing quote")
        }
        index = end
        if control { throw failure("no control characters in a string") }
        index = end + 1
        return plain ? String(decoding: bytes[start..<end], as: UTF8.self) : try unescape(bytes[start..<end])
    }

    private func unescape(_ raw: ArraySlice<UInt8>) throws(Failure) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var i = raw.startIndex
        var pendingHigh: UInt32?
        func append(_ scalar: UInt32) {
            let value = Unicode.Scalar(scalar) ?? "\u{FFFD}"
            out.append(contentsOf: Array(String(Character(value)).utf8))
        }
        while i < raw.endIndex {
            let byte = raw[i]
            guard byte == UInt8(ascii: "\\") else {
                if let high = pendingHigh { append(high); pendingHigh = nil }
                out.append(byte)
                i += 1
                continue
            }
            guard i + 1 < raw.endIndex else { throw failure("an escape") }
            let code = raw[i + 1]
            i += 2
            if code != UInt8(ascii: "u"), let high = pendingHigh { append(high); pendingHigh = nil }
            switch code {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(code)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                guard i + 4 <= raw.endIndex, let value = UInt32(String(decoding: raw[i..<(i + 4)], as: UTF8.self), radix: 16) else {
                    throw failure("four hex digits after \\u")
                }
                i += 4
                if (0xD800..<0xDC00).contains(value) {
                    if let high = pendingHigh { append(high) }
                    pendingHigh = value
                } else if (0xDC00..<0xE000).contains(value), let high = pendingHigh {
                    append(0x10000 + ((high - 0xD800) << 10) + (value - 0xDC00))
                    pendingHigh = nil
                } else {
                    if let high = pendingHigh { append(high); pendingHigh = nil }
                    append(value)
                }
            default: throw failure("a valid escape")
            }
        }
        if let high = pendingHigh { append(high) }
        return String(decoding: out, as: UTF8.self)
    }

    /// Steps over one value of any kind, checking its shape.
    mutating func skipValue() throws(Failure) {
        skipSpace()
        guard index < bytes.count else { throw failure("a value") }
        switch bytes[index] {
        case UInt8(ascii: "{"):
            try object { _, _ throws(Failure) in }
        case UInt8(ascii: "["):
            index += 1
            depth += 1
            defer { depth -= 1 }
            guard depth <= Self.maximumDepth else { throw failure("at most \(Self.maximumDepth) levels of nesting") }
            skipSpace()
            if index < bytes.count && bytes[index] == UInt8(ascii: "]") { index += 1; return }
            while true {
                try skipValue()
                skipSpace()
                guard index < bytes.count else { throw failure("`,` or `]`") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                if bytes[index] == UInt8(ascii: "]") { index += 1; return }
                throw failure("`,` or `]`")
            }
        case UInt8(ascii: "\""):
            _ = try string()
        case UInt8(ascii: "t"):
            guard bytes[index...].starts(with: "true".utf8) else { throw failure("a value") }
            index += 4
        case UInt8(ascii: "f"):
            guard bytes[index...].starts(with: "false".utf8) else { throw failure("a value") }
            index += 5
        case UInt8(ascii: "n"):
            guard bytes[index...].starts(with: "null".utf8) else { throw failure("a value") }
            index += 4
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            let start = index
            if bytes[index] == UInt8(ascii: "-") { index += 1 }
            while index < bytes.count, Self.isNumberByte(bytes[index]) { index += 1 }
            guard index > start, bytes[index - 1] != UInt8(ascii: "-") else { throw failure("a number") }
        default:
            throw failure("a value")
        }
    }

    private static func isNumberByte(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e")
            || byte == UInt8(ascii: "E") || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-")
    }
}
