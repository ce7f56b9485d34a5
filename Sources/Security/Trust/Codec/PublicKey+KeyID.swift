extension PublicKey {
    /// Lowercase hex of the sha256 of `json(dialect:)` in canonical form.
    public func keyID(dialect: TrustDialect) -> String {
        TrustEncoding.hex(TrustDigest.sha256(json(dialect: dialect).canonical))
    }

    /// Notary's `utils.CanonicalKeyID`: for the x509 kinds the ID of the key inside the
    /// certificate (as a plain ecdsa or rsa key), which is what names the private key's file
    /// (`private/<id>.key`, and `notary key list`); for other kinds `keyID(dialect: .notary)`.
    public func canonicalKeyID() throws(TrustError) -> String {
        switch kind {
        case .ecdsaX509, .rsaX509:
            let inner = try certificate().key
            return PublicKey(kind: inner.kind, material: inner.material).keyID(dialect: .notary)
        case .ed25519, .ecdsa, .rsa:
            return keyID(dialect: .notary)
        }
    }
}
