import CCrypto
import Glibc

/// A signing key in memory: parsed once by libcrypto, which wipes it when the last copy of
/// the key goes; written to disk only encrypted (`encryptedPEM`).
public struct PrivateKey: Sendable {
    /// `.ed25519` or `.ecdsa` (P-256).
    public let kind: PublicKey.Kind
    /// Material: 32 raw bytes for ed25519, DER SubjectPublicKeyInfo for ecdsa; `scheme` is
    /// TUF's ("ed25519", "ecdsa-sha2-nistp256"), which Notary's encoding leaves out.
    public let publicKey: PublicKey
    let handle: KeyHandle

    /// PBKDF2 rounds for key files: notary's own 2048. OpenSSL 3.0's PBKDF2 costs ~1.3 µs
    /// a round of CPU here, and `trust sign` opens up to two keys within its 20 ms budget,
    /// so 10,000 rounds (~13 ms a key) would not fit.
    static let iterations: Int32 = 2048

    public static func generate(_ kind: PublicKey.Kind) throws(TrustError) -> PrivateKey {
        let code: Int32
        switch kind {
        case .ed25519: code = Int32(CRYPTO_ED25519.rawValue)
        case .ecdsa: code = Int32(CRYPTO_P256.rawValue)
        default: throw .key("cannot generate a \(kind.rawValue) key: expected ed25519 or ecdsa")
        }
        try Libcrypto.load()
        var error = [CChar](repeating: 0, count: 256)
        guard let key = crypto_generate(code, &error, error.count) else {
            throw .key("generating a \(kind.rawValue) key: \(Libcrypto.text(error))")
        }
        return try PrivateKey(KeyHandle(key))
    }

    /// A key from PKCS#8 PrivateKeyInfo DER (ed25519 also in Notary's 64-byte form).
    public init(pkcs8 der: [UInt8]) throws(TrustError) {
        try Libcrypto.load()
        var error = [CChar](repeating: 0, count: 256)
        guard let key = der.withUnsafeBufferPointer({ crypto_key_open($0.baseAddress, $0.count, &error, error.count) }) else {
            throw .key(Libcrypto.text(error))
        }
        try self.init(KeyHandle(key))
    }

    /// `.key` for anything but ed25519 and P-256.
    private init(_ handle: KeyHandle) throws(TrustError) {
        switch crypto_key_kind(handle.key) {
        case Int32(CRYPTO_ED25519.rawValue): kind = .ed25519
        case Int32(CRYPTO_P256.rawValue): kind = .ecdsa
        case Int32(CRYPTO_RSA.rawValue): throw .key("unsupported private key type rsa: expected ed25519 or ecdsa P-256")
        default: throw .key("unknown private key type: expected ed25519 or ecdsa P-256")
        }
        let material = try Libcrypto.bytes("reading the public key") { crypto_public_key(handle.key, $0, $1, $2, $3) }
        publicKey = PublicKey(kind: kind, scheme: kind == .ed25519 ? "ed25519" : "ecdsa-sha2-nistp256", material: material)
        self.handle = handle
    }

    /// ed25519: 64 bytes; ecdsa: DER in TUF (securesystemslib), raw r‖s (64 bytes) in Notary.
    public func sign(_ message: [UInt8], dialect: TrustDialect) throws(TrustError) -> [UInt8] {
        let outcome = message.withUnsafeBytes { input in
            Libcrypto.call { crypto_sign(handle.key, input.baseAddress, input.count, $0, $1, $2, $3) }
        }
        let signature = try Libcrypto.bytes("signing with a \(kind.rawValue) key", outcome)
        guard kind == .ecdsa, dialect == .notary else { return signature }
        guard let raw = ECDSASignature.raw(fromDER: signature) else { throw .key("signing: libcrypto made a bad ECDSA signature") }
        return raw
    }

    /// Whether metadata's `key` is this key's public half: the same material, or for the
    /// x509 kinds a certificate over it (whatever its validity). No signature needed.
    public func matches(_ key: PublicKey) -> Bool {
        switch key.kind {
        case .ecdsaX509: (try? key.certificate().key.material) == publicKey.material
        case kind: key.material == publicKey.material
        default: false
        }
    }

    /// PKCS#8 encrypted PEM: PBES2, PBKDF2 (HMAC-SHA1, as notary derives), AES-256-CBC;
    /// headers sorted by name as Go's encoding/pem writes them.
    public func encryptedPEM(passphrase: String, headers: [(String, String)]) throws(TrustError) -> [UInt8] {
        guard !passphrase.isEmpty else { throw .key("an empty passphrase would leave the key in clear: expected a passphrase") }
        let encrypted = try Libcrypto.bytes("encrypting the key") {
            crypto_encrypt_pkcs8(handle.key, passphrase, passphrase.utf8.count, Self.iterations, $0, $1, $2, $3)
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
            var status: Int32 = 0
            var error = [CChar](repeating: 0, count: 256)
            let key = block.der.withUnsafeBufferPointer {
                crypto_decrypt_pkcs8($0.baseAddress, $0.count, passphrase, passphrase.utf8.count, &status, &error, error.count)
            }
            guard let key else {
                throw .key(status == -2 ? "private key: wrong passphrase" : "private key: \(Libcrypto.text(error))")
            }
            return (try PrivateKey(KeyHandle(key)), block.headers)
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
            crypto_self_signed_certificate(handle.key, commonName, now.seconds, notAfter.seconds, $0, $1, $2, $3)
        }
        return PublicKey(kind: .ecdsaX509, material: PEM(type: "CERTIFICATE", der: der).encoded)
    }
}

/// libcrypto's parsed key, freed (and wiped by libcrypto) with the last PrivateKey that
/// holds it. Signing only reads it, which libcrypto allows from several threads at once.
final class KeyHandle: @unchecked Sendable {
    let key: OpaquePointer

    init(_ key: OpaquePointer) { self.key = key }

    deinit { crypto_key_close(key) }
}

extension TrustTime {
    /// The clock's time, to the second.
    public static var now: TrustTime { TrustTime(seconds: Int64(time(nil))) }
}
