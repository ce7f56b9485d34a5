import FoundationEssentials
import Glibc
import Runtime

/// A user name and password for one registry (or an identity token as the password, as
/// Docker keeps them). Never printed: `description` hides the password, and so does its
/// mirror (`dump` of an endpoint, a test's failure message).
public struct RegistryCredentials: Sendable, Equatable, CustomStringConvertible, CustomReflectable {
    public var user: String
    public var password: String

    public init(user: String, password: String) {
        self.user = user
        self.password = password
    }

    public var description: String { "\(user):***" }

    public var customMirror: Mirror { Mirror(self, children: ["user": user, "password": "***"]) }

    /// `Basic base64(user:password)`.
    var basicAuthorization: String { "Basic " + Data("\(user):\(password)".utf8).base64EncodedString() }
}

/// Docker's `config.json` as far as credentials go: the `auths` map
/// (`{"auths": {"registry.example:5000": {"auth": "base64(user:password)"}}}`), read and
/// written so that every other key, and every other registry, stays as it was.
/// Where it is: `--authfile`, else `$REGISTRY_AUTH_FILE`, else `$DOCKER_CONFIG/config.json`,
/// else `~/.docker/config.json`.
public struct AuthFile: Sendable {
    public let path: String
    /// Larger than this is not a credentials file.
    static let limit = ReadLimit(bytes: 4 << 20, kind: "Docker's config.json")

    public init(path: String) { self.path = path }

    /// The auth file in effect: `explicit` (a `--authfile` flag) or the environment's.
    public static func locate(_ explicit: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) -> AuthFile {
        if let explicit, !explicit.isEmpty { return AuthFile(path: explicit) }
        if let file = environment["REGISTRY_AUTH_FILE"], !file.isEmpty { return AuthFile(path: file) }
        if let directory = environment["DOCKER_CONFIG"], !directory.isEmpty { return AuthFile(path: directory + "/config.json") }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? homeOfCurrentUser()
        return AuthFile(path: home + "/.docker/config.json")
    }

    /// What the file says about `registry`.
    public enum Entry: Sendable, Equatable {
        case credentials(RegistryCredentials)
        /// The file hands this registry to a credential helper (`credHelpers`, or
        /// `credsStore` for all), which netctl does not run.
        case helper(String)
        case none
    }

    /// The entry for `registry` (`docker.io` matches Docker's `https://index.docker.io/v1/`
    /// key; `https://HOST/…` keys match HOST). A missing file is `.none`.
    public func entry(for registry: String) throws -> Entry {
        guard let document = try read() else { return .none }
        let auths = document["auths"]?.object ?? [:]
        for (key, value) in auths where Self.registry(ofKey: key) == Self.registry(ofKey: registry) {
            guard let fields = value.object else { continue }
            if let encoded = fields["auth"]?.string, !encoded.isEmpty {
                guard let data = Data(base64Encoded: encoded), let text = String(data: data, encoding: .utf8),
                      let colon = text.firstIndex(of: ":") else {
                    throw RegistryError(.input, "auth file \(path): the \"auth\" of \(key) is not base64 of USER:PASSWORD")
                }
                return .credentials(RegistryCredentials(user: String(text[..<colon]), password: String(text[text.index(after: colon)...])))
            }
            if let user = fields["username"]?.string, let password = fields["password"]?.string {
                return .credentials(RegistryCredentials(user: user, password: password))
            }
            if let token = fields["identitytoken"]?.string, !token.isEmpty {
                // Docker sends an identity token as the refresh token of an OAuth2 flow.
                return .helper("identitytoken")
            }
        }
        if let helpers = document["credHelpers"]?.object {
            for (key, value) in helpers where Self.registry(ofKey: key) == Self.registry(ofKey: registry) {
                if let name = value.string { return .helper(name) }
            }
        }
        if let store = document["credsStore"]?.string, !store.isEmpty { return .helper(store) }
        return .none
    }

