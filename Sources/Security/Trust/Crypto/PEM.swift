/// PEM armour as Go's encoding/pem writes it (notary's key files and certificates):
/// `-----BEGIN TYPE-----`, `Name: value` headers and a blank line when there are headers,
/// base64 in lines of 64, `-----END TYPE-----`.
struct PEM {
    var type: String
    var headers: [(String, String)]
    var der: [UInt8]

    /// Headers sorted by name, as Go writes them (so `gun:` before `role:`); Go puts
    /// Proc-Type first, which key files of ours never carry.
    var encoded: [UInt8] {
        var text = "-----BEGIN \(type)-----\n"
        for (name, value) in headers.sorted(by: { $0.0 < $1.0 }) { text += "\(name): \(value)\n" }
        if !headers.isEmpty { text += "\n" }
        let base64 = Base64.encode(der)
        var start = base64.startIndex
        while start < base64.endIndex {
            let end = base64.index(start, offsetBy: 64, limitedBy: base64.endIndex) ?? base64.endIndex
            text += base64[start..<end] + "\n"
            start = end
        }
        text += "-----END \(type)-----\n"
        return Array(text.utf8)
    }

    init(type: String, headers: [(String, String)] = [], der: [UInt8]) {
        self.type = type
        self.headers = headers
        self.der = der
    }

    /// The first block of `text`; nil when there is none or it is not well formed.
    init?(_ text: [UInt8]) {
        guard let string = String(validating: text, as: UTF8.self) else { return nil }
        var lines = string.split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.hasSuffix("\r") ? $0.dropLast() : $0 }[...]
        while let line = lines.first, !(line.hasPrefix("-----BEGIN ") && line.hasSuffix("-----")) { lines = lines.dropFirst() }
        guard let begin = lines.popFirst() else { return nil }
        let type = String(begin.dropFirst(11).dropLast(5))
        var headers: [(String, String)] = []
        if let first = lines.first, first.contains(":") {
            while let line = lines.popFirst(), !line.isEmpty {
                guard let colon = line.firstIndex(of: ":") else { return nil }
                headers.append((String(line[..<colon]), String(line[line.index(after: colon)...].drop { $0 == " " })))
            }
        }
        var base64 = ""
        while true {
            guard let line = lines.popFirst() else { return nil }
            if line == "-----END \(type)-----" { break }
            base64 += line.filter { $0 != " " && $0 != "\t" }
        }
        guard let der = Base64.decode(base64), !der.isEmpty else { return nil }
        self.init(type: type, headers: headers, der: der)
    }
}

/// Standard base64 with padding (RFC 4648 §4).
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let a = bytes[index], b = index + 1 < bytes.count ? bytes[index + 1] : 0, c = index + 2 < bytes.count ? bytes[index + 2] : 0
            out.append(alphabet[Int(a >> 2)])
            out.append(alphabet[Int((a & 3) << 4 | b >> 4)])
            out.append(index + 1 < bytes.count ? alphabet[Int((b & 15) << 2 | c >> 6)] : UInt8(ascii: "="))
            out.append(index + 2 < bytes.count ? alphabet[Int(c & 63)] : UInt8(ascii: "="))
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func decode(_ text: String) -> [UInt8]? {
        let input = Array(text.utf8)
        guard input.count % 4 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(input.count / 4 * 3)
        var index = 0
        while index < input.count {
            var values: [UInt8] = []
            var padding = 0
            for character in input[index..<index + 4] {
                if character == UInt8(ascii: "=") {
                    padding += 1
                    continue
                }
                guard padding == 0, let value = value(character) else { return nil }
                values.append(value)
            }
            guard padding <= 2, padding == 0 || index + 4 == input.count else { return nil }
            out.append(values[0] << 2 | values[1] >> 4)
            if values.count > 2 { out.append(values[1] << 4 | values[2] >> 2) }
            if values.count > 3 { out.append(values[2] << 6 | values[3]) }
            index += 4
        }
        return out
    }

    private static func value(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): character - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): character - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0") + 52
        case UInt8(ascii: "+"): 62
        case UInt8(ascii: "/"): 63
        default: nil
        }
    }
}
