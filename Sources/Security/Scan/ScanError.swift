/// Why a scan, an inventory or an import failed: one line a user can act on, naming the
/// file or value and what was expected.
public enum ScanError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Outside data that is not what it should be: an OSV file, a package database, a
    /// version, an ignore file, a flag's value.
    case invalid(String)
    /// Files of the state root or the scanned tree could not be read or written.
    case storage(String)
    /// SQLite: the advisory database or an RPM database.
    case database(String)
    /// No advisory database has been imported yet.
    case noDatabase(String)

    public var description: String {
        switch self {
        case .invalid(let line), .storage(let line), .database(let line), .noDatabase(let line): line
        }
    }
}
