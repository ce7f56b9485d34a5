import FoundationEssentials

/// An OSV file read and checked: the advisory as reports show it, and each affected
/// package of an ecosystem netctl scans with what matching needs of it.
struct OSVAdvisory: Sendable {
    struct Affected: Sendable {
        /// As the file writes it: `Debian:12`, `PyPI`.
        var ecosystem: String
        /// As matching looks it up (`OSVAdvisory.normalisedName`).
        var name: String
        var entry: AffectedEntry
    }

    var advisory: Advisory
    /// `modified` in microseconds since 1970, to tell which of two records is newer
    /// whatever their fractions and time zones.
    var modifiedKey: Int64
    var withdrawn: Bool
    var affected: [Affected]
    /// Affected entries of ecosystems OSV defines but netctl does not scan, by ecosystem name.
    var unsupported: [String: Int]

    // Bounds on what is kept: a file is at most 16 MiB, and fields that reports show stay short.
    static let maximumFileSize = 16 << 20
    static let maximumIDLength = 256
    static let maximumNameLength = 1024
    static let maximumVersionLength = 1024
    static let maximumSummaryLength = 1024
    static let keptAliases = 32
    static let keptReferences = 8

    /// Decodes and checks `bytes`, the OSV file `file` (named in every error).
    init(decoding bytes: [UInt8], file: String) throws(ScanError) {
        func fail(_ field: String, _ what: String) -> ScanError { .invalid("\(file): \(field): \(what)") }
        guard bytes.count <= Self.maximumFileSize else { throw Self.oversized(file, size: bytes.count) }
        let record: OSVRecord
        do {
            record = try JSONDecoder().decode(OSVRecord.self, from: Data(bytes))
        } catch let error as DecodingError {
            throw .invalid("\(file): \(Self.describe(error))")
        } catch {
            throw .invalid("\(file): not JSON (\(oneLine("\(error)", limit: 200)))")
        }

        guard let id = record.id else { throw fail("id", "missing; every OSV record has one") }
        guard !id.isEmpty, id.utf8.count <= Self.maximumIDLength, !id.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7f }) else {
            throw fail("id", "\(quoted(id)) is not an id (expected up to \(Self.maximumIDLength) characters without spaces)")
        }
        guard let modified = record.modified else { throw fail("modified", "missing; expected an RFC 3339 time") }
        modifiedKey = try Self.microseconds(modified, field: "modified", file: file)
        if let published = record.published { _ = try Self.microseconds(published, field: "published", file: file) }
        if let withdrawn = record.withdrawn { _ = try Self.microseconds(withdrawn, field: "withdrawn", file: file) }
        withdrawn = record.withdrawn != nil

        // Severity: a CVSS v3 vector of the entry, else of the advisory; then a rating.
        let advisoryCVSS = try Self.cvss(record.severity, field: "severity", file: file)
        let advisoryRating = record.database_specific?.rating.flatMap(Severity.init(rating:))
            ?? record.severity?.first { $0.type == "Ubuntu" }.flatMap { Severity(rating: $0.score) }

        affected = []
        unsupported = [:]
        for (index, item) in (record.affected ?? []).enumerated() {
            let field = "affected[\(index)]"
            // An entry without a package lists GIT ranges of a project outside any
            // ecosystem (OSV's CVE records): nothing installed can be matched to it.
            guard let package = item.package else { continue }
            guard let ecosystem = package.ecosystem else { throw fail("\(field).package.ecosystem", "missing") }
            guard let name = package.name, !name.isEmpty, name.utf8.count <= Self.maximumNameLength else {
                throw fail("\(field).package.name", package.name == nil ? "missing" : "expected 1 to \(Self.maximumNameLength) characters")
            }
            let parsed = Ecosystem(osv: ecosystem)
            guard OSVEcosystems.defined.contains(parsed.name) else {
                throw fail("\(field).package.ecosystem", "\(quoted(ecosystem)) is not an ecosystem OSV defines (Debian, Alpine, PyPI, npm, Go, …)")
            }
            var ranges: [VersionRange] = []
            for (rangeIndex, range) in (item.ranges ?? []).enumerated() {
                if let kept = try Self.range(range, field: "\(field).ranges[\(rangeIndex)]", file: file) { ranges.append(kept) }
            }
            let versions = item.versions ?? []
            if let long = versions.firstIndex(where: { $0.utf8.count > Self.maximumVersionLength }) {
                throw fail("\(field).versions[\(long)]", "longer than \(Self.maximumVersionLength) characters")
            }
            guard parsed.scheme != nil else {
                unsupported[parsed.name, default: 0] += 1
                continue
            }
            let cvss = try Self.cvss(item.severity, field: "\(field).severity", file: file) ?? advisoryCVSS
            let rating = item.ecosystem_specific?.rating.flatMap(Severity.init(rating:))
                ?? item.database_specific?.rating.flatMap(Severity.init(rating:))
            var entry = AffectedEntry(versions: versions, ranges: ranges)
            // Only what differs from the advisory's own severity is kept with the entry.
            if let cvss, cvss.vector != advisoryCVSS?.vector {
                entry.severity = Severity(score: cvss.score)
                entry.score = cvss.score
                entry.vector = cvss.vector
            } else if cvss == nil, let rating, rating != advisoryRating {
                entry.severity = rating
            }
            affected.append(Affected(ecosystem: ecosystem, name: Self.normalisedName(name, ecosystem: parsed.name), entry: entry))
        }

        let severity = advisoryCVSS.map { Severity(score: $0.score) } ?? advisoryRating ?? .unknown
        advisory = Advisory(
            id: id,
            aliases: Array((record.aliases ?? []).filter { $0.utf8.count <= Self.maximumIDLength }.prefix(Self.keptAliases)),
            summary: record.summary.map { Self.bounded($0, Self.maximumSummaryLength) },
            severity: severity,
            score: advisoryCVSS?.score,
            vector: advisoryCVSS?.vector,
            published: record.published,
            modified: modified,
            references: Self.references(record.references ?? []))
    }

    static func oversized(_ file: String, size: Int) -> ScanError {
        .invalid("\(file): \(size) bytes, more than the \(maximumFileSize >> 20) MiB an OSV file may have")
    }

    /// How matching spells a package's name: PyPI's names as PEP 503 normalises them
    /// (`Foo_Bar.baz` → `foo-bar-baz`); other ecosystems' exactly as written.
    static func normalisedName(_ name: String, ecosystem: String) -> String {
        guard ecosystem == "PyPI" else { return name }
        var result = ""
        var inSeparator = false
        for character in name.lowercased() {
            if character == "-" || character == "_" || character == "." {
                if !inSeparator { result.append("-") }
                inSeparator = true
            } else {
                result.append(character)
                inSeparator = false
            }
        }
        return result
    }

    private static func range(_ range: OSVRange, field: String, file: String) throws(ScanError) -> VersionRange? {
        func fail(_ what: String) -> ScanError { .invalid("\(file): \(field): \(what)") }
        guard let type = range.type else { throw fail("type missing; expected ECOSYSTEM, SEMVER or GIT") }
        guard ["ECOSYSTEM", "SEMVER", "GIT"].contains(type) else {
            throw fail("type \(quoted(type)) is not a range type (expected ECOSYSTEM, SEMVER or GIT)")
        }
        guard let events = range.events, !events.isEmpty else { throw fail("events missing; a range has at least an introduced event") }
        var kept: [RangeEvent] = []
        for (index, event) in events.enumerated() {
            guard event.kinds.count == 1 else {
                throw .invalid("\(file): \(field).events[\(index)]: " + (event.kinds.isEmpty
                    ? "none of introduced, fixed, last_affected, limit"
                    : "has \(event.kinds.map(\.0.osv).joined(separator: " and ")); an event has exactly one of introduced, fixed, last_affected, limit"))
            }
            let (kind, version) = event.kinds[0]
            guard !version.isEmpty, version.utf8.count <= maximumVersionLength else {
                throw .invalid("\(file): \(field).events[\(index)].\(kind.osv): expected a version of 1 to \(maximumVersionLength) characters")
            }
            kept.append(RangeEvent(kind: kind, version: version))
        }
        guard kept.contains(where: { $0.kind == .introduced }) else { throw fail("no introduced event; a range has at least one") }
        return type == "GIT" ? nil : VersionRange(semver: type == "SEMVER", events: kept)
    }

    /// The first CVSS v3 vector of a severity list, with its base score.
    private static func cvss(_ list: [OSVSeverity]?, field: String, file: String) throws(ScanError) -> (score: Double, vector: String)? {
        for (index, item) in (list ?? []).enumerated() where item.type == "CVSS_V3" {
            do {
                return (try CVSS.baseScore(vector: item.score), item.score)
            } catch {
                throw .invalid("\(file): \(field)[\(index)].score: \(error)")
            }
        }
        return nil
    }

    /// The advisory's own pages first (ADVISORY), then the rest, as OSV orders them.
    private static func references(_ list: [OSVReference]) -> [String] {
        let urls = list.filter { $0.type == "ADVISORY" } + list.filter { $0.type != "ADVISORY" }
        return Array(urls.compactMap(\.url).filter { $0.utf8.count <= 2048 }.prefix(keptReferences))
    }

    private static func bounded(_ text: String, _ limit: Int) -> String {
        text.count <= limit ? text : String(text.prefix(limit - 1)) + "…"
    }

    /// An RFC 3339 time in microseconds since 1970 (fractions beyond them dropped).
    static func microseconds(_ text: String, field: String, file: String) throws(ScanError) -> Int64 {
        let seconds: Int64
        do {
            seconds = try TrustTime(rfc3339: text).seconds
        } catch {
            throw .invalid("\(file): \(field): \(quoted(text)) is not an RFC 3339 time (expected 2024-03-29T15:00:00Z)")
        }
        var micros: Int64 = 0
        if let dot = text.utf8.firstIndex(of: UInt8(ascii: ".")) {
            var digits = 0
            for byte in text.utf8[text.utf8.index(after: dot)...] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { break }
                if digits < 6 { micros = micros * 10 + Int64(byte - UInt8(ascii: "0")) }
                digits += 1
            }
            for _ in min(digits, 6)..<6 { micros *= 10 }
        }
        return seconds * 1_000_000 + micros
    }

    /// `DecodingError` as one line: the field's path in the file, and what was wrong.
    private static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            var text = ""
            for key in keys {
                if let index = key.intValue { text += "[\(index)]" } else { text += (text.isEmpty ? "" : ".") + key.stringValue }
            }
            return text.isEmpty ? "the file" : text
        }
        switch error {
        case .typeMismatch(let type, let context):
            return "\(path(context.codingPath)): expected \(type == String.self ? "a string" : Self.name(of: type))"
        case .valueNotFound(let type, let context):
            return "\(path(context.codingPath)): null where \(type == String.self ? "a string" : Self.name(of: type)) was expected"
        case .keyNotFound(let key, let context):
            return "\(path(context.codingPath + [key])): missing"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "not JSON (\(oneLine(context.debugDescription, limit: 200)))" : "\(path(context.codingPath)): \(oneLine(context.debugDescription, limit: 200))"
        @unknown default:
            return "not an OSV record"
        }
    }

    private static func name(of type: Any.Type) -> String {
        if type is [Any].Type { return "an array" }
        if type is [String: Any].Type { return "an object" }
        return "another kind of value"
    }
}

