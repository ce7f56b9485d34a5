import CCrypto
import Glibc

/// A signing key in memory: PKCS#8 DER held in bytes that are zeroed when the last copy of
/// the key goes, and written to disk only encrypted (`encryptedPEM`).
public struct PrivateKey: Sendable {
    /// `.ed25519` or `.ecdsa` (P-256).
    public let kind: PublicKey.Kind
    /// Material: 32 raw bytes for ed25519, DER SubjectPublicKeyInfo for ecdsa; `scheme` is
    /// TUF's ("ed25519", "ecdsa-sha2-nistp256"), which Notary's encoding leaves out.
    public let publicKey: PublicKey
    let pkcs8: SecretBytes

    /// PBKDF2 rounds for key files. Notary writes 2048; more costs every signing command
    /// the time to open its key (~1 ms per 3,000 rounds of HMAC-SHA1).
    static let iterations: Int32 = 10_000

    public static func generate(_ kind: PublicKey.Kind) throws(TrustError) -> PrivateKey {
        let code: Int32
        switch kind {
        case .ed25519: code = Int32(CRYPTO_ED25519.rawValue)
        case .ecdsa: code = Int32(CRYPTO_P256.rawValue)
        default: throw .key("cannot generate a \(kind.rawValue) key: expected ed25519 or ecdsa")
        }
        try Libcrypto.load()
        switch Libcrypto.call({ crypto_generate(code, $0, $1, $2, $3) }) {
        case .bytes(let secret): return try PrivateKey(secret)
        case .failed(_, let reason): throw .key("generating a \(kind.rawValue) key: \(reason)")
        }
    }

    /// A key from PKCS#8 PrivateKeyInfo DER (ed25519 also in Notary's 64-byte form).
    public init(pkcs8 der: [UInt8]) throws(TrustError) {
        try Libcrypto.load()
        var kind: Int32 = 0
        let outcome = der.withUnsafeBufferPointer { input in
            Libcrypto.call { crypto_private_key(input.baseAddress, input.count, &kind, $0, $1, $2, $3) }
        }
        try self.init(Self.supported(outcome, kind: kind))
    }

    /// The key crypto_private_key gave in standard PKCS#8; `.key` for anything but ed25519 and P-256.
    private static func supported(_ outcome: Libcrypto.Outcome, kind: Int32) throws(TrustError) -> SecretBytes {
        switch outcome {
        case .bytes(let secret):
            guard kind == Int32(CRYPTO_ED25519.rawValue) || kind == Int32(CRYPTO_P256.rawValue) else {
                throw .key(kind == Int32(CRYPTO_RSA.rawValue)
                    ? "unsupported private key type rsa: expected ed25519 or ecdsa P-256"
                    : "unknown private key type: expected ed25519 or ecdsa P-256")
            }
            return secret
        case .failed(_, let reason): throw .key(reason)
        }
    }

    /// From standard PKCS#8 that CCrypto made or checked.
    private init(_ pkcs8: SecretBytes) throws(TrustError) {
        let material = try Libcrypto.bytes("reading the public key") { crypto_public_key(pkcs8.base, pkcs8.count, $0, $1, $2, $3) }
        self.pkcs8 = pkcs8
        // A raw ed25519 key is 32 bytes; a DER SubjectPublicKeyInfo never is.
        if material.count == 32 {
            kind = .ed25519
            publicKey = PublicKey(kind: .ed25519, scheme: "ed25519", material: material)
        } else {
            kind = .ecdsa
            publicKey = PublicKey(kind: .ecdsa, scheme: "ecdsa-sha2-nistp256", material: material)
        }
    }

    /// ed25519: 64 bytes; ecdsa: DER in TUF (securesystemslib), raw r‖s (64 bytes) in Notary.
    public func sign(_ message: [UInt8], dialect: TrustDialect) throws(TrustError) -> [UInt8] {
        let outcome = message.withUnsafeBytes { input in
            Libcrypto.call { crypto_sign(pkcs8.base, pkcs8.count, input.baseAddress, input.count, $0, $1, $2, $3) }
        }
        let signature = try Libcrypto.bytes("signing with a \(kind.rawValue) key", outcome)
        guard kind == .ecdsa, dialect == .notary else { return signature }
        guard let raw = ECDSASignature.raw(fromDER: signature) else { throw .key("signing: libcrypto made a bad ECDSA signature") }
        return raw
    }

    public func encryptedPEM(passphrase: String, headers: [(String, String)]) throws(TrustError) -> [UInt8] {
        guard !passphrase.isEmpty else { throw .key("an empty passphrase would leave the key in clear: expected a passphrase") }
        let encrypted = try Libcrypto.bytes("encrypting the key") {
            crypto_encrypt_pkcs8(pkcs8.base, pkcs8.count, passphrase, passphrase.utf8.count, Self.iterations, $0, $1, $2, $3)
        }
        return PEM(type: "ENCRYPTED PRIVATE KEY", headers: headers, der: encrypted).encoded
    }

    /// A key file as notary and netctl write it (`ENCRYPTED PRIVATE KEY`, or notary's
    /// unencrypted `PRIVATE KEY`), with its headers (`role`, `gun`).
    public static func decryptPEM(_ pem: [UInt8], passphrase: String) throws(TrustError) -> (key: PrivateKey, headers: [(String, String)]) {
        guard let block = PEM(pem) else { throw .key("not a PEM private key file") }
        try Libcrypto.load()
        switch block.type {
        case "ENCRYPTED PRIVATE KEY":
            let outcome = block.der.withUnsafeBufferPointer { input in
                Libcrypto.call { crypto_decrypt_pkcs8(input.baseAddress, input.count, passphrase, passphrase.utf8.count, $0, $1, $2, $3) }
            }
            switch outcome {
            case .bytes(let decrypted):
                var kind: Int32 = 0
                let normalized = Libcrypto.call { crypto_private_key(decrypted.base, decrypted.count, &kind, $0, $1, $2, $3) }
                return (try PrivateKey(Self.supported(normalized, kind: kind)), block.headers)
            case .failed(-2, _): throw .key("private key: wrong passphrase")
            case .failed(_, let reason): throw .key("private key: \(reason)")
            }
        case "PRIVATE KEY":
            return (try PrivateKey(pkcs8: block.der), block.headers)
        default:
            throw .key("unsupported PEM type \"\(block.type)\": expected ENCRYPTED PRIVATE KEY")
        }
    }

    /// Notary's root key form: a self-signed X.509 certificate (CN = GUN) over this ecdsa
    /// key, valid from now, made as notary's `cryptoservice.GenerateCertificate` makes it.
    public func selfSignedCertificate(commonName: String, notAfter: TrustTime) throws(TrustError) -> PublicKey {
        guard kind == .ecdsa else { throw .key("a root certificate needs an ecdsa key, not \(kind.rawValue)") }
        let now = TrustTime.now
        guard notAfter > now else { throw .key("certificate for \(commonName): notAfter \(notAfter.seconds) is not after now (\(now.seconds))") }
        let der = try Libcrypto.bytes("certificate for \(commonName)") {
            crypto_self_signed_certificate(pkcs8.base, pkcs8.count, commonName, now.seconds, notAfter.seconds, $0, $1, $2, $3)
        }
        return PublicKey(kind: .ecdsaX509, material: PEM(type: "CERTIFICATE", der: der).encoded)
    }
}

extension TrustTime {
    /// The clock's time, to the second.
    public static var now: TrustTime { TrustTime(seconds: Int64(time(nil))) }
}
