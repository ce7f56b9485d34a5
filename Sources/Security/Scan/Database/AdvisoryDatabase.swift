import Glibc

/// An advisory that applies to a package's installed version.
public struct AdvisoryMatch: Hashable, Sendable {
    public var advisory: Advisory
    /// The lowest fixed version above the installed one; nil when there is none (yet).
    public var fixedVersion: String?

    public init(advisory: Advisory, fixedVersion: String?) {
        self.advisory = advisory
        self.fixedVersion = fixedVersion
    }
}

/// `netctl scan db info`.
public struct DatabaseInfo: Sendable, Codable, Equatable {
    public struct Source: Sendable, Codable, Equatable {
        /// The path given to `import`.
        public var path: String
        /// Records it added or updated, the last time it was imported.
        public var advisories: Int
        /// RFC 3339.
        public var imported: String
    }

    public var version: String
    /// RFC 3339: when the last import ended.
    public var updated: String
    public var sources: [Source]
    /// Every record, withdrawn ones included.
    public var advisories: Int
    public var withdrawn: Int
    /// Affected packages of scanned ecosystems, over every record.
    public var affectedEntries: Int
    /// Affected entries by ecosystem as the records name it (`Debian:12`, `PyPI`).
    public var ecosystems: [String: Int]
    /// The database file's size.
    public var bytes: Int
}

/// The imported advisory database, read only: one version of it, kept open for a scan.
public final class AdvisoryDatabase {
    public let version: String
    private let path: String
    private let database: SQLiteDatabase
    private let candidates: SQLiteDatabase.Statement
    private let advisoryRow: SQLiteDatabase.Statement
    /// Ecosystem names to their numbers, read on the first match.
    private var ecosystemKeys: [String: Int64]?

    /// The database imported under `directory` (the state root's `scan/`), nil when none was.
    public static func open(directory: String) throws(ScanError) -> AdvisoryDatabase? {
        // An import may remove the version just read from `current` after replacing it:
        // then `current` names the newer one.
        var lastError: ScanError?
        for _ in 0..<3 {
            guard let version = AdvisoryStore.readCurrent(directory) else { return nil }
            let path = AdvisoryStore.databaseFile(directory, version: version)
            guard access(path, F_OK) == 0 else {
                lastError = .noDatabase("\(path): missing, though \(AdvisoryStore.currentFile(directory)) names it; import again")
                continue
            }
            return try AdvisoryDatabase(path: path, version: version)
        }
        throw lastError!
    }

    /// Changes at every import (the cache key of scan results); read without SQLite.
    public static func currentVersion(directory: String) -> String? {
        AdvisoryStore.readCurrent(directory)
    }

    private init(path: String, version: String) throws(ScanError) {
        self.path = path
        self.version = version
        database = try SQLiteDatabase(path: path, mode: .readOnly)
        candidates = try database.prepare("SELECT advisory, ranges FROM affected WHERE ecosystem = ? AND name = ?")
        advisoryRow = try database.prepare("""
            SELECT id, aliases, summary, severity, score, vector, published, modified, refs FROM advisories
            WHERE key = ? AND withdrawn = 0
            """)
    }

    public func info() throws(ScanError) -> DatabaseInfo {
        func count(_ sql: String) throws(ScanError) -> Int {
            let statement = try database.prepare(sql)
            return try statement.step() ? Int(statement.integer(0)) : 0
        }
        let updated = try database.prepare("SELECT value FROM meta WHERE key = 'updated'")
        let updatedText = try updated.step() ? updated.text(0) ?? "" : ""
        var sources: [DatabaseInfo.Source] = []
        let sourceRows = try database.prepare("SELECT path, advisories, imported FROM sources ORDER BY imported, path")
        while try sourceRows.step() {
            sources.append(.init(path: sourceRows.text(0) ?? "", advisories: Int(sourceRows.integer(1)), imported: sourceRows.text(2) ?? ""))
        }
        var ecosystems: [String: Int] = [:]
        let ecosystemRows = try database.prepare("""
            SELECT ecosystems.name, count(*) FROM affected JOIN ecosystems ON affected.ecosystem = ecosystems.key GROUP BY affected.ecosystem
            """)
        while try ecosystemRows.step() { ecosystems[ecosystemRows.text(0) ?? ""] = Int(ecosystemRows.integer(1)) }
        var info = stat()
        return DatabaseInfo(
            version: version, updated: updatedText, sources: sources,
            advisories: try count("SELECT count(*) FROM advisories"),
            withdrawn: try count("SELECT count(*) FROM advisories WHERE withdrawn != 0"),
            affectedEntries: ecosystems.values.reduce(0, +), ecosystems: ecosystems,
            bytes: stat(path, &info) == 0 ? Int(info.st_size) : 0)
    }

