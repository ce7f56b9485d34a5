import FoundationEssentials

/// A JSON document of any shape: Docker's requests carry free-form option maps
/// (`Options`, `com.docker.network.generic`), read here field by field.
enum JSON: Codable, Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSON])
    case object([String: JSON])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSON].self) { self = .array(value) }
        else { self = .object(try container.decode([String: JSON].self)) }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value):
            if value == value.rounded(), abs(value) < 1e15 { try container.encode(Int64(value)) } else { try container.encode(value) }
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// Parses a request body; an empty body is an empty object (Plugin.Activate has none).
    static func parse(_ bytes: [UInt8]) throws(PluginError) -> JSON {
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0a || $0 == 0x0d || $0 == 0x09 }) { return .object([:]) }
        // The decoder recurses per level: a body nested deeper than any of Docker's is refused first.
        guard nestingDepth(bytes) <= maximumDepth else {
            throw PluginError("request body is nested deeper than \(maximumDepth) levels: expected a JSON object as Docker sends")
        }
        do {
            return try JSONDecoder().decode(JSON.self, from: Data(bytes))
        } catch {
            throw PluginError("request body is not valid JSON (\(bytes.count) bytes): expected a JSON object")
        }
    }

    static let maximumDepth = 32

    /// The deepest nesting of arrays and objects in `bytes`, outside strings.
    static func nestingDepth(_ bytes: [UInt8]) -> Int {
        var depth = 0, deepest = 0, inString = false, escaped = false
        for byte in bytes {
            if inString {
                if escaped { escaped = false } else if byte == 0x5c { escaped = true } else if byte == 0x22 { inString = false }
                continue
            }
            switch byte {
            case 0x22: inString = true
            case 0x5b, 0x7b: depth += 1; deepest = max(deepest, depth)
            case 0x5d, 0x7d: depth -= 1
            default: break
            }
        }
        return deepest
    }

    func serialized() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? Array(encoder.encode(self))) ?? Array("{}".utf8)
    }

    subscript(key: String) -> JSON? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    var string: String? { if case .string(let value) = self { return value }; return nil }
    var bool: Bool? { if case .bool(let value) = self { return value }; return nil }
    var number: Double? { if case .number(let value) = self { return value }; return nil }
    var array: [JSON]? { if case .array(let value) = self { return value }; return nil }
    var object: [String: JSON]? { if case .object(let value) = self { return value }; return nil }
}

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

/// The fields of a request body, each read with the error that names it.
struct Body {
    let json: JSON

    init(_ json: JSON) throws(PluginError) {
        guard json.object != nil else { throw PluginError("request body is not a JSON object") }
        self.json = json
    }

    func string(_ key: String, expected: String) throws(PluginError) -> String {
        guard let value = json[key] else { throw PluginError("\(key) is missing: expected \(expected)") }
        guard let text = value.string, !text.isEmpty else { throw PluginError("\(key) is \(value.shortText): expected \(expected)") }
        return text
    }

    /// A string that may be absent, null or empty (nil then).
    func optionalString(_ key: String, expected: String) throws(PluginError) -> String? {
        guard let value = json[key], value != .null else { return nil }
        guard let text = value.string else { throw PluginError("\(key) is \(value.shortText): expected \(expected)") }
        return text.isEmpty ? nil : text
    }

    func object(_ key: String) throws(PluginError) -> [String: JSON] {
        guard let value = json[key], value != .null else { return [:] }
        guard let members = value.object else { throw PluginError("\(key) is \(value.shortText): expected an object") }
        return members
    }

    func array(_ key: String) throws(PluginError) -> [JSON] {
        guard let value = json[key], value != .null else { return [] }
        guard let items = value.array else { throw PluginError("\(key) is \(value.shortText): expected an array") }
        return items
    }
}

extension JSON {
    /// The value as an error message quotes it: short, one line.
    var shortText: String {
        let text = String(decoding: serialized(), as: UTF8.self)
        return text.count > 60 ? String(text.prefix(57)) + "..." : text
    }
}
