import FoundationEssentials

/// What a client learnt from its registry, shared by the threads that use it.
struct Session: Sendable {
    /// How the registry asked to be authenticated (its realm and service; the scope of the
    /// request that was challenged is not kept): nil until the first 401.
    var challenge: AuthChallenge?
    /// Bearer tokens by the scopes they were asked for (sorted, space-separated).
    var tokens: [String: (token: String, expires: Double)] = [:]
    /// The registry did not speak TLS, and may be spoken to in plain HTTP (insecure or
    /// loopback): requests go to `fallbackURL`.
    var plainHTTP = false
    /// An exchange succeeded once: a refused connection now is a registry restarting, worth
    /// a retry, not a wrong address.
    var connectedOnce = false
}

extension RegistryClient {
    /// The Authorization header value for a request needing `scopes`, once the registry
    /// has said how it wants to be authenticated; nil before that (the first request goes
    /// anonymous and learns from the 401) and for Basic without credentials. `fresh` skips
    /// cached tokens (the registry refused the one it had).
    func authorization(scopes: [String], fresh: Bool) throws -> String? {
        guard let challenge = session.withLock({ $0.challenge }) else { return nil }
        switch challenge.scheme {
        case "bearer": return "Bearer " + (try token(challenge, scopes: scopes, fresh: fresh))
        case "basic": return endpoint.credentials?.basicAuthorization
        default: return nil
        }
    }

    /// The challenge to answer among those of a 401: Bearer with a realm first (what Docker
    /// does), else Basic; nil when none can be answered.
    func choose(_ challenges: [AuthChallenge]) -> AuthChallenge? {
        if let bearer = challenges.first(where: { $0.scheme == "bearer" && $0.realm != nil }) { return bearer }
        return challenges.first { $0.scheme == "basic" }
    }

    /// A bearer token for `scopes` from the challenge's realm:
    /// `GET REALM?service=SERVICE&scope=S1&scope=S2`, with Basic credentials when the
    /// client has them (anonymous otherwise). Cached until shortly before `expires_in`.
    func token(_ challenge: AuthChallenge, scopes: [String], fresh: Bool) throws -> String {
        let wanted = Array(Set(scopes)).sorted()
        let key = wanted.joined(separator: " ")
        let now = monotonicSeconds()
        if !fresh, let cached = session.withLock({ $0.tokens[key] }), cached.expires > now { return cached.token }
        guard let realm = challenge.realm, realm.hasPrefix("https://") || realm.hasPrefix("http://") else {
            throw RegistryError(.server, "registry \(endpoint.registry): its Bearer challenge names no realm URL (\"\(challenge.realm ?? "")\")")
        }
        var query: [String] = []
        if let service = challenge.service { query.append("service=" + percentEncoded(service)) }
        query += wanted.map { "scope=" + percentEncoded($0) }
        let url = query.isEmpty ? realm : realm + (realm.contains("?") ? "&" : "?") + query.joined(separator: "&")
        var headers: [String] = []
        if let credentials = endpoint.credentials {
            // The password goes in clear to a plain-HTTP realm only where plain HTTP is
            // allowed at all: a loopback token server, or a registry configured insecure.
            if realm.hasPrefix("http://"), endpoint.verifyPeer, !RegistryConfiguration.isLoopback(hostPort(of: realm)) {
                throw RegistryError(.denied, "registry \(endpoint.registry): its token server \(realm) is plain HTTP; the credentials of \(credentials.user) are not sent over it (expected an https:// realm)")
            }
            headers.append("Authorization: " + credentials.basicAuthorization)
        }
        let response = try exchange(HTTPRequest(method: "GET", url: url, headers: headers), limit: 1 << 20, sink: nil)
        let server = hostPort(of: realm)
        guard response.status == 200 else {
            let said = RegistryErrorBody(response.body).summary ?? "\(response.status)"
            let kind: RegistryError.Kind = response.status == 401 || response.status == 403 ? .denied : .server
            throw RegistryError(kind, "registry \(endpoint.registry): token server \(server) said \(said) (\(identity))")
        }
        guard let document = JSONValue.object(parsing: response.body),
              let token = document["token"]?.string.flatMap({ $0.isEmpty ? nil : $0 }) ?? document["access_token"]?.string,
              !token.isEmpty else {
            throw RegistryError(.server, "registry \(endpoint.registry): token server \(server) answered no token (expected JSON with \"token\" or \"access_token\")")
        }
        // The distribution spec's default lifetime is 60 s; leave a margin for the request.
        let lifetime = document["expires_in"]?.double ?? 60
        session.withLock { $0.tokens[key] = (token, now + max(lifetime, 60) - 10) }
        return token
    }

    /// `as alice`, or why the client is anonymous.
    var identity: String {
        if let credentials = endpoint.credentials { return "as \(credentials.user)" }
        if let helper = endpoint.credentialHelper {
            return "anonymous: \(endpoint.authFile ?? "the auth file") hands \(endpoint.registry) to credential helper \"\(helper)\", which netctl does not support; netctl login \(endpoint.registry)"
        }
        return "anonymous: no credentials for \(endpoint.registry)\(endpoint.authFile.map { " in \($0)" } ?? ""); netctl login \(endpoint.registry)"
    }
}

/// A registry's JSON error body: `{"errors": [{"code": "UNAUTHORIZED", "message": "…"}]}`
/// (token servers: `{"details": "…"}`).
struct RegistryErrorBody {
    var code: String?
    var message: String?

    init(_ body: [UInt8]) {
        guard !body.isEmpty, let document = JSONValue.object(parsing: body) else { return }
        if let first = document["errors"]?.array?.first?.object {
            code = first["code"]?.string
            message = first["message"]?.string
        } else {
            message = document["details"]?.string ?? document["detail"]?.string ?? document["message"]?.string
        }
    }

    /// `CODE: message`, or what there is of it: on one line, and short (it is the
    /// server's text, and goes into an error line).
    var summary: String? {
        let text: String? = switch (code, message) {
        case let (code?, message?) where !message.isEmpty: "\(code): \(message)"
        case let (code?, _): code
        case let (nil, message?): message
        default: nil
        }
        guard let text, !text.isEmpty else { return nil }
        let line = String(text.unicodeScalars.map { $0.properties.generalCategory == .control ? " " : Character($0) })
        return line.count > Self.summaryLength ? line.prefix(Self.summaryLength) + "…" : line
    }

    static let summaryLength = 200
}

/// RFC 3986 unreserved characters pass; everything else is %XX (as Go's url.Values does).
func percentEncoded(_ text: String) -> String {
    var out = ""
    for byte in text.utf8 {
        switch byte {
        case 0x30...0x39, 0x41...0x5a, 0x61...0x7a, UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            out.unicodeScalars.append(Unicode.Scalar(byte))
        default:
            out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
        }
    }
    return out
}

/// `host:port` of an absolute URL (`https://a.example:5000/x` → `a.example:5000`).
func hostPort(of url: String) -> String {
    var rest = Substring(url)
    if let scheme = rest.firstRange(of: "://") { rest = rest[scheme.upperBound...] }
    if let end = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) { rest = rest[..<end] }
    if let at = rest.lastIndex(of: "@") { rest = rest[rest.index(after: at)...] }
    return String(rest)
}

/// `scheme://host:port` of an absolute URL: what decides whether credentials may go along.
func origin(of url: String) -> String {
    guard let scheme = url.firstRange(of: "://") else { return "" }
    return String(url[..<scheme.upperBound]) + hostPort(of: url)
}

private extension String {
    func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
