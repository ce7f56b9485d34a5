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
        let base64 = TrustEncoding.base64(der)
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
        // "\r\n" is one Character in Swift, and a newline as "\n" is.
        var lines = string.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)[...]
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
        guard let der = TrustEncoding.bytes(base64: base64), !der.isEmpty else { return nil }
        self.init(type: type, headers: headers, der: der)
    }
}
