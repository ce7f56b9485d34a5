/// The private keys a signer holds for one signing run, by key ID: what `TrustRepository.sign`
/// may sign with. A role is signed by the keys of it that are here and no others, so a ring
/// with only the repository key cannot touch root.
///
/// Key IDs are looked up as the metadata lists them, but a ring built from the key store
/// also finds keys listed under another ID: Notary lists a root key as its certificate's ID
/// while the notary CLI files the private key under the bare key's ID, and a TUF key's ID
/// depends on its dialect's JSON form.
public struct KeyRing: Sendable {
    public var keys: [String: PrivateKey]

    public init(_ keys: [String: PrivateKey]) {
        self.keys = keys
    }

    /// A ring of `keys` under their IDs in `dialect`.
    public init(_ keys: [PrivateKey], dialect: TrustDialect) {
        var byID: [String: PrivateKey] = [:]
        for key in keys { byID[key.publicKey.forMetadata(dialect).keyID(dialect: dialect)] = key }
        self.keys = byID
    }

    /// Both rings' keys; `other`'s win for the same ID.
    public func merging(_ other: KeyRing) -> KeyRing {
        KeyRing(keys.merging(other.keys) { _, theirs in theirs })
    }

    /// The private key for `id` as `listed` in metadata: by ID, or the key whose public
    /// half it is (by material, or for a certificate, Notary's root keys, the certificate's key).
    func key(for id: String, listed: PublicKey?) -> PrivateKey? {
        if let key = keys[id] { return key }
        guard let listed else { return nil }
        return keys.values.first { $0.matches(listed) }
    }
}

extension PublicKey {
    /// The key as `dialect` lists it: TUF names a scheme for every key, Notary none.
    func forMetadata(_ dialect: TrustDialect) -> PublicKey {
        var key = self
        switch dialect {
        case .notary:
            key.scheme = nil
        case .tuf where key.scheme == nil:
            switch kind {
            case .ed25519: key.scheme = "ed25519"
            case .ecdsa, .ecdsaX509: key.scheme = "ecdsa-sha2-nistp256"
            case .rsa, .rsaX509: key.scheme = "rsassa-pss-sha256"
            }
        case .tuf:
            break
        }
        return key
    }
}
