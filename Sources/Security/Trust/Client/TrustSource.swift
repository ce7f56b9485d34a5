/// Where a trust collection's files come from: a Notary server, a static TUF repository
/// over HTTP(S) or on disk, or (in tests) memory. A source only fetches; the client
/// decides what to believe.
public protocol TrustSource: Sendable {
    /// One file of the collection; nil when the source says it does not exist (404).
    ///
    /// `version` asks for `N.<role>.json` (root's chain, consistent snapshots); nil for
    /// `<role>.json`. A source stops reading after `limit + 1` bytes: it may return those
    /// (the client refuses anything over `limit`) or throw, but never reads on without end.
    func fetch(role: RoleName, version: Int?, limit: Int) throws(TrustError) -> [UInt8]?
}
