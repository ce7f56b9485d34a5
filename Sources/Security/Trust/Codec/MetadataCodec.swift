/// Reads and writes metadata files of both dialects.
///
/// TUF 1.0, as python-tuf writes it (`tuf/api/_payload.py`):
///
///     {"signatures":[{"keyid":"<hex>","sig":"<hex>"}],
///      "signed":{"_type":"snapshot","spec_version":"1.0.31","version":3,
///                "expires":"2030-01-01T00:00:00Z","meta":{"targets.json":{"version":3}}}}
///
/// Notary v1, as notary writes it (`tuf/data/*.go`):
///
///     {"signed":{"_type":"Snapshot","expires":"2116-07-03T18:08:08.42-05:00",
///                "meta":{"targets":{"hashes":{"sha256":"<base64>","sha512":"<base64>"},"length":2534}},
///                "version":5},
///      "signatures":[{"keyid":"<hex>","method":"ecdsa","sig":"<base64>"}]}
///
/// Decoding checks every field the model holds (type, range, encoding, size of hashes) and
/// refuses with the role and the field's path; members it does not know are left alone,
/// and remain in `signedBytes`, which is what signatures are checked against.
public enum MetadataCodec {
    /// The largest file accepted for each kind of role (delegated roles count as targets),
    /// checked before a byte is parsed: a server cannot make a client read endless data.
    public static let sizeLimits: [RoleName: Int] = [
        TopRole.root: 512 * 1024,
        TopRole.timestamp: 16 * 1024,
        TopRole.snapshot: 4 * 1024 * 1024,
        TopRole.targets: 4 * 1024 * 1024,
    ]

    /// The limit for `role`: its own, or targets' for a delegated role.
    public static func sizeLimit(for role: RoleName) -> Int {
        sizeLimits[role] ?? sizeLimits[TopRole.targets]!
    }

    /// The spec_version written in TUF files: the version python-tuf supports.
    public static let specVersion = "1.0.31"

    // MARK: - Decoding

