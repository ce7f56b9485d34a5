/// PEM files users hand to the trust commands, and the ones they give back (`NAME.pub`),
/// in the armour `PEM` writes (Go's, with Notary's `role:` header).
public enum PEMFile {
    public static func encode(label: String, headers: [(String, String)] = [], der: [UInt8]) -> [UInt8] {
        PEM(type: label, headers: headers, der: der).encoded
    }

    /// A signer's public key: `PUBLIC KEY` (SubjectPublicKeyInfo; ECDSA P-256, Ed25519 or
    /// RSA) or `CERTIFICATE` (as Notary's x509 keys, the PEM kept whole).
    public static func publicKey(_ bytes: [UInt8], path: String) throws(TrustError) -> PublicKey {
        guard let block = PEM(bytes) else { throw .malformed("\(path): not a PEM file (expected -----BEGIN PUBLIC KEY-----)") }
        switch block.type {
        case "CERTIFICATE":
            return PublicKey(kind: .ecdsaX509, material: PEM(type: "CERTIFICATE", der: block.der).encoded)
        case "PUBLIC KEY":
            // The algorithm's OID inside the SubjectPublicKeyInfo names the kind.
            let ed25519: [UInt8] = [0x06, 0x03, 0x2b, 0x65, 0x70]
            let ecPublicKey: [UInt8] = [0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]
            let rsa: [UInt8] = [0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01]
            if contains(block.der, ed25519), block.der.count == 44 { return PublicKey(kind: .ed25519, material: Array(block.der.suffix(32))) }
            if contains(block.der, ecPublicKey) { return PublicKey(kind: .ecdsa, material: block.der) }
            if contains(block.der, rsa) { return PublicKey(kind: .rsa, material: block.der) }
            throw .key("\(path): a public key of a type netctl does not sign with (expected ECDSA P-256, Ed25519 or RSA)")
        default:
            throw .key("\(path): a PEM \(block.type), expected a PUBLIC KEY or a CERTIFICATE")
        }
    }

    private static func contains(_ bytes: [UInt8], _ pattern: [UInt8]) -> Bool {
        guard bytes.count >= pattern.count else { return false }
        return (0...(bytes.count - pattern.count)).contains { bytes[$0..<($0 + pattern.count)].elementsEqual(pattern) }
    }
}