    /// Advisories affecting `version` of `package` in `ecosystem`, and in the release-less
    /// ecosystem (a `Debian:12` query also matches `Debian` records); withdrawn ones left
    /// out. Names are compared as the ecosystem says (PyPI: PEP 503 normalised). An
    /// ecosystem netctl has no version order for matches nothing.
    public func matches(ecosystem: Ecosystem, package: String, version: String) throws(ScanError) -> [AdvisoryMatch] {
        guard let scheme = ecosystem.scheme else { return [] }
        if ecosystemKeys == nil {
            var keys: [String: Int64] = [:]
            let rows = try database.prepare("SELECT key, name FROM ecosystems")
            while try rows.step() { keys[rows.text(1) ?? ""] = rows.integer(0) }
            ecosystemKeys = keys
        }
        let name = OSVAdvisory.normalisedName(package, ecosystem: ecosystem.name)
        var names = [ecosystem.description]
        if ecosystem.release != nil { names.append(ecosystem.name) }

        // By advisory: an advisory naming the package in several entries (its release's and
        // the release-less one) is one match, with the lowest fix any of them gives.
        var found: [(key: Int64, fixed: String?, entry: AffectedEntry)] = []
        for ecosystemName in names {
            guard let key = ecosystemKeys?[ecosystemName] else { continue }
            try candidates.bind([.integer(key), .text(name)])
            while try candidates.step() {
                let advisory = candidates.integer(0)
                let entry = try candidates.withBlob(1) { (bytes) throws(ScanError) -> AffectedEntry in
                    guard let entry = AffectedEntry(decoding: bytes) else {
                        throw .database("\(path): the entry of \(ecosystemName) \(name) for advisory \(advisory) is damaged; import again")
                    }
                    return entry
                }
                let result = entry.evaluate(version, scheme: scheme)
                guard result.affected else { continue }
                if let index = found.firstIndex(where: { $0.key == advisory }) {
                    if let fixed = result.fixed, found[index].fixed.map({ scheme.compare(fixed, $0) == -1 }) ?? true {
                        found[index].fixed = fixed
                    }
                } else {
                    found.append((advisory, result.fixed, entry))
                }
            }
        }
        var matches: [AdvisoryMatch] = []
        for (key, fixed, entry) in found {
            guard var advisory = try advisory(key) else { continue }
            if let severity = entry.severity {
                advisory.severity = severity
                advisory.score = entry.score
                advisory.vector = entry.vector
            }
            matches.append(AdvisoryMatch(advisory: advisory, fixedVersion: fixed))
        }
        return matches.sorted { $0.advisory.id < $1.advisory.id }
    }

    /// The report fields of an advisory; nil when withdrawn.
    private func advisory(_ key: Int64) throws(ScanError) -> Advisory? {
        try advisoryRow.bind([.integer(key)])
        guard try advisoryRow.step() else { return nil }
        let row = advisoryRow
        return Advisory(
            id: row.text(0) ?? "", aliases: AdvisoryStore.split(row.text(1)), summary: row.text(2),
            severity: Severity(rawValue: Int(row.integer(3))) ?? .unknown,
            score: row.isNull(4) ? nil : row.real(4), vector: row.text(5), published: row.text(6),
            modified: row.text(7) ?? "", references: AdvisoryStore.split(row.text(8)))
    }
}