    /// Parses a file of `role`; checks `_type` (and spec_version in TUF), every field's type.
    public static func decode(_ file: [UInt8], role: RoleName, dialect: TrustDialect) throws(TrustError) -> SignedMetadata {
        let kind = try RoleKind(role, dialect: dialect)
        let json: TrustJSON
        do {
            json = try TrustJSON.parse(file, limit: sizeLimit(for: role))
        } catch {
            throw .malformed("\(role): \(error.description)")
        }
        let top = try MetadataFields(role: role, path: "", json)
        let signedValue = try top.required("signed")
        let signed = try MetadataFields(role: role, path: "signed", signedValue)
        let signatures = try decodeSignatures(top, dialect: dialect)

        let type = try signed.string("_type")
        guard type == kind.typeName(dialect) else {
            throw signed.failure("_type", "\"\(type)\" where \"\(kind.typeName(dialect))\" was expected")
        }
        if dialect == .tuf {
            let spec = try signed.string("spec_version")
            let parts = spec.split(separator: ".", omittingEmptySubsequences: false)
            guard (2...3).contains(parts.count), parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }) else {
                throw signed.failure("spec_version", "\"\(spec)\" is not a version such as \"\(specVersion)\"")
            }
            guard parts[0] == "1" else { throw signed.failure("spec_version", "\"\(spec)\" is not supported (expected 1.x)") }
        }
        let version = Int(try signed.integer("version", minimum: 1))
        let expires = try decodeTime(signed, "expires", dialect: dialect)

        let part: SignedPart
        switch kind {
        case .root: part = .root(try decodeRoot(signed, version: version, expires: expires, dialect: dialect))
        case .targets: part = .targets(try decodeTargets(signed, version: version, expires: expires, dialect: dialect))
        case .snapshot: part = .snapshot(try decodeMeta(signed, version: version, expires: expires, dialect: dialect, snapshot: true))
        case .timestamp: part = .timestamp(try decodeMeta(signed, version: version, expires: expires, dialect: dialect, snapshot: false))
        }
        return SignedMetadata(role: role, dialect: dialect, signed: part, signatures: signatures,
                              signedBytes: signedValue.canonical, fileBytes: file)
    }

    /// What a role's file holds, and what its `_type` says.
    enum RoleKind {
        case root, targets, snapshot, timestamp

        init(_ role: RoleName, dialect: TrustDialect) throws(TrustError) {
            switch role {
            case TopRole.root: self = .root
            case TopRole.targets: self = .targets
            case TopRole.snapshot: self = .snapshot
            case TopRole.timestamp: self = .timestamp
            default:
                // Notary names delegations as paths under targets; TUF by plain names.
                let valid = switch dialect {
                case .notary: role.hasPrefix("targets/") && role.count > "targets/".count && !role.hasSuffix("/")
                case .tuf: !role.isEmpty && !role.contains("/") && role != "." && role != ".."
                }
                guard valid else {
                    throw .malformed("role \"\(role)\": not a role name (expected root, targets, snapshot, timestamp or a delegated role\(dialect == .notary ? " targets/NAME" : ""))")
                }
                self = .targets
            }
        }

        func typeName(_ dialect: TrustDialect) -> String {
            let name = switch self {
            case .root: "root"
            case .targets: "targets"
            case .snapshot: "snapshot"
            case .timestamp: "timestamp"
            }
            return dialect == .tuf ? name : name.prefix(1).uppercased() + name.dropFirst()
        }
    }

    private static func decodeSignatures(_ top: MetadataFields, dialect: TrustDialect) throws(TrustError) -> [TrustSignature] {
        var signatures: [TrustSignature] = []
        for (index, element) in try top.array("signatures").enumerated() {
            let fields = try MetadataFields(role: top.role, path: "signatures[\(index)]", element)
            let keyID = try fields.string("keyid")
            let text = try fields.string("sig")
            // Two signatures by one key would count twice towards a threshold in a careless
            // client; neither tool writes them, and python-tuf refuses them too.
            guard !signatures.contains(where: { $0.keyID == keyID }) else { throw fields.failure("keyid", "a second signature by key \(keyID)") }
            switch dialect {
            case .tuf:
                guard let bytes = TrustEncoding.bytes(hex: text) else { throw fields.failure("sig", "expected hex") }
                signatures.append(TrustSignature(keyID: keyID, bytes: bytes))
            case .notary:
                guard let bytes = TrustEncoding.bytes(base64: text) else { throw fields.failure("sig", "expected base64") }
                // notary lowercases the method when it reads a signature.
                let method = try fields.string("method").lowercased()
                signatures.append(TrustSignature(keyID: keyID, method: method, bytes: bytes))
            }
        }
        return signatures
    }

    private static func decodeTime(_ fields: MetadataFields, _ key: String, dialect: TrustDialect) throws(TrustError) -> TrustTime {
        let text = try fields.string(key)
        // python-tuf reads only `%Y-%m-%dT%H:%M:%SZ`: a TUF file any other way is one other
        // clients refuse, so it is refused here too.
        if dialect == .tuf, text.utf8.count != 20 || !text.hasSuffix("Z") {
            throw fields.failure(key, "\"\(text)\" is not a time such as 2030-01-31T23:59:59Z")
        }
        do {
            return try TrustTime(rfc3339: text)
        } catch {
            throw fields.failure(key, error.description)
        }
    }

    private static func decodeRoot(_ signed: MetadataFields, version: Int, expires: TrustTime, dialect: TrustDialect) throws(TrustError) -> RootMetadata {
        let consistent = signed.members["consistent_snapshot"] == nil ? false : try signed.bool("consistent_snapshot")
        var keys: [String: PublicKey] = [:]
        for entry in try signed.entries("keys") {
            keys[entry.key] = try PublicKey(json: entry.value, dialect: dialect, role: signed.role, path: entry.path)
        }
        var roles: [RoleName: RoleKeys] = [:]
        for entry in try signed.entries("roles") {
            if dialect == .tuf, !TopRole.all.contains(entry.key) {
                throw MetadataFields.failure(signed.role, entry.path, "not a top-level role (expected root, targets, snapshot, timestamp)")
            }
            roles[entry.key] = try decodeRoleKeys(entry.value, role: signed.role, path: entry.path)
        }
        for name in TopRole.all where roles[name] == nil {
            throw signed.failure("roles", "missing \"\(name)\"")
        }
        if dialect == .notary {
            for (name, role) in roles.sorted(by: { $0.key < $1.key }) {
                for keyID in role.keyIDs where keys[keyID] == nil {
                    throw MetadataFields.failure(signed.role, MetadataFields.entry("signed.roles", name) + ".keyids", "key \(keyID) is not in signed.keys")
                }
            }
        }
        return RootMetadata(version: version, expires: expires, consistentSnapshot: consistent, keys: keys, roles: roles)
    }

    static func decodeRoleKeys(_ json: TrustJSON, role: RoleName, path: String) throws(TrustError) -> RoleKeys {
        let fields = try MetadataFields(role: role, path: path, json)
        return RoleKeys(keyIDs: try fields.strings("keyids", distinct: true),
                        threshold: Int(try fields.integer("threshold", minimum: 1)))
    }

    private static func decodeTargets(_ signed: MetadataFields, version: Int, expires: TrustTime, dialect: TrustDialect) throws(TrustError) -> TargetsMetadata {
        var targets: [String: TargetFile] = [:]
        for entry in try signed.entries("targets") {
            targets[entry.key] = try decodeTargetFile(entry.value, role: signed.role, path: entry.path, dialect: dialect)
        }
        var metadata = TargetsMetadata(version: version, expires: expires, targets: targets)
        guard signed.members["delegations"] != nil else { return metadata }
        let delegations = try signed.object("delegations")
        for entry in try delegations.entries("keys") {
            metadata.delegationKeys[entry.key] = try PublicKey(json: entry.value, dialect: dialect, role: signed.role, path: entry.path)
        }
        if dialect == .tuf, delegations.members["succinct_roles"] != nil {
            throw delegations.failure("succinct_roles", "hash-bin delegations (succinct_roles) are not supported")
        }
        for (index, element) in try delegations.array("roles").enumerated() {
            let path = delegations.child("roles[\(index)]")
            let delegation = try decodeDelegation(element, role: signed.role, path: path, dialect: dialect)
            guard !metadata.delegations.contains(where: { $0.name == delegation.name }) else {
                throw MetadataFields.failure(signed.role, path + ".name", "role \"\(delegation.name)\" delegated twice")
            }
            if dialect == .notary {
                // notary: a delegation is a direct child of the role that delegates it.
                let parent = delegation.name.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
                guard parent == signed.role, (try? RoleKind(delegation.name, dialect: .notary)) != nil else {
                    throw MetadataFields.failure(signed.role, path + ".name", "\"\(delegation.name)\" is not a role directly under \(signed.role)")
                }
                for keyID in delegation.keys.keyIDs where metadata.delegationKeys[keyID] == nil {
                    throw MetadataFields.failure(signed.role, path + ".keyids", "key \(keyID) is not in signed.delegations.keys")
                }
            } else {
                guard (try? RoleKind(delegation.name, dialect: .tuf)) == .targets else {
                    throw MetadataFields.failure(signed.role, path + ".name", "\"\(delegation.name)\" is not a delegated role name")
                }
            }
            metadata.delegations.append(delegation)
        }
        return metadata
    }

    static func decodeDelegation(_ json: TrustJSON, role: RoleName, path: String, dialect: TrustDialect) throws(TrustError) -> Delegation {
        let fields = try MetadataFields(role: role, path: path, json)
        let name = try fields.string("name")
        var keyed = json
        if dialect == .notary, case .object(var members) = json, members["keyids"] == .null {
            // notary (Go, a nil slice) writes a delegation whose keys were all removed
            // (`notary delegation remove GUN ROLE KEYID`) as "keyids": null.
            members["keyids"] = .array([])
            keyed = .object(members)
        }
        let keys = try decodeRoleKeys(keyed, role: role, path: path)
        switch dialect {
        case .tuf:
            let terminating = try fields.bool("terminating")
            let hasPaths = fields.members["paths"] != nil, hasPrefixes = fields.members["path_hash_prefixes"] != nil
            guard hasPaths != hasPrefixes else {
                throw fields.failure(nil, "exactly one of \"paths\" and \"path_hash_prefixes\" expected")
            }
            if hasPrefixes {
                let prefixes = try fields.strings("path_hash_prefixes", distinct: false)
                for prefix in prefixes where TrustEncoding.bytes(hex: prefix.count % 2 == 0 ? prefix : prefix + "0") == nil {
                    throw fields.failure("path_hash_prefixes", "\"\(prefix)\" is not hex")
                }
                return Delegation(name: name, keys: keys, paths: nil, pathHashPrefixes: prefixes, terminating: terminating)
            }
            return Delegation(name: name, keys: keys, paths: try fields.strings("paths", distinct: false), terminating: terminating)
        case .notary:
            // notary omits empty paths; it has no terminating delegations.
            let paths = fields.members["paths"] == nil || fields.members["paths"] == .null ? [] : try fields.strings("paths", distinct: false)
            return Delegation(name: name, keys: keys, paths: paths)
        }
    }

    static func decodeTargetFile(_ json: TrustJSON, role: RoleName, path: String, dialect: TrustDialect) throws(TrustError) -> TargetFile {
        let fields = try MetadataFields(role: role, path: path, json)
        let length = try fields.integer("length", minimum: 0)
        let hashes = try decodeHashes(fields, dialect: dialect)
        let custom = fields.members["custom"].flatMap { $0 == .null ? nil : $0 }
        return TargetFile(length: length, hashes: hashes, custom: custom)
    }

    /// Sizes of the digests whose size is known; a hash of another size is a file that
    /// cannot match anything, and more likely an attack on a parser than a mistake.
    static let digestSizes: [String: Int] = ["sha224": 28, "sha256": 32, "sha384": 48, "sha512": 64, "sha512_256": 32, "blake2b-256": 32, "blake2b": 64]

    static func decodeHashes(_ fields: MetadataFields, dialect: TrustDialect) throws(TrustError) -> [String: [UInt8]] {
        var hashes: [String: [UInt8]] = [:]
        for entry in try fields.entries("hashes") {
            guard case .string(let text) = entry.value else {
                throw MetadataFields.failure(fields.role, entry.path, "expected a string, found \(entry.value.kindName)")
            }
            let decoded = dialect == .tuf ? TrustEncoding.bytes(hex: text) : TrustEncoding.bytes(base64: text)
            guard let digest = decoded, !digest.isEmpty else {
                throw MetadataFields.failure(fields.role, entry.path, "expected \(dialect == .tuf ? "hex" : "base64")")
            }
            if let size = digestSizes[entry.key], digest.count != size {
                throw MetadataFields.failure(fields.role, entry.path, "a \(entry.key) digest is \(size) bytes, not \(digest.count)")
            }
            hashes[entry.key] = digest
        }
        guard !hashes.isEmpty else { throw fields.failure("hashes", "no hashes") }
        if dialect == .notary, hashes["sha256"] == nil, hashes["sha512"] == nil {
            throw fields.failure("hashes", "neither sha256 nor sha512")
        }
        return hashes
    }

    private static func decodeMeta(_ signed: MetadataFields, version: Int, expires: TrustTime, dialect: TrustDialect, snapshot: Bool) throws(TrustError) -> SnapshotMetadata {
        var meta: [RoleName: MetaFile] = [:]
        for entry in try signed.entries("meta") {
            var name = entry.key
            if dialect == .tuf {
                guard name.hasSuffix(".json"), name.count > 5 else {
                    throw MetadataFields.failure(signed.role, entry.path, "not a metadata file name (ROLE.json)")
                }
                name.removeLast(5)
            }
            meta[name] = try decodeMetaFile(entry.value, role: signed.role, path: entry.path, dialect: dialect)
        }
        // What the other roles' checks start from must be there.
        let required: [RoleName] = switch (dialect, snapshot) {
        case (.tuf, true): []
        case (.notary, true): [TopRole.root, TopRole.targets]
        case (_, false): [TopRole.snapshot]
        }
        for name in required where meta[name] == nil {
            throw signed.failure("meta", "missing \"\(dialect == .tuf ? name + ".json" : name)\"")
        }
        if dialect == .notary {
            for name in meta.keys.sorted() where meta[name]?.hashes?["sha256"] == nil {
                throw MetadataFields.failure(signed.role, MetadataFields.entry("signed.meta", name) + ".hashes", "no sha256")
            }
        }
        return SnapshotMetadata(version: version, expires: expires, meta: meta)
    }

    static func decodeMetaFile(_ json: TrustJSON, role: RoleName, path: String, dialect: TrustDialect) throws(TrustError) -> MetaFile {
        let fields = try MetadataFields(role: role, path: path, json)
        switch dialect {
        case .tuf:
            let version = Int(try fields.integer("version", minimum: 1))
            let length = try fields.optionalInteger("length", minimum: 0)
            let hashes = fields.members["hashes"] == nil ? nil : try decodeHashes(fields, dialect: dialect)
            return MetaFile(version: version, length: length, hashes: hashes)
        case .notary:
            return MetaFile(version: nil, length: try fields.integer("length", minimum: 0), hashes: try decodeHashes(fields, dialect: dialect))
        }
    }
}
