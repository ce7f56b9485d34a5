/// What went wrong talking to etcd, as one line that names the endpoint and what failed:
/// `etcd at https://198.18.1.5:2379: unreachable (Connection refused)`.
public struct EtcdError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// No endpoint answered in time; the request may not have reached etcd.
        case unreachable
        /// A watch asked for a revision that compaction removed; everything from
        /// `compactRevision` on is still there, so the caller reads the whole prefix again
        /// (its revision) and watches on from it.
        case compacted(compactRevision: Int64)
        /// etcd answered with an error (its gRPC code; 0 when it gave none).
        case server(code: Int)
        /// The answer was not what the JSON gateway sends, or was larger than allowed.
        case badAnswer
        /// libcurl could not be loaded, or a TLS file could not be used.
        case setup
    }

    public var kind: Kind
    public var description: String

    public init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }

    /// The revision compaction kept, when this is a watch started below it.
    public var compactRevision: Int64? {
        if case .compacted(let revision) = kind { return revision }
        return nil
    }

    /// `true` for `.compacted`, whatever the revision: `catch let e as EtcdError where e.isCompacted`.
    public var isCompacted: Bool { compactRevision != nil }
}
