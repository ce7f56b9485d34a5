/// One JSON object of a metadata file being read, with where it is, so that every refusal
/// names the role and the field: `root: signed.roles.timestamp.threshold: 0 is less than 1`.
struct MetadataFields {
    let role: RoleName
    /// `signed.meta["targets.json"]`: members after dots, data keys (paths, key IDs, file
    /// names) in brackets.
    let path: String
    let members: [String: TrustJSON]

    init(role: RoleName, path: String, _ value: TrustJSON) throws(TrustError) {
        guard case .object(let members) = value else {
            throw .malformed("\(role): \(path.isEmpty ? "the file" : path): expected an object, found \(value.kindName)")
        }
        self.role = role
        self.path = path
        self.members = members
    }

    func child(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
    static func entry(_ path: String, _ key: String) -> String { "\(path)[\"\(key)\"]" }

    func failure(_ key: String?, _ what: String) -> TrustError {
        .malformed("\(role): \(key.map(child) ?? (path.isEmpty ? "the file" : path)): \(what)")
    }
    static func failure(_ role: RoleName, _ path: String, _ what: String) -> TrustError {
        .malformed("\(role): \(path): \(what)")
    }

    func required(_ key: String) throws(TrustError) -> TrustJSON {
        guard let value = members[key] else { throw failure(nil, "missing \"\(key)\"") }
        return value
    }

    func string(_ key: String) throws(TrustError) -> String {
        let value = try required(key)
        guard case .string(let text) = value else { throw failure(key, "expected a string, found \(value.kindName)") }
        return text
    }

    func optionalString(_ key: String) throws(TrustError) -> String? {
        guard members[key] != nil, members[key] != .null else { return nil }
        return try string(key)
    }

    func integer(_ key: String, minimum: Int64) throws(TrustError) -> Int64 {
        let value = try required(key)
        guard case .integer(let number) = value else { throw failure(key, "expected an integer, found \(value.kindName)") }
        guard number >= minimum else { throw failure(key, "\(number) is less than \(minimum)") }
        return number
    }

    func optionalInteger(_ key: String, minimum: Int64) throws(TrustError) -> Int64? {
        guard members[key] != nil else { return nil }
        return try integer(key, minimum: minimum)
    }

    func bool(_ key: String) throws(TrustError) -> Bool {
        let value = try required(key)
        guard case .bool(let flag) = value else { throw failure(key, "expected true or false, found \(value.kindName)") }
        return flag
    }

    func object(_ key: String) throws(TrustError) -> MetadataFields {
        try MetadataFields(role: role, path: child(key), required(key))
    }

    func array(_ key: String) throws(TrustError) -> [TrustJSON] {
        let value = try required(key)
        guard case .array(let elements) = value else { throw failure(key, "expected an array, found \(value.kindName)") }
        return elements
    }

    /// An array of distinct strings (key IDs, paths).
    func strings(_ key: String, distinct: Bool) throws(TrustError) -> [String] {
        var out: [String] = []
        for (index, element) in try array(key).enumerated() {
            guard case .string(let text) = element else { throw failure("\(key)[\(index)]", "expected a string, found \(element.kindName)") }
            if distinct && out.contains(text) { throw failure(key, "\"\(text)\" listed twice") }
            out.append(text)
        }
        return out
    }

    /// Every entry of an object keyed by data (key IDs, paths, role names), in key order so
    /// that the first bad entry reported is the same every run.
    func entries(_ key: String) throws(TrustError) -> [(key: String, path: String, value: TrustJSON)] {
        let inner = try object(key)
        return inner.members.keys.sorted().map { (key: $0, path: Self.entry(inner.path, $0), value: inner.members[$0]!) }
    }
}

extension TrustJSON {
    /// For messages: "expected an integer, found a string".
    var kindName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .integer: "an integer"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}
