import Security

/// A collection's trust data on a Notary server (Docker Content Trust's): `GET
/// https://SERVER/v2/<GUN>/_trust/tuf/<role>.json`, or `<N>.<role>.json` for a version
/// (the client walks root versions so). Delegated roles keep their slashes
/// (`targets/releases.json`). A 404 is "no such file"; a server that cannot be reached,
/// or refuses, is `.unavailable` within 5 s.
public struct NotarySource: TrustSource {
    let connection: NotaryConnection

    public var gun: String { connection.gun }
    /// `HOST[:PORT]` of the server.
    public var server: String { connection.server }

    /// `server`: `https://HOST[:PORT]` or `HOST[:PORT]`; `caFile`: a PEM CA trusted beside
    /// the system's roots and the server's certs.d directories (`NETCTL_CERTS_D`);
    /// `credentials`: the registry's, for a server that asks for a token (Docker Hub's).
    public init(server: String, gun: String, configuration: RegistryConfiguration = RegistryConfiguration(),
                caFile: String? = nil, credentials: RegistryCredentials? = nil) throws(TrustError) {
        connection = try NotaryConnection(server: server, gun: gun, configuration: configuration, caFile: caFile,
                                          credentials: credentials)
    }

    /// One file of the collection: nil when the server has none (404); `.malformed` when it
    /// is longer than `limit` (reading stops there: an endless answer is not read to its end).
    public func fetch(role: RoleName, version: Int?, limit: Int) throws(TrustError) -> [UInt8]? {
        let file = (version.map { "\($0)." } ?? "") + role + ".json"
        let response = try connection.send(HTTPRequest(method: "GET", url: connection.url(file)), actions: ["pull"],
                                           limit: limit, what: file)
        switch response.status {
        case 200:
            return response.body
        case 404:
            return nil
        default:
            throw .unavailable("trust server \(server): GET \(gun)/\(file): \(NotaryConnection.errorLine(response.body, status: response.status))")
        }
    }
}
