/// Values that are stored and shown as their text (`198.18.0.1`, `198.18.0.0/24`,
/// `02:42:c6:12:00:02`), so JSON records read the way `ip` prints them.
protocol TextCodable: Codable, CustomStringConvertible {
    /// What the text should look like, for the error a malformed value gets.
    static var textKind: String { get }
    init?(text: String)
}

extension TextCodable {
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = Self(text: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "invalid \(Self.textKind) \"\(text)\""))
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

extension IPAddress: TextCodable {
    static var textKind: String { "IP address" }
    init?(text: String) { self.init(text) }
}

extension IPNetwork: TextCodable {
    static var textKind: String { "CIDR" }
    init?(text: String) { self.init(cidr: text) }
}

extension MACAddress: TextCodable {
    static var textKind: String { "MAC address" }
    init?(text: String) { self.init(text) }
}
