extension MetadataCodec {
    /// The `signed` member for a part (TUF: spec_version "1.0.31"; unknown members of
    /// `keeping` preserved).
    ///
    /// `keeping` is the `signed` member this part was read from, when it is being changed
    /// and re-signed: members this codec does not manage are carried over (at the top, in
    /// `delegations`), and every record the change left equal (a key, a target, a meta
    /// entry, a role, the expiry) is written exactly as it was, so that what other tools
    /// added to it survives, and a key keeps the exact text its ID was computed over.
    public static func signedJSON(_ part: SignedPart, dialect: TrustDialect, keeping: TrustJSON? = nil) -> TrustJSON {
        let old = keeping?.object
        let kind: RoleKind
        var members: [String: TrustJSON] = [
            "version": .integer(Int64(part.version)),
            "expires": reusing(old?["expires"], part.expires, { text throws(TrustError) in try TrustTime(rfc3339: text.string ?? "") })
                ?? .string(part.expires.rfc3339(dialect: dialect)),
        ]
        var managed: Set<String> = ["_type", "spec_version", "version", "expires"]
        switch part {
        case .root(let root):
            kind = .root
            managed.formUnion(["consistent_snapshot", "keys", "roles"])
            members["consistent_snapshot"] = .bool(root.consistentSnapshot)
            members["keys"] = encodeKeys(root.keys, dialect: dialect, old: old?["keys"])
            let oldRoles = old?["roles"]?.object
            var roles: [String: TrustJSON] = [:]
            for (name, keys) in root.roles {
                roles[name] = reusing(oldRoles?[name], keys, { json throws(TrustError) in try decodeRoleKeys(json, role: "", path: "") })
                    ?? encodeRoleKeys(keys)
            }
            members["roles"] = .object(roles)
        case .targets(let targets):
            kind = .targets
            managed.formUnion(["targets", "delegations"])
            let oldTargets = old?["targets"]?.object
            var files: [String: TrustJSON] = [:]
            for (path, file) in targets.targets {
                files[path] = reusing(oldTargets?[path], file, { json throws(TrustError) in try decodeTargetFile(json, role: "", path: "", dialect: dialect) })
                    ?? encodeTargetFile(file, dialect: dialect)
            }
            members["targets"] = .object(files)
            // notary always writes delegations (a struct, never omitted); python-tuf only
            // when there are some.
            let oldDelegations = old?["delegations"]
            if dialect == .notary || !targets.delegations.isEmpty || !targets.delegationKeys.isEmpty || oldDelegations != nil {
                let oldRoles = oldDelegations?["roles"]?.array ?? []
                var roles: [TrustJSON] = []
                for delegation in targets.delegations {
                    let previous = oldRoles.first { $0["name"]?.string == delegation.name }
                    roles.append(reusing(previous, delegation, { json throws(TrustError) in try decodeDelegation(json, role: "", path: "", dialect: dialect) })
                        ?? encodeDelegation(delegation, dialect: dialect))
                }
                var delegations: [String: TrustJSON] = [
                    "keys": encodeKeys(targets.delegationKeys, dialect: dialect, old: oldDelegations?["keys"]),
                    "roles": .array(roles),
                ]
                carryOver(from: oldDelegations?.object, into: &delegations, managed: ["keys", "roles"])
                members["delegations"] = .object(delegations)
            }
        case .snapshot(let meta), .timestamp(let meta):
            if case .snapshot = part { kind = .snapshot } else { kind = .timestamp }
            managed.insert("meta")
            let oldMeta = old?["meta"]?.object
            var files: [String: TrustJSON] = [:]
            for (role, file) in meta.meta {
                let name = dialect == .tuf ? role + ".json" : role
                files[name] = reusing(oldMeta?[name], file, { json throws(TrustError) in try decodeMetaFile(json, role: "", path: "", dialect: dialect) })
                    ?? encodeMetaFile(file, dialect: dialect)
            }
            members["meta"] = .object(files)
        }
        members["_type"] = .string(kind.typeName(dialect))
        if dialect == .tuf { members["spec_version"] = .string(specVersion) }
        carryOver(from: old, into: &members, managed: managed)
        return .object(members)
    }

    /// The `signed` member of a decoded file, to pass as `keeping` when changing it. (Not
    /// `TrustJSON.parse(signedBytes)`: canonical bytes hold control characters raw, which
    /// JSON, and so the parser, refuses.)
    public static func signedMember(of metadata: SignedMetadata) -> TrustJSON? {
        (try? TrustJSON.parse(metadata.fileBytes, limit: .max))?["signed"]
    }

