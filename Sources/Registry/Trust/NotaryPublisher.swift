import Security

/// Writes a collection to a Notary server as the `notary` CLI and Docker do.
///
/// Docker's set-up keeps the timestamp key (and, from Docker 1.11, the snapshot key) on the
/// server: `remoteKey` asks the server for it before root first lists it; the server then
/// signs those roles itself whenever a publish changes what they cover.
public struct NotaryPublisher: Sendable {
    let connection: NotaryConnection

    public var gun: String { connection.gun }
    public var server: String { connection.server }

    /// Publishes where `source` reads: the same server, collection, TLS trust and credentials.
    public init(_ source: NotarySource) {
        connection = source.connection
    }

    /// The server's public key for `role` (`timestamp` or `snapshot`): `GET
    /// …/_trust/tuf/<role>.key`, answered `{"keytype": "ed25519", "keyval": {"public":
    /// "<base64>", "private": null}}`. The server makes the key on the first GET and gives
    /// the same one after; a POST there would make a new one (key rotation), so never POST.
    public func remoteKey(_ role: RoleName) throws(TrustError) -> PublicKey {
        guard role == TopRole.timestamp || role == TopRole.snapshot else {
            throw .key("role \"\(role)\": a Notary server holds keys only for timestamp and snapshot")
        }
        let file = role + ".key"
        let response = try connection.send(HTTPRequest(method: "GET", url: connection.url(file)), actions: ["push", "pull"],
                                           limit: Self.keyLimit, what: file)
        guard response.status == 200 else {
            throw .unavailable("trust server \(server): GET \(gun)/\(file): \(NotaryConnection.errorLine(response.body, status: response.status))")
        }
        do {
            return try PublicKey(json: TrustJSON.parse(response.body, limit: Self.keyLimit), dialect: .notary)
        } catch {
            throw .key("trust server \(server): \(role) key of \(gun): \(error)")
        }
    }

    /// Publishes changed files (role name → file bytes) in one atomic update: a `POST
    /// …/_trust/tuf/` of `multipart/form-data`, one part per file named `files` with the
    /// role as its filename (`targets/releases`), as notary's `HTTPStore.SetMulti`. The
    /// server checks the update against what it holds (signatures, versions, hierarchy),
    /// then signs a new snapshot (if it holds that key) and timestamp. Its refusal is one
    /// line: `INVALID_UPDATE: Update sent by the client is invalid. (ErrBadRoot: …)`; a
    /// version not above the stored one is `.rollback`.
    public func publish(_ files: [RoleName: [UInt8]]) throws(TrustError) {
        guard !files.isEmpty else { return }
        let boundary = Self.boundary(avoiding: files.values)
        var body: [UInt8] = []
        // Root first, then the rest by name: the order the server reads them in does not
        // matter to it, but a fixed one makes a request reproducible.
        for role in files.keys.sorted(by: { $0 == TopRole.root || ($1 != TopRole.root && $0 < $1) }) {
            body += Array("--\(boundary)\r\n".utf8)
            body += Array("Content-Disposition: form-data; name=\"files\"; filename=\"\(Self.quoted(role))\"\r\n".utf8)
            body += Array("Content-Type: application/octet-stream\r\n\r\n".utf8)
            body += files[role]!
            body += Array("\r\n".utf8)
        }
        body += Array("--\(boundary)--\r\n".utf8)
        let request = HTTPRequest(method: "POST", url: connection.url(""),
                                  headers: ["Content-Type: multipart/form-data; boundary=\(boundary)"], body: .bytes(body))
        let response = try connection.send(request, actions: ["push", "pull"], limit: Self.answerLimit, what: "the answer to a publish")
        guard (200..<300).contains(response.status) else {
            let line = "trust server \(server): publishing \(gun): \(NotaryConnection.errorLine(response.body, status: response.status))"
            if JSONValue.object(parsing: response.body)?["errors"]?.array?.first?.object?["code"]?.string == "VERSION" {
                throw .rollback(line)
            }
            throw .unavailable(line)
        }
    }

    /// A key answer is a few hundred bytes.
    static let keyLimit = 16 << 10
    /// An answer to a publish: empty, or an error document.
    static let answerLimit = 64 << 10

    /// Random hex that none of the files contains.
    static func boundary(avoiding files: Dictionary<RoleName, [UInt8]>.Values) -> String {
        var generator = SystemRandomNumberGenerator()
        while true {
            let candidate = "netctl-" + (0..<4).map { _ in String(generator.next() as UInt64, radix: 16) }.joined()
            let bytes = Array(candidate.utf8)
            if !files.contains(where: { contains($0, bytes) }) { return candidate }
        }
    }

    private static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard haystack.count >= needle.count else { return false }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if haystack[start..<(start + needle.count)].elementsEqual(needle) { return true }
        }
        return false
    }

    /// A filename inside the header's quotes: `"` and `\` escaped as Go's mime writer does.
    private static func quoted(_ name: String) -> String {
        name.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"")
    }
}
