/// One challenge of a `WWW-Authenticate` header: `Bearer realm="https://auth.example/token",
/// service="registry.example",scope="repository:team/app:pull"` or `Basic realm="Registry"`.
/// A header may carry several (comma-separated, or repeated headers); parameters are
/// `name=token` or `name="quoted \" string"` (RFC 7235).
struct AuthChallenge: Equatable, Sendable {
    /// Lowercased: `bearer`, `basic`.
    var scheme: String
    /// Parameter names lowercased.
    var parameters: [String: String]

    var realm: String? { parameters["realm"] }
    var service: String? { parameters["service"] }
    /// The scopes the registry named (space-separated in one `scope` parameter).
    var scopes: [String] { (parameters["scope"] ?? "").split(separator: " ").map(String.init) }
    /// `insufficient_scope`, `invalid_token`: the registry saw a token and refused it.
    var error: String? { parameters["error"] }

    /// Every challenge in `header` (several headers joined by newlines, as HTTPResponse keeps
    /// them). Unparsable pieces are skipped: a registry's odd header must not hide the
    /// challenge that works.
    static func parse(_ header: String) -> [AuthChallenge] {
        var challenges: [AuthChallenge] = []
        var scanner = Scanner(Array(header.utf8))
        while true {
            scanner.skip { $0 == 0x20 || $0 == 0x09 || $0 == 0x2c || $0 == 0x0a || $0 == 0x0d }
            guard let scheme = scanner.token(), !scheme.isEmpty else { break }
            var challenge = AuthChallenge(scheme: scheme.lowercased(), parameters: [:])
            // Parameters until the next token that is not followed by "=" (the next scheme).
            while true {
                let mark = scanner.position
                scanner.skip { $0 == 0x20 || $0 == 0x09 || $0 == 0x2c || $0 == 0x0a || $0 == 0x0d }
                guard let name = scanner.token(), !name.isEmpty else { break }
                scanner.skip { $0 == 0x20 || $0 == 0x09 }
                guard scanner.take(0x3d) else { scanner.position = mark; break }
                scanner.skip { $0 == 0x20 || $0 == 0x09 }
                let value = scanner.quoted() ?? scanner.token() ?? ""
                challenge.parameters[name.lowercased()] = value
            }
            challenges.append(challenge)
        }
        return challenges
    }
}

private struct Scanner {
    let bytes: [UInt8]
    var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func skip(_ predicate: (UInt8) -> Bool) {
        while position < bytes.count, predicate(bytes[position]) { position += 1 }
    }

    mutating func take(_ byte: UInt8) -> Bool {
        guard position < bytes.count, bytes[position] == byte else { return false }
        position += 1
        return true
    }

    /// An RFC 7230 token (letters, digits, and !#$%&'*+-.^_`|~), plus "/" and ":" which
    /// registries put unquoted in realms and scopes.
    mutating func token() -> String? {
        let start = position
        while position < bytes.count, Self.isTokenByte(bytes[position]) { position += 1 }
        return position > start ? String(decoding: bytes[start..<position], as: UTF8.self) : nil
    }

    mutating func quoted() -> String? {
        guard take(0x22) else { return nil }
        var value: [UInt8] = []
        while position < bytes.count {
            let byte = bytes[position]
            position += 1
            if byte == 0x22 { break }
            if byte == 0x5c, position < bytes.count {
                value.append(bytes[position])
                position += 1
            } else {
                value.append(byte)
            }
        }
        return String(decoding: value, as: UTF8.self)
    }

    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x30...0x39, 0x41...0x5a, 0x61...0x7a: true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
             UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
             UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"),
             UInt8(ascii: "/"), UInt8(ascii: ":"): true
        default: false
        }
    }
}
