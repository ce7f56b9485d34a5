import Foundation
import Security
import TestSupport
import Testing

/// Keys, signatures and key files of content trust, with `openssl` (and `notary` when
/// installed) as the oracle for every format that leaves the process.
@Suite struct TrustCryptoTests {
    static let message = Array(#"{"_type":"targets","expires":"2030-01-01T00:00:00Z","targets":{},"version":1}"#.utf8)


    @Test func digestsMatchTheStandardVectors() {
        #expect(TrustEncoding.hex(TrustDigest.sha256(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(TrustEncoding.hex(TrustDigest.sha512(Array("abc".utf8))).hasPrefix("ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"))
        #expect(TrustEncoding.hex(TrustDigest.sha256([])) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test(arguments: [PublicKey.Kind.ed25519, .ecdsa], [TrustDialect.tuf, .notary])
    func signaturesVerifyAndAFlippedBitIsRefused(kind: PublicKey.Kind, dialect: TrustDialect) throws {
        let key = try PrivateKey.generate(kind)
        #expect(key.kind == kind)
        #expect(key.publicKey.kind == kind)
        let signature = try key.sign(Self.message, dialect: dialect)
        if kind == .ed25519 || dialect == .notary { #expect(signature.count == 64) } else { #expect(signature.first == 0x30) }
        #expect(key.publicKey.verify(signature, of: Self.message))

        var tamperedMessage = Self.message
        tamperedMessage[10] ^= 0x01
        #expect(!key.publicKey.verify(signature, of: tamperedMessage))
        var tamperedSignature = signature
        tamperedSignature[signature.count - 1] ^= 0x80
        #expect(!key.publicKey.verify(tamperedSignature, of: Self.message))
        #expect(!key.publicKey.verify([], of: Self.message))

        let other = try PrivateKey.generate(kind)
        #expect(!other.publicKey.verify(signature, of: Self.message))
    }

    // MARK: openssl as the oracle

    /// A scratch directory removed when `body` ends, however it ends.
    static func withDirectory<R>(_ body: (String) throws -> R) throws -> R {
        let directory = NSTemporaryDirectory() + uniqueName("netctl-trust-crypto-")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        return try body(directory)
    }

    static func write(_ bytes: [UInt8], _ path: String) throws { try Data(bytes).write(to: URL(fileURLWithPath: path)) }
    static func read(_ path: String) throws -> [UInt8] { try Array(Data(contentsOf: URL(fileURLWithPath: path))) }

    @discardableResult
    static func openssl(_ arguments: String...) throws -> CommandResult { try openssl(arguments) }

    @discardableResult
    static func openssl(_ arguments: [String]) throws -> CommandResult {
        let result = try runCommand(["openssl"] + arguments)
        #expect(result.status == 0, "openssl \(arguments.joined(separator: " ")): \(result.stderr)")
        return result
    }

    static func pem(_ type: String, _ der: [UInt8]) -> [UInt8] {
        let base64 = Data(der).base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
        return Array("-----BEGIN \(type)-----\n\(base64)\n-----END \(type)-----\n".utf8)
    }

    /// openssl reads a public key as SubjectPublicKeyInfo; ed25519's raw 32 bytes get the
    /// fixed RFC 8410 prefix.
    static func subjectPublicKeyInfo(_ key: PublicKey) -> [UInt8] {
        key.kind == .ed25519 ? [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00] + key.material : key.material
    }

    /// Without Go's `role:`/`gun:` headers, which openssl's PEM reader refuses ("not proc type").
    static func withoutHeaders(_ pem: [UInt8]) -> [UInt8] {
        let lines = String(decoding: pem, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        return Array(lines.filter { !$0.contains(":") && !$0.isEmpty }.joined(separator: "\n").utf8) + [0x0a]
    }

    @Test(arguments: [PublicKey.Kind.ed25519, .ecdsa])
    func opensslVerifiesOurSignatures(kind: PublicKey.Kind) throws {
        try Self.withDirectory { directory in
            let key = try PrivateKey.generate(kind)
            try Self.write(Self.message, "\(directory)/message")
            try Self.write(Self.pem("PUBLIC KEY", Self.subjectPublicKeyInfo(key.publicKey)), "\(directory)/public.pem")
            // TUF's signature is what openssl takes; Notary's r‖s goes back to DER for it.
            try Self.write(try key.sign(Self.message, dialect: .tuf), "\(directory)/signature")
            if kind == .ed25519 {
                let verified = try Self.openssl("pkeyutl", "-verify", "-pubin", "-inkey", "\(directory)/public.pem", "-rawin",
                                                "-in", "\(directory)/message", "-sigfile", "\(directory)/signature")
                #expect(verified.stdout.contains("Signature Verified Successfully"))
            } else {
                let verified = try Self.openssl("dgst", "-sha256", "-verify", "\(directory)/public.pem",
                                                "-signature", "\(directory)/signature", "\(directory)/message")
                #expect(verified.stdout.contains("Verified OK"))
                let notary = try key.sign(Self.message, dialect: .notary)
                let r = notary[0..<32].drop { $0 == 0 }, s = notary[32...].drop { $0 == 0 }
                func integer(_ value: ArraySlice<UInt8>) -> [UInt8] {
                    let bytes = (value.first ?? 0) & 0x80 != 0 ? [0] + value : Array(value)
                    return [0x02, UInt8(bytes.count)] + bytes
                }
                let body = integer(r) + integer(s)
                try Self.write([0x30, UInt8(body.count)] + body, "\(directory)/notary-signature")
                try Self.openssl("dgst", "-sha256", "-verify", "\(directory)/public.pem",
                                 "-signature", "\(directory)/notary-signature", "\(directory)/message")
            }
        }
    }

    @Test func weVerifyOpensslSignatures() throws {
        try Self.withDirectory { directory in
            try Self.write(Self.message, "\(directory)/message")
            func key(_ name: String, _ options: String...) throws {
                try Self.openssl(["genpkey", "-out", "\(directory)/\(name).pem"] + options)
                try Self.openssl("pkey", "-in", "\(directory)/\(name).pem", "-pubout", "-outform", "DER", "-out", "\(directory)/\(name).spki")
            }
            func sign(_ name: String, _ arguments: [String]) throws -> [UInt8] {
                try Self.openssl([arguments[0], "-out", "\(directory)/\(name).sig"] + arguments.dropFirst())
                return try Self.read("\(directory)/\(name).sig")
            }

            try key("ed25519", "-algorithm", "ed25519")
            let ed25519 = PublicKey(kind: .ed25519, material: Array(try Self.read("\(directory)/ed25519.spki").suffix(32)))
            let edSignature = try sign("ed25519", ["pkeyutl", "-sign", "-inkey", "\(directory)/ed25519.pem", "-rawin", "-in", "\(directory)/message"])
            #expect(ed25519.verify(edSignature, of: Self.message))
            #expect(!ed25519.verify(edSignature, of: Self.message + [0x20]))

            try key("ecdsa", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256")
            let ecdsa = PublicKey(kind: .ecdsa, material: try Self.read("\(directory)/ecdsa.spki"))
            let ecSignature = try sign("ecdsa", ["dgst", "-sha256", "-sign", "\(directory)/ecdsa.pem", "\(directory)/message"])
            #expect(ecdsa.verify(ecSignature, of: Self.message))
            #expect(!ecdsa.verify(ecSignature, of: Self.message + [0x20]))

            try key("rsa", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048")
            let rsa = PublicKey(kind: .rsa, scheme: "rsassa-pss-sha256", material: try Self.read("\(directory)/rsa.spki"))
            let pss = try sign("pss", ["dgst", "-sha256", "-sign", "\(directory)/rsa.pem", "-sigopt", "rsa_padding_mode:pss",
                                       "-sigopt", "rsa_pss_saltlen:32", "\(directory)/message"])
            let pkcs1 = try sign("pkcs1", ["dgst", "-sha256", "-sign", "\(directory)/rsa.pem", "\(directory)/message"])
            #expect(rsa.verify(pss, of: Self.message))
            #expect(!rsa.verify(pkcs1, of: Self.message), "the TUF scheme names PSS: PKCS#1 v1.5 is refused")
            #expect(rsa.verify(pkcs1, of: Self.message, method: "rsapkcs1v15", at: .now))
            #expect(rsa.verify(pss, of: Self.message, method: "rsapss", at: .now))
            #expect(!rsa.verify(pss, of: Self.message, method: "rsapkcs1v15", at: .now))
            #expect(!rsa.verify(pss, of: Self.message + [0x20]))

            // A key of one kind listed as another verifies nothing.
            #expect(!PublicKey(kind: .ecdsa, material: rsa.material).verify(pss, of: Self.message))
            #expect(!ed25519.verify(edSignature, of: Self.message, method: "ecdsa", at: .now))
        }
    }

    @Test(arguments: [PublicKey.Kind.ed25519, .ecdsa])
    func opensslDecryptsOurKeyFilesAndWeDecryptItsFiles(kind: PublicKey.Kind) throws {
        try Self.withDirectory { directory in
            let key = try PrivateKey.generate(kind)
            let file = try key.encryptedPEM(passphrase: "correct horse", headers: [("role", "targets"), ("gun", "127.0.0.1:5000/team/app")])
            let text = String(decoding: file, as: UTF8.self)
            #expect(text.hasPrefix("-----BEGIN ENCRYPTED PRIVATE KEY-----\ngun: 127.0.0.1:5000/team/app\nrole: targets\n\n"))
            try Self.write(Self.withoutHeaders(file), "\(directory)/ours.pem")
            let parsed = try Self.openssl("asn1parse", "-in", "\(directory)/ours.pem")
            #expect(parsed.stdout.contains("PBES2") && parsed.stdout.contains("PBKDF2") && parsed.stdout.contains("aes-256-cbc"))
            #expect(!parsed.stdout.contains("hmacWithSHA256"), "notary derives with HMAC-SHA1 whatever the file says")
            try Self.openssl("pkcs8", "-in", "\(directory)/ours.pem", "-passin", "pass:correct horse", "-out", "\(directory)/clear.pem")
            try Self.openssl("pkey", "-in", "\(directory)/clear.pem", "-pubout", "-outform", "DER", "-out", "\(directory)/spki")
            #expect(Array(try Self.read("\(directory)/spki").suffix(key.publicKey.material.count)) == key.publicKey.material)

            let wrong = try runCommand(["openssl", "pkcs8", "-in", "\(directory)/ours.pem", "-passin", "pass:wrong"])
            #expect(wrong.status != 0)

            // openssl's own file, PBES2 with its default PRF (HMAC-SHA256) and AES-256-CBC.
            try Self.openssl("pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", "\(directory)/clear.pem", "-passout", "pass:s3cret",
                             "-out", "\(directory)/theirs.pem")
            let (decrypted, headers) = try PrivateKey.decryptPEM(try Self.read("\(directory)/theirs.pem"), passphrase: "s3cret")
            #expect(headers.isEmpty)
            #expect(decrypted.kind == kind)
            #expect(decrypted.publicKey == key.publicKey)
            #expect(key.publicKey.verify(try decrypted.sign(Self.message, dialect: .tuf), of: Self.message))

            // And ours read back with its headers.
            let (again, ourHeaders) = try PrivateKey.decryptPEM(file, passphrase: "correct horse")
            #expect(again.publicKey == key.publicKey)
            #expect(ourHeaders.map { "\($0.0)=\($0.1)" } == ["gun=127.0.0.1:5000/team/app", "role=targets"])
        }
    }

    @Test func wrongPassphraseGarbageAndUnknownKeysAreRefused() throws {
        let key = try PrivateKey.generate(.ecdsa)
        let file = try key.encryptedPEM(passphrase: "right", headers: [("role", "root")])
        #expect(throws: TrustError.key("private key: wrong passphrase")) { try PrivateKey.decryptPEM(file, passphrase: "wrong") }
        #expect(throws: TrustError.key("private key: wrong passphrase")) { try PrivateKey.decryptPEM(file, passphrase: "") }
        #expect(throws: TrustError.self) { try key.encryptedPEM(passphrase: "", headers: []) }

        #expect(throws: TrustError.key("not a PEM private key file")) { try PrivateKey.decryptPEM(Array(file.prefix(file.count / 2)), passphrase: "right") }
        #expect(throws: TrustError.key("not a PEM private key file")) { try PrivateKey.decryptPEM(Array("garbage\n".utf8), passphrase: "right") }
        #expect(throws: TrustError.key("not a PEM private key file")) { try PrivateKey.decryptPEM([0xff, 0xfe, 0x00], passphrase: "right") }
        var corrupted = String(decoding: file, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        corrupted[4] = String(repeating: "A", count: corrupted[4].count)
        do {
            _ = try PrivateKey.decryptPEM(Array(corrupted.joined(separator: "\n").utf8), passphrase: "right")
            Issue.record("a corrupted key file opened")
        } catch {
            #expect(error.description.hasPrefix("private key: "))
        }
        let certificate = Self.pem("CERTIFICATE", [0x30, 0x03, 0x02, 0x01, 0x01])
        #expect(throws: TrustError.key(#"unsupported PEM type "CERTIFICATE": expected ENCRYPTED PRIVATE KEY"#)) {
            try PrivateKey.decryptPEM(certificate, passphrase: "right")
        }
        #expect(throws: TrustError.self) { try PrivateKey.generate(.rsa) }

        try Self.withDirectory { directory in
            try Self.openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out", "\(directory)/p384.pem")
            try Self.openssl("pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", "\(directory)/p384.pem", "-passout", "pass:x", "-out", "\(directory)/p384.enc")
            #expect(throws: TrustError.key("unknown private key type: expected ed25519 or ecdsa P-256")) {
                try PrivateKey.decryptPEM(try Self.read("\(directory)/p384.enc"), passphrase: "x")
            }
            try Self.openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "\(directory)/rsa.pem")
            try Self.openssl("pkcs8", "-topk8", "-nocrypt", "-in", "\(directory)/rsa.pem", "-outform", "DER", "-out", "\(directory)/rsa.der")
            #expect(throws: TrustError.key("unsupported private key type rsa: expected ed25519 or ecdsa P-256")) {
                try PrivateKey(pkcs8: try Self.read("\(directory)/rsa.der"))
            }
            #expect(throws: TrustError.self) { try PrivateKey(pkcs8: [0x30, 0x00]) }
        }
    }

    /// Notary writes ed25519 keys as PKCS#8 whose key octets are Go's 64 bytes (seed‖public).
    @Test func notarysEd25519FormIsRead() throws {
        try Self.withDirectory { directory in
            try Self.openssl("genpkey", "-algorithm", "ed25519", "-outform", "DER", "-out", "\(directory)/key.der")
            let standard = try Self.read("\(directory)/key.der")
            let key = try PrivateKey(pkcs8: standard)
            let seed = Array(standard.suffix(32))
            let notary: [UInt8] = [0x30, 0x4c, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x40] + seed + key.publicKey.material
            let read = try PrivateKey(pkcs8: notary)
            #expect(read.kind == .ed25519)
            #expect(read.publicKey == key.publicKey)
            #expect(key.publicKey.verify(try read.sign(Self.message, dialect: .notary), of: Self.message))
            // The public half must be the seed's.
            var wrong = notary
            wrong[wrong.count - 1] ^= 1
            #expect(throws: TrustError.self) { try PrivateKey(pkcs8: wrong) }
        }
    }

    @Test func selfSignedCertificateAsNotaryMakesIt() throws {
        try Self.withDirectory { directory in
            let key = try PrivateKey.generate(.ecdsa)
            let notAfter = TrustTime(seconds: TrustTime.now.seconds + 10 * 365 * 86_400)
            let certificate = try key.selfSignedCertificate(commonName: "127.0.0.1:5000/team/app", notAfter: notAfter)
            #expect(certificate.kind == .ecdsaX509)
            #expect(String(decoding: certificate.material, as: UTF8.self).hasPrefix("-----BEGIN CERTIFICATE-----\n"))
            try Self.write(certificate.material, "\(directory)/root.crt")
            let text = try Self.openssl("x509", "-in", "\(directory)/root.crt", "-noout", "-text").stdout
            for expected in ["Subject: CN = 127.0.0.1:5000/team/app", "Issuer: CN = 127.0.0.1:5000/team/app", "ecdsa-with-SHA256",
                             "NIST CURVE: P-256", "Digital Signature, Key Encipherment", "Code Signing", "CA:FALSE"] {
                #expect(text.contains(expected), "\(expected) not in \(text)")
            }
            try Self.openssl("verify", "-CAfile", "\(directory)/root.crt", "-partial_chain", "\(directory)/root.crt")

            #expect(key.matches(certificate) && key.matches(key.publicKey))
            #expect(!(try PrivateKey.generate(.ecdsa)).matches(certificate))
            let inside = try certificate.certificate()
            #expect(inside.key.material == key.publicKey.material)
            #expect(inside.notAfter == notAfter)
            #expect(abs(inside.notBefore.seconds - TrustTime.now.seconds) < 5)

            let signature = try key.sign(Self.message, dialect: .notary)
            #expect(certificate.verify(signature, of: Self.message))
            #expect(!certificate.verify(signature, of: Self.message + [0x20]))
            // Expired, or not yet valid (a day of grace, as notary gives): refused.
            let later = TrustTime(seconds: notAfter.seconds + 1)
            #expect(!certificate.verify(signature, of: Self.message, method: "ecdsa", at: later))
            #expect(throws: TrustError.key("certificate expired at \(notAfter.seconds)")) { try certificate.checkCertificate(at: later) }
            let early = TrustTime(seconds: inside.notBefore.seconds - 2 * 86_400)
            #expect(!certificate.verify(signature, of: Self.message, method: "ecdsa", at: early))
            #expect(throws: TrustError.self) { try certificate.checkCertificate(at: early) }
            try certificate.checkCertificate(at: .now)

            // openssl's certificate, as DER this time, and a signature by its key.
            try Self.openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "\(directory)/x.key",
                             "-subj", "/CN=example", "-days", "2", "-outform", "DER", "-out", "\(directory)/x.der")
            try Self.write(Self.message, "\(directory)/message")
            try Self.openssl("dgst", "-sha256", "-sign", "\(directory)/x.key", "-out", "\(directory)/x.sig", "\(directory)/message")
            let theirs = PublicKey(kind: .ecdsaX509, material: try Self.read("\(directory)/x.der"))
            #expect(theirs.verify(try Self.read("\(directory)/x.sig"), of: Self.message))
            #expect(try theirs.certificate().key.kind == .ecdsa)
            #expect(throws: TrustError.self) { try PublicKey(kind: .ecdsaX509, material: Array("not a certificate".utf8)).certificate() }
        }
    }

    // MARK: the key store, and notary reading it

    /// Notary's key ID for an ecdsa key: sha256 of `{"keytype":"ecdsa","keyval":{"private":null,"public":"<base64 SPKI>"}}`.
    static func notaryKeyID(_ key: PublicKey) -> String {
        TrustEncoding.hex(TrustDigest.sha256(Array(#"{"keytype":"ecdsa","keyval":{"private":null,"public":"\#(Data(key.material).base64EncodedString())"}}"#.utf8)))
    }

    static func mode(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue ?? -1
    }

    @Test func keyStoreSavesListsLoadsAndRemoves() throws {
        try Self.withDirectory { directory in
            let store = KeyStore(directory: "\(directory)/trust/private")
            #expect(try store.list().isEmpty)
            let root = try PrivateKey.generate(.ecdsa), targets = try PrivateKey.generate(.ed25519)
            let rootID = Self.notaryKeyID(root.publicKey), targetsID = TrustEncoding.hex(TrustDigest.sha256(targets.publicKey.material))
            try store.save(root, id: rootID, role: "root", gun: nil, passphrase: "root pass")
            try store.save(targets, id: targetsID, role: "targets", gun: "127.0.0.1:5000/team/app", passphrase: "repo pass")

            #expect(try Self.mode("\(directory)/trust/private/\(rootID).key") == 0o600)
            #expect(try Self.mode("\(directory)/trust/private") == 0o700)
            #expect(try FileManager.default.contentsOfDirectory(atPath: "\(directory)/trust/private").sorted()
                    == ["\(rootID).key", "\(targetsID).key"].sorted(), "no temporary file left")
            let listed = try store.list().map { "\($0.id) \($0.role) \($0.gun ?? "-")" }
            #expect(listed == ["\(rootID) root -", "\(targetsID) targets 127.0.0.1:5000/team/app"].sorted())
            let file = String(decoding: try Self.read("\(directory)/trust/private/\(rootID).key"), as: UTF8.self)
            #expect(file.hasPrefix("-----BEGIN ENCRYPTED PRIVATE KEY-----\nrole: root\n\n"))

            #expect(try store.load(id: rootID, passphrase: "root pass").publicKey == root.publicKey)
            #expect(try store.load(id: targetsID, passphrase: "repo pass").publicKey == targets.publicKey)
            #expect(throws: TrustError.key("key \(rootID): wrong passphrase")) { try store.load(id: rootID, passphrase: "repo pass") }
            #expect(throws: TrustError.key("no key abcdef in \(directory)/trust/private")) { try store.load(id: "abcdef", passphrase: "x") }
            #expect(throws: TrustError.key(#"key ID "../root": expected hex digits"#)) { try store.load(id: "../root", passphrase: "x") }

            // Saving again replaces the file; a link in its place is never followed.
            try store.save(root, id: rootID, role: "root", gun: nil, passphrase: "new pass")
            #expect(try store.load(id: rootID, passphrase: "new pass").publicKey == root.publicKey)
            try FileManager.default.createSymbolicLink(atPath: "\(directory)/trust/private/abc.key", withDestinationPath: "\(directory)/trust/private/\(rootID).key")
            #expect(throws: TrustError.self) { try store.load(id: "abc", passphrase: "new pass") }
            try FileManager.default.removeItem(atPath: "\(directory)/trust/private/abc.key")

            try store.remove(id: rootID)
            #expect(throws: TrustError.key("no key \(rootID) in \(directory)/trust/private")) { try store.remove(id: rootID) }
            #expect(try store.list().map(\.id) == [targetsID])
        }
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/notary")))
    func notaryReadsOurKeyFilesAndWeReadNotarys() throws {
        try Self.withDirectory { directory in
            let trust = "\(directory)/trust"
            let store = KeyStore(directory: "\(trust)/private")
            let key = try PrivateKey.generate(.ecdsa)
            let id = Self.notaryKeyID(key.publicKey)
            try store.save(key, id: id, role: "targets", gun: "127.0.0.1:5000/team/app", passphrase: "repo pass")

            let list = try runCommand(["notary", "-d", trust, "key", "list"])
            #expect(list.status == 0, "\(list.stderr)")
            let line = list.stdout.split(separator: "\n").first { $0.contains(id) }.map(String.init) ?? ""
            #expect(line.split(separator: " ").prefix(3) == ["targets", "127.0.0.1:5000/team/app", Substring(id)], "\(list.stdout)")
            // `key passwd` decrypts with the old passphrase (from the environment) before re-encrypting.
            let wrong = try runCommand(["notary", "-d", trust, "key", "passwd", id], environment: ["NOTARY_TARGETS_PASSPHRASE": "wrong"])
            #expect(wrong.status != 0)
            let passwd = try runCommand(["notary", "-d", trust, "key", "passwd", id], environment: ["NOTARY_TARGETS_PASSPHRASE": "repo pass"])
            #expect(passwd.status == 0 && passwd.stdout.contains("Successfully updated passphrase"), "\(passwd.stdout)\(passwd.stderr)")
            // …and the file notary wrote back is ours to read.
            #expect(try store.load(id: id, passphrase: "repo pass").publicKey == key.publicKey)

            // A key notary generated: its ID is our SPKI's, its headers our roles.
            let generated = try runCommand(["notary", "-d", trust, "key", "generate", "ecdsa", "--role", "root"],
                                           environment: ["NOTARY_ROOT_PASSPHRASE": "root pass"])
            #expect(generated.status == 0, "\(generated.stderr)")
            let rootID = try #require(try store.list().first { $0.role == "root" }).id
            let root = try store.load(id: rootID, passphrase: "root pass")
            #expect(root.kind == .ecdsa)
            #expect(Self.notaryKeyID(root.publicKey) == rootID)
            #expect(throws: TrustError.key("key \(rootID): wrong passphrase")) { try store.load(id: rootID, passphrase: "repo pass") }
        }
    }

    // MARK: figures

    @Test func signAndVerifyCost() throws {
        let clock = ContinuousClock()
        func microseconds(_ duration: Duration, _ count: Int) -> String {
            String(format: "%.1f", Double(duration.components.attoseconds) / 1e12 / Double(count) + Double(duration.components.seconds) * 1e6 / Double(count))
        }
        let load = clock.measure { _ = TrustDigest.sha256([]) }
        print("libcrypto first use (dlopen + dlsym, or nothing if another test loaded it): \(load)")
        for kind in [PublicKey.Kind.ed25519, .ecdsa] {
            let key = try PrivateKey.generate(kind)
            let rounds = 500
            var signature: [UInt8] = []
            let signing = try clock.measure { for _ in 0..<rounds { signature = try key.sign(Self.message, dialect: .notary) } }
            var good = true
            let verifying = clock.measure { for _ in 0..<rounds { good = good && key.publicKey.verify(signature, of: Self.message) } }
            #expect(good)
            print("\(kind.rawValue): sign \(microseconds(signing, rounds)) µs, verify \(microseconds(verifying, rounds)) µs")
        }
        let key = try PrivateKey.generate(.ecdsa)
        let file = try key.encryptedPEM(passphrase: "pass", headers: [])
        let opening = try clock.measure { for _ in 0..<20 { _ = try PrivateKey.decryptPEM(file, passphrase: "pass") } }
        print("opening a key file (PBKDF2, 2048 rounds): \(microseconds(opening, 20)) µs")
    }
}
