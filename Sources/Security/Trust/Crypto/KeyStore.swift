import Glibc

/// Private keys on disk, laid out as the notary CLI keeps them (`<trust dir>/private`), so
/// that `notary -d <trust dir>` and netctl use the same keys: `<keyID>.key`, an encrypted
/// PKCS#8 PEM with `role:` (and, but for root keys, `gun:`) headers, mode 0600.
public struct KeyStore {
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    /// Written to a temporary file created exclusively (never through a link) and renamed
    /// into place, so a reader sees the old file or the whole new one.
    public func save(_ key: PrivateKey, id: String, role: RoleName, gun: String?, passphrase: String) throws(TrustError) {
        try Self.check(id: id)
        var headers = [("role", role)]
        if let gun { headers.append(("gun", gun)) }
        let pem = try key.encryptedPEM(passphrase: passphrase, headers: headers)
        try TrustFiles.replace(path(id), with: pem, mode: 0o600, directoryMode: 0o700, what: "key file ")
    }

    public func load(id: String, passphrase: String) throws(TrustError) -> PrivateKey {
        try Self.check(id: id)
        let pem = try read(id)
        do {
            return try PrivateKey.decryptPEM(pem, passphrase: passphrase).key
        } catch {
            throw .key("key \(id): \(error.description.replacingPrefix("private key: ", with: ""))")
        }
    }

    /// Every key file's ID, role and GUN (from its headers: nothing is decrypted).
    public func list() throws(TrustError) -> [(id: String, role: RoleName, gun: String?)] {
        guard let stream = opendir(directory) else {
            if errno == ENOENT { return [] }
            throw .storage("key store \(directory): \(Self.reason())")
        }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name.hasSuffix(".key"), !name.hasPrefix(".") { names.append(String(name.dropLast(4))) }
        }
        var keys: [(id: String, role: RoleName, gun: String?)] = []
        for id in names.sorted() {
            guard let block = PEM(try read(id)) else { throw .key("key file \(path(id)): not a PEM private key file") }
            let role = block.headers.first { $0.0 == "role" }?.1 ?? ""
            let gun = block.headers.first { $0.0 == "gun" }?.1
            keys.append((id, role, gun.flatMap { $0.isEmpty ? nil : $0 }))
        }
        return keys
    }

    public func remove(id: String) throws(TrustError) {
        try Self.check(id: id)
        guard unlink(path(id)) == 0 else {
            if errno == ENOENT { throw .key("no key \(id) in \(directory)") }
            throw .storage("key file \(path(id)): \(Self.reason())")
        }
    }

    private func path(_ id: String) -> String { "\(directory)/\(id).key" }

    /// Key IDs are hex digests; nothing else may become a path.
    private static func check(id: String) throws(TrustError) {
        guard !id.isEmpty, id.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) || (0x41...0x46).contains($0) })
        else { throw .key("key ID \"\(id)\": expected hex digits") }
    }

    private func read(_ id: String) throws(TrustError) -> [UInt8] {
        // A key file is a few hundred bytes; anything much larger is not one.
        let limit = 64 << 10
        guard let bytes = try TrustFiles.read(path(id), limit: limit, what: "key file ") else { throw .key("no key \(id) in \(directory)") }
        guard bytes.count <= limit else { throw .key("key file \(path(id)): larger than 64 KiB, not a key") }
        return bytes
    }

    private static func reason() -> String { String(cString: strerror(errno)) }
}

private extension String {
    func replacingPrefix(_ prefix: String, with replacement: String) -> String {
        hasPrefix(prefix) ? replacement + dropFirst(prefix.count) : self
    }
}
