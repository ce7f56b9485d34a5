import CCrypto

extension PublicKey {
    /// Any kind, either signature encoding for ecdsa; x509 kinds use the certificate's key
    /// and refuse a certificate that is expired or not yet valid now.
    public func verify(_ signature: [UInt8], of message: [UInt8]) -> Bool {
        verify(signature, of: message, method: nil, at: .now)
    }

    /// `method`: Notary's signature method ("ecdsa", "eddsa", "rsapss", "rsapkcs1v15"),
    /// which must suit the key; nil takes TUF's scheme, or any padding for rsa. x509 kinds
    /// are checked against `now` as notary does (a day's grace on notBefore).
    public func verify(_ signature: [UInt8], of message: [UInt8], method: String?, at now: TrustTime) -> Bool {
        guard (try? Libcrypto.load()) != nil else { return false }
        switch kind {
        case .ed25519:
            // Notary writes "eddsa" (data.EDDSASignature); "ed25519" is the key type's name.
            guard method == nil || method == "eddsa" || method == "ed25519" else { return false }
            return check(.ed25519, material, signature, message, padding: 0)
        case .ecdsa:
            guard method == nil || method == "ecdsa" else { return false }
            return verifyECDSA(material, signature, message)
        case .rsa:
            return verifyRSA(material, signature, message, method: method ?? scheme)
        case .ecdsaX509, .rsaX509:
            guard let certificate = try? certificate(), certificate.validity(at: now) == nil else { return false }
            if kind == .ecdsaX509 {
                guard method == nil || method == "ecdsa", certificate.key.kind == .ecdsa else { return false }
                return verifyECDSA(certificate.key.material, signature, message)
            }
            guard certificate.key.kind == .rsa else { return false }
            return verifyRSA(certificate.key.material, signature, message, method: method ?? scheme)
        }
    }

    /// The key inside an x509 kind's certificate (PEM or DER), and its validity.
    public func certificate() throws(TrustError) -> Certificate {
        guard kind == .ecdsaX509 || kind == .rsaX509 else { throw .key("a \(kind.rawValue) key has no certificate") }
        let der = PEM(material).map(\.der) ?? material
        try Libcrypto.load()
        var code: Int32 = 0
        var notBefore: Int64 = 0, notAfter: Int64 = 0
        let outcome = der.withUnsafeBufferPointer { input in
            Libcrypto.call { crypto_certificate_key(input.baseAddress, input.count, &code, $0, $1, &notBefore, &notAfter, $2, $3) }
        }
        let key = try Libcrypto.bytes("\(kind.rawValue) key", outcome)
        let keyKind: Kind = switch code {
        case Int32(CRYPTO_ED25519.rawValue): .ed25519
        case Int32(CRYPTO_P256.rawValue): .ecdsa
        default: .rsa
        }
        return Certificate(key: PublicKey(kind: keyKind, material: key),
                           notBefore: TrustTime(seconds: notBefore), notAfter: TrustTime(seconds: notAfter))
    }

    /// For x509 kinds, `.key` when the certificate is not valid at `now`; nothing for others.
    public func checkCertificate(at now: TrustTime) throws(TrustError) {
        guard kind == .ecdsaX509 || kind == .rsaX509 else { return }
        if let error = try certificate().validity(at: now) { throw error }
    }

    /// What an x509 key's certificate holds.
    public struct Certificate: Sendable {
        public var key: PublicKey
        public var notBefore: TrustTime
        public var notAfter: TrustTime

        /// notary's ValidateCertificate: a day of grace for clocks behind the signer's.
        func validity(at now: TrustTime) -> TrustError? {
            if notBefore > notAfter { return .key("certificate validity window is invalid") }
            if notBefore.seconds > now.seconds + 86_400 { return .key("certificate is not valid before \(notBefore.seconds)") }
            if now > notAfter { return .key("certificate expired at \(notAfter.seconds)") }
            return nil
        }
    }
}

/// ECDSA signatures: TUF's securesystemslib writes DER, Notary fixed-size r‖s.
enum ECDSASignature {
    static func raw(fromDER der: [UInt8]) -> [UInt8]? {
        var raw = [UInt8](repeating: 0, count: 64)
        let status = der.withUnsafeBufferPointer { input in
            raw.withUnsafeMutableBufferPointer { crypto_ecdsa_der_to_raw(input.baseAddress, input.count, $0.baseAddress) }
        }
        return status == 0 ? raw : nil
    }

    static func der(fromRaw raw: [UInt8]) -> [UInt8]? {
        guard raw.count == 64 else { return nil }
        switch Libcrypto.call({ out, count, _, _ in raw.withUnsafeBufferPointer { crypto_ecdsa_raw_to_der($0.baseAddress, out, count) } }) {
        case .bytes(let der): return der.array
        case .failed: return nil
        }
    }
}

private func verifyECDSA(_ key: [UInt8], _ signature: [UInt8], _ message: [UInt8]) -> Bool {
    // 64 bytes is Notary's r‖s (a P-256 DER signature is 8 to 72 bytes, so try it as DER too).
    if signature.count == 64, let der = ECDSASignature.der(fromRaw: signature), check(.ecdsa, key, der, message, padding: 0) {
        return true
    }
    return check(.ecdsa, key, signature, message, padding: 0)
}

private func verifyRSA(_ key: [UInt8], _ signature: [UInt8], _ message: [UInt8], method: String?) -> Bool {
    let pss = check(.rsa, key, signature, message, padding: Int32(CRYPTO_RSA_PSS.rawValue))
    let pkcs1 = { check(.rsa, key, signature, message, padding: Int32(CRYPTO_RSA_PKCS1.rawValue)) }
    switch method {
    case "rsapss", "rsassa-pss-sha256", "pycrypto-pkcs#1 pss": return pss
    case "rsapkcs1v15", "rsa-pkcs1v15-sha256": return pkcs1()
    case nil, "rsa": return pss || pkcs1()
    default: return false
    }
}

private func check(_ kind: PublicKey.Kind, _ key: [UInt8], _ signature: [UInt8], _ message: [UInt8], padding: Int32) -> Bool {
    let code: Int32 = switch kind {
    case .ed25519: Int32(CRYPTO_ED25519.rawValue)
    case .ecdsa, .ecdsaX509: Int32(CRYPTO_P256.rawValue)
    case .rsa, .rsaX509: Int32(CRYPTO_RSA.rawValue)
    }
    return key.withUnsafeBufferPointer { key in
        message.withUnsafeBytes { message in
            signature.withUnsafeBufferPointer { signature in
                crypto_verify(code, key.baseAddress, key.count, message.baseAddress, message.count,
                              signature.baseAddress, signature.count, padding) == 1
            }
        }
    }
}
