import Foundation
import Security
import TestSupport
import Testing

/// Keys, signatures and key files of content trust, with `openssl` (and `notary` when
/// installed) as the oracle for every format that leaves the process.
@Suite struct TrustCryptoTests {
    static let message = Array(#"{"_type":"targets","expires":"2030-01-01T00:00:00Z","targets":{},"version":1}"#.utf8)

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    @Test func digestsMatchTheStandardVectors() {
        #expect(Self.hex(TrustDigest.sha256(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Self.hex(TrustDigest.sha512(Array("abc".utf8))).hasPrefix("ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"))
        #expect(Self.hex(TrustDigest.sha256([])) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
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
}
