/// A public key as metadata lists it.
public struct PublicKey: Hashable, Sendable {
    public enum Kind: String, Sendable {
        case ed25519
        /// ECDSA over P-256 with SHA-256.
        case ecdsa
        /// ECDSA P-256 whose public value is an X.509 certificate (Notary's root keys).
        case ecdsaX509 = "ecdsa-x509"
        /// RSA with PSS padding and SHA-256: verified, never made.
        case rsa
        case rsaX509 = "rsa-x509"
    }
    public var kind: Kind
    /// TUF's `scheme` ("ed25519", "ecdsa-sha2-nistp256", "rsassa-pss-sha256"); nil in Notary.
    public var scheme: String?
    /// The key itself: 32 raw bytes for ed25519; DER SubjectPublicKeyInfo for ecdsa and
    /// rsa (TUF writes them as PEM, Notary as base64 DER: the codec converts); for the x509
    /// kinds the certificate exactly as the metadata carries it (Notary: PEM text).
    public var material: [UInt8]
    public init(kind: Kind, scheme: String? = nil, material: [UInt8]) {
        self.kind = kind
        self.scheme = scheme
        self.material = material
    }
}