    /// Saves `credentials` for `registry`; other keys and registries are kept. The file is
    /// written 0600 to a temporary name and renamed over the old one, so a reader never
    /// sees half of it.
    public func store(_ credentials: RegistryCredentials, for registry: String) throws {
        var document = try read() ?? [:]
        var auths = document["auths"]?.object ?? [:]
        for key in auths.keys where Self.registry(ofKey: key) == Self.registry(ofKey: registry) { auths[key] = nil }
        auths[Self.key(for: registry)] = .object(["auth": .string(Data("\(credentials.user):\(credentials.password)".utf8).base64EncodedString())])
        document["auths"] = .object(auths)
        try write(document)
    }

    /// Removes what the file keeps for `registry`; false when it kept nothing.
    public func remove(registry: String) throws -> Bool {
        guard var document = try read(), var auths = document["auths"]?.object else { return false }
        let keys = auths.keys.filter { Self.registry(ofKey: $0) == Self.registry(ofKey: registry) }
        guard !keys.isEmpty else { return false }
        for key in keys { auths[key] = nil }
        document["auths"] = .object(auths)
        try write(document)
        return true
    }

    /// The helper the file names for every registry (`credsStore`), if any.
    public func credentialStore() throws -> String? {
        (try read()?["credsStore"]?.string).flatMap { $0.isEmpty ? nil : $0 }
    }

    // MARK: - The file

    private func read() throws -> [String: JSONValue]? {
        guard access(path, F_OK) == 0 else {
            if errno == ENOENT { return nil }
            throw RegistryError(.input, "auth file \(path): \(String(cString: strerror(errno)))")
        }
        let bytes = try readSmallFile(path, name: "auth file \(path)", limit: Self.limit)
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0a || $0 == 0x0d || $0 == 0x09 }) { return [:] }
        guard let document = JSONValue.object(parsing: bytes) else {
            throw RegistryError(.input, "auth file \(path): not a JSON object (expected Docker's config.json: {\"auths\": {…}})")
        }
        return document
    }

    private func write(_ document: [String: JSONValue]) throws {
        let data = try JSONValue.encode(document)
        let directory = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        if !directory.isEmpty, access(directory, F_OK) != 0 {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw RegistryError(.input, "auth file \(path): cannot make its directory \(directory)")
            }
        }
        // A new file of its own (O_EXCL, O_NOFOLLOW, an unguessable name): the auth file
        // may sit in a directory others write to (REGISTRY_AUTH_FILE=/tmp/…), where a
        // symbolic link planted at a predictable name would have root write the credentials
        // through it, over whatever it points at.
        let temporary = "\(path).tmp-\(getpid())-\(String(UInt64.random(in: 0...UInt64.max), radix: 16))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw RegistryError(.input, "auth file \(path): \(temporary): \(String(cString: strerror(errno)))") }
        var failure: Int32 = 0
        (data + Data("\n".utf8)).withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let count = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if count < 0 { if errno == EINTR { continue }; failure = errno; return }
                offset += count
            }
        }
        // The mode, whatever the umask; then the bytes reach the disk before the name does.
        if failure == 0, fchmod(fd, 0o600) != 0 { failure = errno }
        if failure == 0, fsync(fd) != 0 { failure = errno }
        close(fd)
        if failure == 0, rename(temporary, path) != 0 { failure = errno }
        if failure != 0 {
            unlink(temporary)
            throw RegistryError(.input, "auth file \(path): \(String(cString: strerror(failure)))")
        }
    }

    /// `docker.io` for Docker Hub's many spellings; HOST[:PORT] for `https://HOST[:PORT]/path`:
    /// an auth file's key, or a registry as people type it to `login`.
    public static func registry(ofKey key: String) -> String {
        var host = Substring(key)
        if let scheme = host.firstRange(of: "://") { host = host[scheme.upperBound...] }
        if let slash = host.firstIndex(of: "/") { host = host[..<slash] }
        switch host {
        case "index.docker.io", "registry-1.docker.io", "docker.io", "registry.hub.docker.com": return "docker.io"
        default: return String(host)
        }
    }

    /// The key Docker writes: `https://index.docker.io/v1/` for Docker Hub, HOST[:PORT] else.
    static func key(for name: String) -> String {
        let host = registry(ofKey: name)
        return host == "docker.io" ? "https://index.docker.io/v1/" : host
    }
}

private func homeOfCurrentUser() -> String {
    if let entry = getpwuid(getuid()), let directory = entry.pointee.pw_dir { return String(cString: directory) }
    return "/root"
}
