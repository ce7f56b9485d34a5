import JSON

/// A refused request: one line for Docker to show its user.
struct PluginError: Error, CustomStringConvertible {
    var description: String
    /// The HTTP status to answer with (200 carries the error in the body, as libnetwork reads it).
    var status: Int

    init(_ description: String, status: Int = 200) {
        self.description = description.split(whereSeparator: \.isNewline).joined(separator: " ")
        self.status = status
    }
}

/// The fields of a request body, each read with the error that names it. Docker's requests
/// carry free-form option maps (`Options`, `com.docker.network.generic`), read field by field.
struct Body {
    /// Deeper than any request Docker sends.
    static let maximumDepth = 32

    let json: JSON

    /// Parses a request body; an empty body is an empty object (Plugin.Activate has none).
    init(requestBody bytes: [UInt8]) throws(PluginError) {
        let json: JSON
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0a || $0 == 0x0d || $0 == 0x09 }) {
            json = [:]
        } else {
            do {
                // The HTTP server already bounds the body's size.
                json = try JSON.parse(bytes, limits: JSON.Limits(maximumBytes: bytes.count, maximumDepth: Self.maximumDepth))
            } catch {
                throw PluginError("request body is not valid JSON (\(bytes.count) bytes): \(error): expected a JSON object")
            }
        }
        try self.init(json)
    }

    init(_ json: JSON) throws(PluginError) {
        guard json.members != nil else { throw PluginError("request body is not a JSON object") }
        self.json = json
    }

    func string(_ key: String, expected: String) throws(PluginError) -> String {
        guard let value = json[key] else { throw PluginError("\(key) is missing: expected \(expected)") }
        guard let text = value.string, !text.isEmpty else { throw PluginError("\(key) is \(value.shortText): expected \(expected)") }
        return text
    }

    /// A string that may be absent, null or empty (nil then).
    func optionalString(_ key: String, expected: String) throws(PluginError) -> String? {
        guard let value = json[key], !value.isNull else { return nil }
        guard let text = value.string else { throw PluginError("\(key) is \(value.shortText): expected \(expected)") }
        return text.isEmpty ? nil : text
    }

    /// An object that may be absent or null (empty then).
    func object(_ key: String) throws(PluginError) -> JSON {
        .object(try members(key))
    }

    func members(_ key: String) throws(PluginError) -> [(String, JSON)] {
        guard let value = json[key], !value.isNull else { return [] }
        guard let members = value.members else { throw PluginError("\(key) is \(value.shortText): expected an object") }
        return members
    }

    func array(_ key: String) throws(PluginError) -> [JSON] {
        guard let value = json[key], !value.isNull else { return [] }
        guard let items = value.array else { throw PluginError("\(key) is \(value.shortText): expected an array") }
        return items
    }
}

extension JSON {
    /// The value as an error message quotes it: short, one line.
    var shortText: String {
        let text = serialized
        return text.count > 60 ? String(text.prefix(57)) + "..." : text
    }
}