/// The ecosystems OSV defines, from osv-schema's `ecosystems.json` (ossf/osv-schema at
/// 51b8156, October 2025). A name outside this list is not OSV; a name inside it that
/// `Ecosystem.scheme` does not know is counted as unsupported.
enum OSVEcosystems {
    static let defined: Set<String> = [
        "AlmaLinux", "Alpaquita", "Alpine", "Android", "Azure Linux", "BellSoft Hardened Containers", "Bioconductor",
        "Bitnami", "Chainguard", "CleanStart", "ConanCenter", "CRAN", "crates.io", "Debian", "Docker Hardened Images",
        "Echo", "FreeBSD", "GHC", "GitHub Actions", "Go", "Hackage", "Hex", "Julia", "Kubernetes", "Linux", "Mageia",
        "Maven", "MinimOS", "npm", "NuGet", "opam", "openEuler", "openSUSE", "OSS-Fuzz", "Packagist", "Photon OS",
        "Pub", "PyPI", "Red Hat", "Rocky Linux", "Root", "RubyGems", "SUSE", "SwiftURL", "TuxCare", "Ubuntu",
        "VSCode", "Wolfi",
        // Named by earlier schema versions, still in older exports.
        "GSD", "UVI",
    ]
}

/// `"text"` for an error line: at most `limit` characters, control characters escaped, so
/// that a value from a file can never break the line or fill a screen.
func quoted(_ text: some StringProtocol, limit: Int = 80) -> String {
    "\"" + oneLine(text, limit: limit) + "\""
}

func oneLine(_ text: some StringProtocol, limit: Int) -> String {
    var result = ""
    for (index, scalar) in text.unicodeScalars.enumerated() {
        if index == limit {
            result += "…"
            break
        }
        result += scalar.value < 0x20 || scalar.value == 0x7f ? scalar.escaped(asASCII: true) : String(scalar)
    }
    return result
}
