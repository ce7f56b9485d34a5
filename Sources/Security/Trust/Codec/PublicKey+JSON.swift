/// Keys as each dialect writes them in `keys` members and `delegations.keys`:
///
///     TUF:    {"keytype":"ed25519","scheme":"ed25519","keyval":{"public":"<hex>"}}
///             {"keytype":"ecdsa","scheme":"ecdsa-sha2-nistp256","keyval":{"public":"-----BEGIN PUBLIC KEY-----\n…"}}
///     Notary: {"keytype":"ecdsa","keyval":{"private":null,"public":"<base64 DER>"}}
///             {"keytype":"ecdsa-x509","keyval":{"private":null,"public":"<base64 of the PEM certificate>"}}
///
/// The key ID is the sha256 of this object's canonical form in both: securesystemslib's
/// `_get_keyid` and notary's `TUFKey.ID()` (which hashes the certificate form for x509
/// keys, so a root key's ID in metadata is its certificate's).
extension PublicKey {
    public func json(dialect: TrustDialect) -> TrustJSON {
        switch dialect {
        case .tuf:
            let publicText: String = switch kind {
            case .ed25519: TrustEncoding.hex(material)
            case .ecdsa, .rsa: TrustEncoding.pem(material, label: "PUBLIC KEY")
            case .ecdsaX509, .rsaX509: String(decoding: material, as: UTF8.self)
            }
            return .object([
                "keytype": .string(kind.rawValue),
                "scheme": .string(scheme ?? kind.defaultScheme),
                "keyval": .object(["public": .string(publicText)]),
            ])
        case .notary:
            return .object([
                "keytype": .string(kind.rawValue),
                "keyval": .object(["private": .null, "public": .string(TrustEncoding.base64(material))]),
            ])
        }
    }

    public init(json: TrustJSON, dialect: TrustDialect) throws(TrustError) {
        try self.init(json: json, dialect: dialect, role: "key", path: "")
    }

    /// `role` and `path` say where the key is, for the message of a refusal.
    init(json: TrustJSON, dialect: TrustDialect, role: RoleName, path: String) throws(TrustError) {
        let fields = try MetadataFields(role: role, path: path, json)
        let keytype = try fields.string("keytype")
        let keyval = try fields.object("keyval")
        let publicText = try keyval.string("public")
        switch dialect {
        case .tuf:
            let scheme = try fields.string("scheme")
            let kind: Kind
            switch (keytype, scheme) {
            case ("ed25519", "ed25519"):
                kind = .ed25519
            case ("ecdsa", "ecdsa-sha2-nistp256"), ("ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256"),
                 ("ecdsa", "ecdsa-sha2-nistp384"), ("ecdsa-sha2-nistp384", "ecdsa-sha2-nistp384"):
                kind = .ecdsa
            case ("rsa", _) where scheme.hasPrefix("rsassa-pss-") || scheme.hasPrefix("rsa-pkcs1v15-"):
                kind = .rsa
            default:
                throw fields.failure(nil, "unknown key type \"\(keytype)\" with scheme \"\(scheme)\" (expected ed25519, ecdsa or rsa)")
            }
            switch kind {
            case .ed25519:
                guard let raw = TrustEncoding.bytes(hex: publicText), raw.count == 32 else {
                    throw keyval.failure("public", "an ed25519 key must be 64 hex digits")
                }
                self.init(kind: kind, scheme: scheme, material: raw)
            default:
                guard let der = TrustEncoding.bytes(pem: publicText, label: "PUBLIC KEY"), der.first == 0x30 else {
                    throw keyval.failure("public", "expected a PEM \"PUBLIC KEY\" block")
                }
                self.init(kind: kind, scheme: scheme, material: der)
            }
        case .notary:
            guard let kind = Kind(rawValue: keytype) else {
                throw fields.failure("keytype", "unknown key type \"\(keytype)\" (expected ed25519, ecdsa, ecdsa-x509, rsa or rsa-x509)")
            }
            if let privateValue = keyval.members["private"], privateValue != .null {
                throw keyval.failure("private", "a private key in public metadata")
            }
            guard let material = TrustEncoding.bytes(base64: publicText) else {
                throw keyval.failure("public", "expected base64")
            }
            switch kind {
            case .ed25519:
                guard material.count == 32 else { throw keyval.failure("public", "an ed25519 key must be 32 bytes, not \(material.count)") }
            case .ecdsa, .rsa:
                guard material.first == 0x30 else { throw keyval.failure("public", "expected a DER SubjectPublicKeyInfo") }
            case .ecdsaX509, .rsaX509:
                guard TrustEncoding.bytes(pem: String(decoding: material, as: UTF8.self), label: "CERTIFICATE") != nil else {
                    throw keyval.failure("public", "expected a PEM certificate")
                }
            }
            self.init(kind: kind, material: material)
        }
    }
}

extension PublicKey.Kind {
    /// The scheme TUF writes when a key has none of its own.
    public var defaultScheme: String {
        switch self {
        case .ed25519: "ed25519"
        case .ecdsa, .ecdsaX509: "ecdsa-sha2-nistp256"
        case .rsa, .rsaX509: "rsassa-pss-sha256"
        }
    }

    /// Notary's signature `method` for keys of this kind (`data.SigAlgorithm`): what a
    /// `TrustSignature` made with such a key carries in the Notary dialect.
    public var notaryMethod: String {
        switch self {
        case .ed25519: "eddsa"
        case .ecdsa, .ecdsaX509: "ecdsa"
        case .rsa, .rsaX509: "rsapss"
        }
    }
}
