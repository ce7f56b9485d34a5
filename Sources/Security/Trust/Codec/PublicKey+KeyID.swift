extension PublicKey {
    /// Lowercase hex of the sha256 of `json(dialect:)` in canonical form.
    public func keyID(dialect: TrustDialect) -> String {
        TrustEncoding.hex(TrustDigest.sha256(json(dialect: dialect).canonical))
    }
}
