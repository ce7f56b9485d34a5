import Glibc
import Security

/// A static TUF repository, as any web server or a directory holds it and python-tuf's
/// `ngclient.Updater` reads it: the files of collection GUN under `<base>/<GUN>/`, named
/// `N.root.json` for every root version, `timestamp.json`, and with consistent snapshots
/// `N.snapshot.json`, `N.targets.json`, `N.<delegation>.json` (`<role>.json` without).
/// The client says which version it wants; a file that is not there is nil, as a 404 is.
///
/// `base` is `http://…`, `https://…` (through the registry's libcurl transport, loaded on
/// first use), `file:///dir` or a path.
public struct StaticTrustSource: TrustSource {
    /// `https://trust.example/tuf/127.0.0.1:5000/team/app/`, or the directory
    /// `/srv/tuf/127.0.0.1:5000/team/app/`: the collection's own, ending in `/`.
    public let location: String
    private let client: RegistryClient?

    /// `caFile`: a PEM file of certificates to trust for an `https` base instead of the
    /// system's (as NotarySource's `caFile`).
    public init(base: String, gun: String, caFile: String) throws(TrustError) {
        guard let bundle = try Self.read(caFile, limit: 1 << 20), !bundle.isEmpty, bundle.count <= 1 << 20 else {
            throw .unavailable("CA file \(caFile): expected a PEM file of certificates (missing, empty or over 1 MiB)")
        }
        try self.init(base: base, gun: gun, caBundle: bundle)
    }

    /// `caBundle`: PEM certificates to trust for an `https` base instead of the system's.
    public init(base: String, gun: String, caBundle: [UInt8]? = nil) throws(TrustError) {
        guard !gun.isEmpty, !gun.split(separator: "/", omittingEmptySubsequences: false).contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) else {
            throw .malformed("GUN \"\(gun)\": expected a repository name such as 127.0.0.1:5000/team/app")
        }
        var base = base
        while base.hasSuffix("/") && base.count > 1 { base.removeLast() }
        if base.hasPrefix("http://") || base.hasPrefix("https://") {
            guard hostPort(of: base + "/").isEmpty == false else {
                throw .malformed("trust repository \"\(base)\": expected http(s)://HOST[:PORT]/PATH")
            }
            location = base + "/" + gun.split(separator: "/").map { percentEncoded(String($0)) }.joined(separator: "/") + "/"
            do {
                client = try RegistryClient(endpoint: RegistryEndpoint(registry: hostPort(of: base + "/"), baseURL: origin(of: base + "/"), caBundle: caBundle))
            } catch {
                throw .unavailable("trust repository \(base): \(error)")
            }
            // An unreachable repository is said so in one line within seconds, not after
            // libcurl's minutes.
            client?.connectSeconds = 4
            client?.stallSeconds = 10
        } else {
            if base.hasPrefix("file://") { base.removeFirst("file://".count) }
            guard base.hasPrefix("/") else {
                throw .malformed("trust repository \"\(base)\": expected http://, https://, file:// or an absolute path")
            }
            location = (base == "/" ? "" : base) + "/" + gun + "/"
            client = nil
        }
    }

    /// `3.root.json`, `timestamp.json`: the file that holds `role` at `version` (a
    /// delegation of the Notary dialect, `targets/releases`, is a file in a subdirectory).
    public static func fileName(role: RoleName, version: Int?) -> String {
        guard let version else { return role + ".json" }
        if let slash = role.lastIndex(of: "/") {
            return String(role[...slash]) + "\(version)." + role[role.index(after: slash)...] + ".json"
        }
        return "\(version).\(role).json"
    }

    public func fetch(role: RoleName, version: Int?, limit: Int) throws(TrustError) -> [UInt8]? {
        // Delegated role names come from the repository itself: none may climb out of it.
        guard !role.isEmpty, !role.split(separator: "/", omittingEmptySubsequences: false).contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }),
              !role.contains(where: { $0 == "\\" || $0 == "\0" }) else {
            throw .malformed("role name \"\(role)\": expected a name such as releases or targets/releases")
        }
        let name = Self.fileName(role: role, version: version)
        if let client { return try download(name, limit: limit, client: client) }
        return try Self.read(location + name, limit: limit)
    }

    // Over HTTP: a GET, 404 (and 403, which S3-like stores answer for a missing object, as
    // python-tuf also reads it) is nil, redirects followed, the body cut at limit + 1.
    private func download(_ name: String, limit: Int, client: RegistryClient) throws(TrustError) -> [UInt8]? {
        var url = location + name.split(separator: "/").map { percentEncoded(String($0)) }.joined(separator: "/")
        let body = BodyBuffer(limit: limit + 1)
        for _ in 0...5 {
            let response: HTTPResponse
            do {
                response = try client.exchange(HTTPRequest(method: "GET", url: url), limit: 64 << 10) { chunk in
                    try body.append(chunk)
                }
            } catch is BodyBuffer.Full {
                return body.bytes
            } catch let error as RegistryError {
                throw .unavailable("trust repository \(url): \(detail(error.message, client))")
            } catch {
                throw .unavailable("trust repository \(url): \(error)")
            }
            switch response.status {
            case 200..<300:
                return body.bytes
            case 403, 404:
                return nil
            case 301, 302, 303, 307, 308:
                guard let next = response.header("location") else { break }
                url = client.resolve(location: next, against: url)
                body.bytes = []
                continue
            default:
                break
            }
            throw .unavailable("trust repository \(url): HTTP \(response.status)")
        }
        throw .unavailable("trust repository \(url): more than 5 redirects")
    }

    /// The transport's message without its `registry HOST: ` opening (the caller names the URL).
    private func detail(_ message: String, _ client: RegistryClient) -> String {
        let opening = "registry \(client.endpoint.registry): "
        return message.hasPrefix(opening) ? String(message.dropFirst(opening.count)) : message
    }

    // From a directory: ENOENT is nil; a file larger than limit + 1 is not read further.
    private static func read(_ path: String, limit: Int) throws(TrustError) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw .unavailable("trust repository \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        // A buffer of the file's size (and one byte more, to see it grow), not of the limit:
        // zeroing 4 MiB for each role's file of a few KiB was a third of a verification.
        var status = stat()
        let size = fstat(fd, &status) == 0 && status.st_size > 0 ? Int(status.st_size) : 64 << 10
        var bytes = [UInt8](repeating: 0, count: min(size, limit) + 1)
        var count = 0
        while count < limit + 1 {
            if count == bytes.count { bytes += [UInt8](repeating: 0, count: min(bytes.count, limit + 1 - bytes.count)) }
            let got = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + count, $0.count - count) }
            if got < 0 && errno == EINTR { continue }
            guard got >= 0 else { throw .unavailable("trust repository \(path): \(String(cString: strerror(errno)))") }
            if got == 0 { break }
            count += got
        }
        bytes.removeSubrange(count...)
        return bytes
    }
}

/// A 2xx body as it arrives, up to `limit` bytes; `Full` stops the transfer there.
private final class BodyBuffer {
    struct Full: Error {}
    var bytes: [UInt8] = []
    let limit: Int
    init(limit: Int) { self.limit = limit }

    func append(_ chunk: UnsafeRawBufferPointer) throws(Full) {
        let room = limit - bytes.count
        bytes.append(contentsOf: chunk.prefix(room))
        if chunk.count >= room { throw Full() }
    }
}
