import Glibc

/// Where the advisory database lives under the state root's `scan/` directory, and its
/// SQLite schema.
///
///     scan/db/current              the version in use (replaced by rename)
///     scan/db/<version>.sqlite     that version's database, never changed once named
///     scan/db/lock                 serialises imports
///
/// Tables: `advisories` holds what reports show (one row per OSV record); `affected` one
/// row per affected package of a scanned ecosystem, with what matching evaluates packed
/// in one blob (`AffectedEntry.encoded`), found by (ecosystem, name); ecosystem names are
/// numbered in `ecosystems` so that the index stays small. Advisory keys are never reused
/// (AUTOINCREMENT): the entries of a replaced record are deleted by its key after the
/// import's inserts, which must not reach its successor.
enum AdvisoryStore {
    static func databaseDirectory(_ directory: String) -> String { directory + "/db" }
    static func currentFile(_ directory: String) -> String { databaseDirectory(directory) + "/current" }
    static func databaseFile(_ directory: String, version: String) -> String { databaseDirectory(directory) + "/\(version).sqlite" }
    static let temporaryPrefix = ".import-"

    /// A version names a file: only what `newVersion` writes is taken.
    static func isVersion(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 64 && text.utf8.allSatisfy {
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0)
                || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) || $0 == UInt8(ascii: "-")
        }
    }

    static let schema = """
        CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
        CREATE TABLE advisories(
            key INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, modified TEXT NOT NULL, modified_key INTEGER NOT NULL,
            withdrawn INTEGER NOT NULL, severity INTEGER NOT NULL, score REAL, vector TEXT, summary TEXT,
            published TEXT, aliases TEXT NOT NULL, refs TEXT NOT NULL);
        CREATE TABLE ecosystems(key INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
        CREATE TABLE affected(advisory INTEGER NOT NULL, ecosystem INTEGER NOT NULL, name TEXT NOT NULL, ranges BLOB NOT NULL);
        CREATE TABLE sources(path TEXT PRIMARY KEY, advisories INTEGER NOT NULL, imported TEXT NOT NULL) WITHOUT ROWID;
        INSERT INTO meta VALUES('format', '1');
        """
    /// Built after the rows are in: one sort instead of a b-tree kept in order per insert.
    static let packageIndex = "CREATE INDEX affected_by_package ON affected(ecosystem, name)"

    /// Aliases and references are lists of short strings without newlines.
    static func joined(_ list: [String]) -> String {
        list.filter { !$0.contains("\n") }.joined(separator: "\n")
    }

    static func split(_ text: String?) -> [String] {
        guard let text, !text.isEmpty else { return [] }
        return text.split(separator: "\n").map(String.init)
    }

    /// The version `current` names, read without SQLite.
    static func readCurrent(_ directory: String) -> String? {
        let descriptor = open(currentFile(directory), O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 128)
        let count = read(descriptor, &buffer, buffer.count)
        guard count > 0 else { return nil }
        let text = String(decoding: buffer[0..<count], as: UTF8.self).trimmedLines
        return isVersion(text) ? text : nil
    }
}

private extension String {
    var trimmedLines: String {
        var slice = Substring(self)
        while let first = slice.first, first == " " || first == "\n" { slice.removeFirst() }
        while let last = slice.last, last == " " || last == "\n" { slice.removeLast() }
        return String(slice)
    }
}
