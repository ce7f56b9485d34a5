import Security

/// One collection on one Notary server, over the registry transport (libcurl, pooled
/// connections, Docker's token authentication when the server asks for it): the HTTP half
/// that `NotarySource` and `NotaryPublisher` share.
///
/// Notary's API (notary-server's `server/server.go`), under `/v2/<GUN>/_trust/tuf/`:
/// `GET <role>.json`, `GET <N>.<role>.json`, `GET <role>.<sha256 hex>.json` (a file, 404
/// when absent); `GET timestamp.key` / `snapshot.key` (the server's key for that role, made
/// on first ask; POST makes a new one); `POST` of the directory itself (multipart form of
/// changed files, applied at once); `DELETE` of it (the whole collection).
struct NotaryConnection: Sendable {
    let gun: String
    /// `notary.example:4443`, for messages.
    let server: String
    let client: RegistryClient

    /// Seconds to connect (and shake hands) before a server counts as unreachable: an
    /// unreachable trust server is one line within 5 s, not a hung pull.
    static let connectSeconds = 4.0

    /// `server`: `https://HOST[:PORT]` (as `DOCKER_CONTENT_TRUST_SERVER`) or `HOST[:PORT]`.
    /// TLS trust and credentials come from `configuration` (certs.d of the server's host,
    /// the auth file), `caFile` adds a CA to the system's roots, and `credentials` (the
    /// registry's, as Docker sends them to its Notary) win over the auth file.
    init(server: String, gun: String, configuration: RegistryConfiguration, caFile: String?,
         credentials: RegistryCredentials?) throws(TrustError) {
        var host = server
        if let scheme = server.firstRange(of: "://") {
            guard server.hasPrefix("https://") else {
                throw .unavailable("trust server \"\(server)\": expected an https:// URL")
            }
            host = String(server[scheme.upperBound...])
        }
        while host.hasSuffix("/") { host.removeLast() }
        guard !host.isEmpty, !host.contains("/") else {
            throw .unavailable("trust server \"\(server)\": expected https://HOST[:PORT]")
        }
        self.gun = gun
        self.server = host
        do {
            var endpoint = try configuration.endpoint(for: host)
            endpoint.baseURL = "https://" + host
            // A Notary server speaks TLS, loopback or not: no plain-HTTP fallback.
            endpoint.fallbackURL = nil
            if let caFile {
                var bundle = endpoint.caBundle ?? []
                endpoint.rootsDirectory = configuration.systemRoots
                let authority = try readSmallFile(caFile, name: "CA certificate \(caFile)", limit: RegistryConfiguration.certificateLimit)
                if let last = bundle.last, last != 0x0a { bundle.append(0x0a) }
                endpoint.caBundle = bundle + authority
                endpoint.trustDirectories.append(caFile)
            }
            if let credentials {
                endpoint.credentials = credentials
                endpoint.credentialHelper = nil
            }
            client = try RegistryClient(endpoint: endpoint)
            client.connectSeconds = Self.connectSeconds
        } catch let error as RegistryError {
            throw .unavailable(Self.reworded(error.message, server: host))
        } catch {
            throw .unavailable("trust server \(host): \(error)")
        }
    }

    /// `https://HOST/v2/<GUN>/_trust/tuf/<file>`.
    func url(_ file: String) -> String { client.url("/v2/\(gun)/_trust/tuf/\(file)") }

    /// One request, authenticated for `actions` on the collection if the server asks; a
    /// transport failure (refused, timed out, untrusted certificate, denied) as
    /// `.unavailable`, a body beyond `limit` as `.malformed`.
    func send(_ request: HTTPRequest, actions: [String], limit: Int, what: String) throws(TrustError) -> HTTPResponse {
        do {
            return try client.send(request, scopes: [AuthScope(repository: gun, actions: actions)], limit: limit)
        } catch let error as RegistryError where error.kind == .badContent {
            throw .malformed("\(what) from trust server \(server) is larger than \(limit) bytes")
        } catch let error as RegistryError {
            throw .unavailable(Self.reworded(error.message, server: server))
        } catch {
            throw .unavailable("trust server \(server): \(error)")
        }
    }

    /// The transport says "registry HOST: …" of the host it talks to; here that host is a
    /// trust server.
    static func reworded(_ message: String, server: String) -> String {
        message.hasPrefix("registry ") ? "trust server " + message.dropFirst("registry ".count) : "trust server \(server): \(message)"
    }

    /// A Notary error body (`{"errors": [{"code": "INVALID_UPDATE", "message": "…",
    /// "detail": {"Name": "ErrBadRoot", "Error": {"Msg": "…"}}}]}`) as one line:
    /// `INVALID_UPDATE: Update sent by the client is invalid. (ErrBadRoot: …)`.
    static func errorLine(_ body: [UInt8], status: Int) -> String {
        guard let first = JSONValue.object(parsing: body)?["errors"]?.array?.first?.object else {
            return "HTTP \(status)"
        }
        var line = [first["code"]?.string, first["message"]?.string].compactMap { $0 }.joined(separator: ": ")
        if line.isEmpty { line = "HTTP \(status)" }
        let detail = first["detail"]?.object
        let reason = detail?["Error"]?.object?["Msg"]?.string ?? detail?["Error"]?.string
        if let reason, !reason.isEmpty {
            line += " (" + [detail?["Name"]?.string, reason].compactMap { $0 }.joined(separator: ": ") + ")"
        }
        let oneLine = String(line.unicodeScalars.map { $0.properties.generalCategory == .control ? " " : Character($0) })
        return oneLine.count > 400 ? oneLine.prefix(400) + "…" : oneLine
    }
}
