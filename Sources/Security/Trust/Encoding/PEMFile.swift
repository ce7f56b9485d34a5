import FoundationEssentials

/// PEM text (RFC 7468) with the optional `name: value` headers Notary and Docker put
/// before the base64 (`role: alice`).
public enum PEMFile {
    public struct Block: Sendable {
        public var label: String
        public var headers: [(String, String)]
        public var der: [UInt8]
    }

    public static func encode(label: String, headers: [(String, String)] = [], der: [UInt8]) -> [UInt8] {
        var text = "-----BEGIN \(label)-----\n"
        for (name, value) in headers { text += "\(name): \(value)\n" }
        if !headers.isEmpty { text += "\n" }
        let body = Data(der).base64EncodedString()
        var index = body.startIndex
        while index < body.endIndex {
            let end = body.index(index, offsetBy: 64, limitedBy: body.endIndex) ?? body.endIndex
            text += body[index..<end] + "\n"
            index = end
        }
        text += "-----END \(label)-----\n"
        return Array(text.utf8)
    }

    /// Every block of `bytes`, in order.
    public static func decode(_ bytes: [UInt8], what: String) throws(TrustError) -> [Block] {
        guard let text = String(validating: bytes, as: UTF8.self) else { throw .malformed("\(what): not PEM text") }
        var blocks: [Block] = []
        var current: (label: String, headers: [(String, String)], body: String, inHeaders: Bool)?
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            if line.hasPrefix("-----BEGIN "), line.hasSuffix("-----") {
                guard current == nil else { throw .malformed("\(what): a BEGIN line inside a PEM block") }
                current = (String(line.dropFirst(11).dropLast(5)), [], "", true)
            } else if line.hasPrefix("-----END "), line.hasSuffix("-----") {
                guard let block = current, String(line.dropFirst(9).dropLast(5)) == block.label else {
                    throw .malformed("\(what): an END line that does not close its BEGIN")
                }
                guard let der = Data(base64Encoded: block.body), !der.isEmpty else { throw .malformed("\(what): the \(block.label) block is not base64") }
                blocks.append(Block(label: block.label, headers: block.headers, der: Array(der)))
                current = nil
            } else if var block = current {
                if block.inHeaders, let colon = line.firstIndex(of: ":"), !line[..<colon].contains(" ") {
                    block.headers.append((String(line[..<colon]), String(line[line.index(after: colon)...].drop { $0 == " " })))
                } else if line.isEmpty {
                    block.inHeaders = false
                } else {
                    block.inHeaders = false
                    block.body += line
                }
                current = block
            }
        }
        guard current == nil else { throw .malformed("\(what): a PEM block without its END line") }
        guard !blocks.isEmpty else { throw .malformed("\(what): no PEM block (expected -----BEGIN …-----)") }
        return blocks
    }

    /// A signer's public key: `PUBLIC KEY` (SubjectPublicKeyInfo; ECDSA P-256, Ed25519 or
    /// RSA) or `CERTIFICATE` (as Notary's x509 keys, the PEM kept whole).
    public static func publicKey(_ bytes: [UInt8], path: String) throws(TrustError) -> PublicKey {
        let block = try decode(bytes, what: path)[0]
        switch block.label {
        case "CERTIFICATE":
            return PublicKey(kind: .ecdsaX509, material: encode(label: "CERTIFICATE", der: block.der))
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
            throw .key("\(path): a PEM \(block.label), expected a PUBLIC KEY or a CERTIFICATE")
        }
    }

    private static func contains(_ bytes: [UInt8], _ pattern: [UInt8]) -> Bool {
        guard bytes.count >= pattern.count else { return false }
        return (0...(bytes.count - pattern.count)).contains { bytes[$0..<($0 + pattern.count)].elementsEqual(pattern) }
    }
}
