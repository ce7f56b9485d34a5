/// What went wrong talking to a registry, as one line a user can act on:
/// `pull registry.example:5000/team/app:1.4: manifest unknown (no such tag)`.
public struct RegistryError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        /// The reference, a flag or a file given does not parse.
        case input
        /// No connection could be made (unknown host, refused, TLS not trusted).
        case unreachable
        /// 401 or 403 after every way of authenticating was tried.
        case denied
        /// 404: no such repository, tag, manifest or blob.
        case notFound
        /// The registry answered something that does not check out (a digest mismatch, an
        /// unsupported media type, a malformed document).
        case badContent
        /// Anything else the server said (5xx after retries, unexpected status).
        case server
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}
