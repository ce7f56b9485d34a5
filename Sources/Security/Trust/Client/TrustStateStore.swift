import Glibc

/// The last trusted file of each role of one collection, laid out as the notary CLI keeps
/// its cache (`<trust dir>/tuf/<GUN>/metadata/<role>.json`, `targets/releases.json` in a
/// subdirectory), so that `notary -d DIR` and netctl share it. It is the client's memory
/// across runs: the root it trusts, and the versions below which a server is rolling back.
public struct TrustStateStore: Sendable {
    /// `<trust dir>/tuf/<GUN>/metadata`.
    public let directory: String
    public let gun: String

    public init(directory: String, gun: String) {
        self.directory = "\(directory)/tuf/\(gun)/metadata"
        self.gun = gun
    }

    /// The stored file of `role`, or nil when there is none.
    public func load(_ role: RoleName, limit: Int) throws(TrustError) -> [UInt8]? {
        let path = try self.path(of: role)
        guard let bytes = try TrustFiles.read(path, limit: limit) else { return nil }
        guard bytes.count <= limit else { throw .storage("\(path): larger than \(limit) bytes") }
        return bytes
    }

    /// Writes each file whole (a temporary file renamed over the old one, so that a crash
    /// leaves the old file or the new, never half of one), and removes `removing`.
    public func save(_ files: [RoleName: [UInt8]], removing: [RoleName] = []) throws(TrustError) {
        // Delegations first and root last: a run interrupted half way leaves versions that
        // are each either the old or the new, and a root that still vouches for them.
        let order = files.keys.sorted { rank($0) == rank($1) ? $0 < $1 : rank($0) < rank($1) }
        for role in order {
            try write(files[role]!, to: try path(of: role))
        }
        for role in removing {
            let path = try self.path(of: role)
            guard unlink(path) == 0 || errno == ENOENT else { throw .storage("remove \(path): \(String(cString: strerror(errno)))") }
        }
    }

    /// Every role with a stored file (delegations by their full names).
    public func roles() throws(TrustError) -> [RoleName] {
        var found: [RoleName] = []
        try list(directory, prefix: "", into: &found)
        return found.sorted()
    }

    private func list(_ path: String, prefix: String, into found: inout [RoleName]) throws(TrustError) {
        guard let dir = opendir(path) else {
            if errno == ENOENT { return }
            throw .storage("\(path): \(String(cString: strerror(errno)))")
        }
        defer { closedir(dir) }
        var subdirectories: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name == "." || name == ".." { continue }
            if entry.pointee.d_type == UInt8(DT_DIR) {
                subdirectories.append(name)
            } else if entry.pointee.d_type == UInt8(DT_REG), name.hasSuffix(".json") {
                found.append(prefix + name.dropLast(5))
            }
        }
        for name in subdirectories {
            try list("\(path)/\(name)", prefix: "\(prefix)\(name)/", into: &found)
        }
    }

    private func rank(_ role: RoleName) -> Int {
        switch role {
        case TopRole.root: 4
        case TopRole.timestamp: 3
        case TopRole.snapshot: 2
        case TopRole.targets: 1
        default: 0
        }
    }

    /// The file of `role`; refuses names that would leave the directory (role names come
    /// from the server's metadata).
    func path(of role: RoleName) throws(TrustError) -> String {
        for name in [gun, role] {
            let components = name.split(separator: "/", omittingEmptySubsequences: false)
            guard !name.isEmpty, !name.utf8.contains(0),
                  components.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." }) else {
                throw .storage("\"\(name)\" cannot be a path in the trust store: expected names without empty, \".\" or \"..\" parts")
            }
        }
        return "\(directory)/\(role).json"
    }

    private func write(_ bytes: [UInt8], to path: String) throws(TrustError) {
        try TrustFiles.replace(path, with: bytes, mode: 0o644, directoryMode: 0o700)
    }
}
