/// A JSON document as netctl's plug-ins read and write it: a value tree that passes what it
/// does not interpret through unchanged. Numbers keep their text (a 20-digit integer or
/// `1.0e2` is written back as it came), and objects keep their keys in document order.
///
/// Not Codable on purpose: Codable conformances cost every process start the Swift
/// runtime's conformance scans, and the plug-ins start once per request.
public enum JSON: Sendable, Equatable {
    case null
    case bool(Bool)
    /// The number's text as the document wrote it (RFC 8259's grammar, checked on parsing).
    case number(String)
    case string(String)
    case array([JSON])
    /// Members in document order; output keeps the order they were built in.
    case object([(String, JSON)])

    /// The same tree written the same way: numbers compare as text (`1.0` is not `1`) and
    /// members in order, which is what a pass-through must keep.
    public static func == (left: JSON, right: JSON) -> Bool {
        switch (left, right) {
        case (.null, .null): true
        case (.bool(let a), .bool(let b)): a == b
        case (.number(let a), .number(let b)): a == b
        case (.string(let a), .string(let b)): a == b
        case (.array(let a), .array(let b)): a == b
        case (.object(let a), .object(let b)): a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: false
        }
    }

    /// A whole number, written as decimal digits.
    public init(_ value: Int) { self = .number(String(value)) }

    // MARK: Reading values

    /// The member named `key` of an object. With duplicate keys the last one counts, as in
    /// Go's encoding/json (which Docker, containerd and Podman use) and Python's json.
    public subscript(key: String) -> JSON? {
        guard case .object(let members) = self else { return nil }
        return members.last { $0.0 == key }?.1
    }

    /// The item at `index` of an array, nil outside it.
    public subscript(index: Int) -> JSON? {
        guard case .array(let items) = self, items.indices.contains(index) else { return nil }
        return items[index]
    }

    public var isNull: Bool { if case .null = self { true } else { false } }
    public var bool: Bool? { if case .bool(let value) = self { value } else { nil } }
    public var string: String? { if case .string(let text) = self { text } else { nil } }
    public var array: [JSON]? { if case .array(let items) = self { items } else { nil } }
    public var members: [(String, JSON)]? { if case .object(let members) = self { members } else { nil } }
    /// A whole number that fits an Int, written without fraction or exponent (ports, indexes).
    public var integer: Int? { if case .number(let text) = self { Int(text) } else { nil } }
    /// The number's value as a Double (nearest; big integers lose precision).
    public var double: Double? { if case .number(let text) = self { Double(text) } else { nil } }

    /// Sets `key` in an object, in the place it had (the last, if repeated) or at the end.
    /// Does nothing to other values.
    public mutating func set(_ key: String, _ value: JSON) {
        guard case .object(var members) = self else { return }
        if let index = members.lastIndex(where: { $0.0 == key }) { members[index].1 = value } else { members.append((key, value)) }
        self = .object(members)
    }
}

// Literals keep call sites short: `["Address": .string(address), "Data": [:]]`.
extension JSON: ExpressibleByDictionaryLiteral, ExpressibleByArrayLiteral, ExpressibleByStringLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral
{
    /// An object with the members in the literal's order.
    public init(dictionaryLiteral elements: (String, JSON)...) { self = .object(elements) }
    public init(arrayLiteral elements: JSON...) { self = .array(elements) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .number(String(value)) }
}

extension JSON: CustomStringConvertible {
    /// The compact JSON text.
    public var description: String { serialized }
}
