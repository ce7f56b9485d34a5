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

extension RegistryClient {
    /// One call to the registry: authenticated as the registry asks (anonymous, basic, or
    /// a bearer token for `scopes`), transient failures retried with backoff, an answer of
    /// any status returned (the caller decides what a 404 means). A `sink` gets the body of
    /// a 2xx answer as it arrives; once it has had bytes, a broken transfer is not retried
    /// here (the caller resumes it or starts again).
    public func send(_ request: HTTPRequest, scopes: [AuthScope], limit: Int = 1 << 20,
                     sink: ((UnsafeRawBufferPointer) throws -> Void)? = nil) throws -> HTTPResponse {
        do {
            return try perform(request, limit: limit, sink: sink)
        } catch {
            throw describe(error, request)
        }
    }

    /// An absolute URL for a Location header, which may be a path on the registry.
    public func resolve(location: String) -> String {
        location.hasPrefix("/") ? url(location) : location
    }

    func describe(_ failure: TransferFailure, _ request: HTTPRequest) -> any Error {
        switch failure {
        case .notConnected(let reason): RegistryError(.unreachable, "registry \(endpoint.registry): \(reason)")
        case .tls(let reason): RegistryError(.unreachable, "registry \(endpoint.registry): TLS: \(reason)")
        case .broken(let reason): RegistryError(.server, "registry \(endpoint.registry): \(request.method) \(request.url): \(reason)")
        case .tooLarge(let limit): RegistryError(.badContent, "registry \(endpoint.registry): \(request.method) \(request.url): answer larger than \(limit) bytes")
        case .sink(let error): error
        }
    }
}
