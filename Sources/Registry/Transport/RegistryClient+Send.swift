import Glibc

/// What a call may do in a repository: the scope of a bearer token
/// (`repository:team/app:pull,push`).
public struct AuthScope: Hashable, Sendable, CustomStringConvertible {
    public var repository: String
    public var actions: [String]

    public init(repository: String, actions: [String]) {
        self.repository = repository
        self.actions = actions
    }

    public static func pull(_ repository: String) -> AuthScope { AuthScope(repository: repository, actions: ["pull"]) }
    public static func push(_ repository: String) -> AuthScope { AuthScope(repository: repository, actions: ["pull", "push"]) }

    public var description: String { "repository:\(repository):\(actions.joined(separator: ","))" }
}

/// How hard `send` tries before it gives up on a transient failure.
struct RetryPolicy {
    /// Exchanges in all, the first included.
    var tries = 4
    /// The first pause; each next one doubles.
    var firstDelay = 0.25
    /// No single pause longer (a Retry-After beyond it is cut to it).
    var longestDelay = 5.0
    /// Pauses in all, at most.
    var budget = 10.0
    /// Statuses that mean "later": the registry is busy, restarting, or throttling.
    static let transientStatuses: Set<Int> = [429, 500, 502, 503, 504]
}

extension RegistryClient {
    /// One call to the registry: authenticated as the registry asks (anonymous, basic, or
    /// a bearer token for `scopes`), transient failures retried with backoff, an answer of
    /// any status returned (the caller decides what a 404 means). A `sink` gets the body of
    /// a 2xx answer as it arrives; once it has had bytes, a broken transfer is not retried
    /// here (the caller resumes it or starts again).
    ///
    /// 401 and 403, once every way of authenticating was tried, throw `.denied`; 5xx and
    /// 429 that outlast the retries throw `.server`. Redirects of GET and HEAD are
    /// followed, with the Authorization header only while they stay on the registry.
    public func send(_ request: HTTPRequest, scopes: [AuthScope], limit: Int = 1 << 20,
                     sink: ((UnsafeRawBufferPointer) throws -> Void)? = nil) throws -> HTTPResponse {
        var current = request
        var wanted = scopes.map(\.description)
        var challenged = false
        // A cached token was refused: the next request asks for a new one (once).
        var fresh = false
        var redirects = 0
        while true {
            current.url = rebased(current.url)
            var attempt = current
            let onRegistry = origin(of: current.url) == origin(of: base)
            if onRegistry, let authorization = try authorization(scopes: wanted, fresh: fresh) {
                attempt.headers.append("Authorization: " + authorization)
            }
            fresh = false
            let response = try exchange(attempt, limit: limit, sink: sink)
            switch response.status {
            case 401 where onRegistry && !challenged:
                // The registry says how it wants to be authenticated: learn it, ask again once.
                let challenges = AuthChallenge.parse(response.header("www-authenticate") ?? "")
                guard var chosen = choose(challenges), chosen.scheme == "bearer" || endpoint.credentials != nil else {
                    throw denied(response, current)
                }
                wanted += chosen.scopes.filter { !wanted.contains($0) }
                chosen.parameters["scope"] = nil
                chosen.parameters["error"] = nil
                let learnt = chosen
                session.withLock { $0.challenge = learnt }
                challenged = true
                fresh = true
            case 401, 403:
                throw denied(response, current)
            case let status where [301, 302, 303, 307, 308].contains(status) && (current.method == "GET" || current.method == "HEAD"):
                guard let location = response.header("location"), redirects < 5 else { return response }
                redirects += 1
                current = HTTPRequest(method: current.method, url: resolve(location: location, against: current.url),
                                      headers: request.headers)
            default:
                return response
            }
        }
    }

    /// An absolute URL for a Location header, which may be a path on the registry.
    public func resolve(location: String) -> String {
        rebased(location.hasPrefix("/") ? url(location) : location)
    }

    /// `location` relative to the URL that answered it.
    func resolve(location: String, against url: String) -> String {
        if location.contains("://") { return location }
        if location.hasPrefix("/") { return origin(of: url) + location }
        let path = url.split(separator: "?", maxSplits: 1)[0]
        return String(path[...(path.lastIndex(of: "/") ?? path.startIndex)]) + location
    }

    /// A URL made with `baseURL` sent to `fallbackURL` once the registry turned out to speak
    /// plain HTTP only.
    func rebased(_ url: String) -> String {
        guard let fallback = endpoint.fallbackURL, session.withLock({ $0.plainHTTP }), url.hasPrefix(endpoint.baseURL) else { return url }
        return fallback + url.dropFirst(endpoint.baseURL.count)
    }

