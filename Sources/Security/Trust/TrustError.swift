/// Why trust data was refused or could not be made: one line a user can act on, in Docker's
/// words where Docker has them ("No valid trust data for latest").
public enum TrustError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Metadata that is not what the dialect defines: bad JSON, a missing field, a bad value.
    case malformed(String)
    /// No trust data for the tag (unsigned, or a collection that does not exist).
    case noTrustData(String)
    /// Signatures, thresholds, keys: "valid signatures did not meet threshold for targets".
    case signature(String)
    /// "timestamp expired at 2026-12-01T00:00:00Z".
    case expired(String)
    /// A version lower than the last one trusted: "version 3 is lower than current version 5".
    case rollback(String)
    /// Files that do not agree with each other: hashes, lengths, versions (mix and match).
    case mismatch(String)
    /// Keys: an unknown key type, a wrong passphrase, a missing key file.
    case key(String)
    /// The trust server or repository could not be read or written.
    case unavailable(String)
    /// Local files: the trust store, the key store.
    case storage(String)

    public var description: String {
        switch self {
        case .malformed(let line), .noTrustData(let line), .signature(let line), .expired(let line),
             .rollback(let line), .mismatch(let line), .key(let line), .unavailable(let line), .storage(let line):
            line
        }
    }
}