    /// A whole file: {"signatures": [...], "signed": ...}, as the dialect's tools write it.
    ///
    /// Both write compact JSON: python-tuf's `Metadata.to_bytes()` with keys sorted
    /// (signatures first), notary's `json.Marshal` of its `Signed` struct (signed first, its
    /// signatures as keyid, method, sig). The signed member is written sorted, without
    /// whitespace, which is its canonical form unless a string holds a control character
    /// (escaped here, so that JSON parsers that refuse raw ones, Python's and Go's, can
    /// read the file). A Notary signature needs its `method` (`PublicKey.Kind.notaryMethod`).
    public static func file(signed: TrustJSON, signatures: [TrustSignature], dialect: TrustDialect) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(4096)
        func signatureList() {
            out.append(UInt8(ascii: "["))
            for (index, signature) in signatures.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                out.append(contentsOf: "{\"keyid\":".utf8)
                TrustJSON.string(signature.keyID).appendCompact(to: &out)
                if dialect == .notary {
                    out.append(contentsOf: ",\"method\":".utf8)
                    TrustJSON.string(signature.method ?? "").appendCompact(to: &out)
                }
                out.append(contentsOf: ",\"sig\":".utf8)
                let text = dialect == .tuf ? TrustEncoding.hex(signature.bytes) : TrustEncoding.base64(signature.bytes)
                TrustJSON.string(text).appendCompact(to: &out)
                out.append(UInt8(ascii: "}"))
            }
            out.append(UInt8(ascii: "]"))
        }
        switch dialect {
        case .tuf:
            out.append(contentsOf: "{\"signatures\":".utf8)
            signatureList()
            out.append(contentsOf: ",\"signed\":".utf8)
            signed.appendCompact(to: &out)
            out.append(UInt8(ascii: "}"))
        case .notary:
            out.append(contentsOf: "{\"signed\":".utf8)
            signed.appendCompact(to: &out)
            out.append(contentsOf: ",\"signatures\":".utf8)
            signatureList()
            out.append(UInt8(ascii: "}"))
        }
        return out
    }

    // MARK: - Records

    static func encodeKeys(_ keys: [String: PublicKey], dialect: TrustDialect, old: TrustJSON?) -> TrustJSON {
        let oldKeys = old?.object
        var out: [String: TrustJSON] = [:]
        for (id, key) in keys {
            out[id] = reusing(oldKeys?[id], key, { json throws(TrustError) in try PublicKey(json: json, dialect: dialect) })
                ?? key.json(dialect: dialect)
        }
        return .object(out)
    }

    static func encodeRoleKeys(_ keys: RoleKeys) -> TrustJSON {
        .object(["keyids": .array(keys.keyIDs.map(TrustJSON.string)), "threshold": .integer(Int64(keys.threshold))])
    }

    static func encodeHashes(_ hashes: [String: [UInt8]], dialect: TrustDialect) -> TrustJSON {
        .object(hashes.mapValues { .string(dialect == .tuf ? TrustEncoding.hex($0) : TrustEncoding.base64($0)) })
    }

    static func encodeTargetFile(_ file: TargetFile, dialect: TrustDialect) -> TrustJSON {
        var members: [String: TrustJSON] = ["length": .integer(file.length), "hashes": encodeHashes(file.hashes, dialect: dialect)]
        if let custom = file.custom { members["custom"] = custom }
        return .object(members)
    }

    /// A TUF meta entry without a version is a caller's mistake: it is written as version 0,
    /// which every reader (this one too) refuses, rather than as a version that could pass.
    static func encodeMetaFile(_ file: MetaFile, dialect: TrustDialect) -> TrustJSON {
        switch dialect {
        case .tuf:
            var members: [String: TrustJSON] = ["version": .integer(Int64(file.version ?? 0))]
            if let length = file.length { members["length"] = .integer(length) }
            if let hashes = file.hashes { members["hashes"] = encodeHashes(hashes, dialect: dialect) }
            return .object(members)
        case .notary:
            return .object(["length": .integer(file.length ?? 0), "hashes": encodeHashes(file.hashes ?? [:], dialect: dialect)])
        }
    }

    static func encodeDelegation(_ delegation: Delegation, dialect: TrustDialect) -> TrustJSON {
        guard case .object(var members) = encodeRoleKeys(delegation.keys) else { return .null }
        members["name"] = .string(delegation.name)
        switch dialect {
        case .tuf:
            members["terminating"] = .bool(delegation.terminating)
            if let prefixes = delegation.pathHashPrefixes, delegation.paths == nil {
                members["path_hash_prefixes"] = .array(prefixes.map(TrustJSON.string))
            } else {
                members["paths"] = .array((delegation.paths ?? []).map(TrustJSON.string))
            }
        case .notary:
            // `json:"paths,omitempty"`
            if let paths = delegation.paths, !paths.isEmpty { members["paths"] = .array(paths.map(TrustJSON.string)) }
        }
        return .object(members)
    }

    /// `old` itself when it decodes to `value`, so that unchanged records keep their text.
    static func reusing<T: Equatable>(_ old: TrustJSON?, _ value: T, _ decode: (TrustJSON) throws(TrustError) -> T) -> TrustJSON? {
        guard let old, let decoded = try? decode(old), decoded == value else { return nil }
        return old
    }

    /// Members of `old` this codec does not manage, carried over to the new object.
    static func carryOver(from old: [String: TrustJSON]?, into members: inout [String: TrustJSON], managed: Set<String>) {
        for (key, value) in old ?? [:] where !managed.contains(key) && members[key] == nil {
            members[key] = value
        }
    }
}