    /// `perform` until it gets an answer worth returning: connection failures, broken
    /// transfers (of requests that may be repeated) and transient statuses retried with
    /// exponential backoff (Retry-After honoured), but never once the sink has had bytes.
    /// Falls back to plain HTTP when an insecure or loopback registry does not speak TLS.
    func exchange(_ request: HTTPRequest, limit: Int, sink: ((UnsafeRawBufferPointer) throws -> Void)?,
                  policy: RetryPolicy = RetryPolicy()) throws -> HTTPResponse {
        let delivery = DeliveryCount()
        let counted: ((UnsafeRawBufferPointer) throws -> Void)? = sink.map { sink in
            { chunk in
                delivery.bytes += chunk.count
                try sink(chunk)
            }
        }
        var request = request
        let original = request
        var handshakeFailure: TransferFailure?
        var tries = 0
        var waited = 0.0
        var delay = policy.firstDelay
        // Sleeps before the next try when one is left in the policy; false when none is.
        func pause(_ asked: Double?) -> Bool {
            guard tries < policy.tries, delivery.bytes == 0 else { return false }
            let seconds = min(asked ?? delay, policy.longestDelay)
            guard waited + seconds <= policy.budget else { return false }
            usleep(useconds_t(seconds * 1_000_000))
            waited += seconds
            delay *= 2
            return true
        }
        while true {
            tries += 1
            let response: HTTPResponse
            do {
                response = try perform(request, limit: limit, sink: counted)
            } catch {
                let repeatable = request.method == "GET" || request.method == "HEAD" || request.method == "PUT" || request.method == "DELETE"
                switch error {
                case .handshake where endpoint.fallbackURL != nil && request.url.hasPrefix(endpoint.baseURL):
                    // An insecure or loopback registry that does not speak TLS: plain HTTP from now on.
                    session.withLock { $0.plainHTTP = true }
                    request.url = rebased(request.url)
                    handshakeFailure = error
                    tries -= 1
                    continue
                case .broken where repeatable && delivery.bytes == 0:
                    if pause(nil) { continue }
                case .notConnected where session.withLock({ $0.connectedOnce }):
                    if pause(nil) { continue }
                default:
                    break
                }
                throw describe(error, request)
            }
            if let handshakeFailure, response.status == 400, String(decoding: response.body, as: UTF8.self).contains("HTTPS") {
                // It does speak TLS, but the handshake failed for another reason: say that one.
                session.withLock { $0.plainHTTP = false }
                throw describe(handshakeFailure, original)
            }
            session.withLock { $0.connectedOnce = true }
            guard RetryPolicy.transientStatuses.contains(response.status) else { return response }
            if pause(retryAfter(response)) { continue }
            let said = RegistryErrorBody(response.body).summary.map { ": " + $0 } ?? ""
            throw RegistryError(.server, "registry \(endpoint.registry): \(request.method) \(pathOf(request.url)): \(response.status) after \(tries) tr\(tries == 1 ? "y" : "ies")\(said)")
        }
    }

    /// Retry-After in seconds (the HTTP-date form is left to the backoff).
    private func retryAfter(_ response: HTTPResponse) -> Double? {
        response.header("retry-after").flatMap { Double($0.trimmingCharacters(in: " \t")) }.map { max(0, $0) }
    }

    /// A 401 or 403 as one line: what the registry said, and as whom the client asked.
    func denied(_ response: HTTPResponse, _ request: HTTPRequest) -> RegistryError {
        let said = RegistryErrorBody(response.body).summary ?? "\(response.status)"
        return RegistryError(.denied, "registry \(endpoint.registry) said \(said) (\(request.method) \(pathOf(request.url)), \(identity))")
    }

    func describe(_ failure: TransferFailure, _ request: HTTPRequest) -> any Error {
        let registry = endpoint.registry
        // The server, when it is not the registry itself (a token realm, a redirect's target).
        let server = hostPort(of: request.url)
        let other = server == hostPort(of: endpoint.baseURL) ? "" : " \(server)"
        switch failure {
        case .unknownHost:
            return RegistryError(.unreachable, "registry \(registry): unknown host \"\(hostName(of: request.url))\" (it does not resolve)")
        case .notConnected(let reason):
            return RegistryError(.unreachable, "registry \(registry): cannot connect\(other.isEmpty ? "" : " to" + other): \(reason)")
        case .tls(let reason):
            let places = endpoint.trustDirectories.isEmpty ? "" : "; trusted: the system's roots and \(endpoint.trustDirectories.map { $0 + "/*.crt" }.joined(separator: ", "))"
            return RegistryError(.unreachable, "registry \(registry): certificate\(other.isEmpty ? "" : " of" + other) not trusted (\(reason))\(places)")
        case .handshake(let reason):
            return RegistryError(.unreachable, "registry \(registry): TLS handshake\(other.isEmpty ? "" : " with" + other) failed: \(reason)")
        case .broken(let reason):
            return RegistryError(.server, "registry \(registry): \(request.method) \(pathOf(request.url)): \(reason)")
        case .tooLarge(let limit):
            return RegistryError(.badContent, "registry \(registry): \(request.method) \(pathOf(request.url)): answer larger than \(limit) bytes")
        case .sink(let error):
            return error
        }
    }
}

/// Body bytes handed to a sink, across the tries of one exchange.
private final class DeliveryCount {
    var bytes = 0
}

/// The path and query of a URL, for messages (`/v2/team/app/manifests/1.4`).
func pathOf(_ url: String) -> String {
    let origin = origin(of: url)
    let rest = String(url.dropFirst(origin.count))
    return rest.isEmpty ? "/" : rest
}

/// The host of a URL without its port (`[2001:db8::1]` stays bracketed).
func hostName(of url: String) -> String {
    let hostPort = hostPort(of: url)
    if hostPort.hasPrefix("["), let close = hostPort.firstIndex(of: "]") { return String(hostPort[...close]) }
    return String(hostPort.split(separator: ":", maxSplits: 1).first ?? "")
}

private extension String {
    func trimmingCharacters(in set: String) -> String {
        var text = Substring(self)
        while let first = text.first, set.contains(first) { text = text.dropFirst() }
        while let last = text.last, set.contains(last) { text = text.dropLast() }
        return String(text)
    }
}
