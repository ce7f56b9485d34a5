/// What a scan of one image or container found, and what it was found with: the report
/// every format is written from.
///
/// Its `Codable` form is the `--format json` report, a stable shape (version 1) that
/// decodes back into a `ScanReport`. Keys are sorted; a key whose value is unknown is
/// left out rather than null; arrays are in the order of the report:
///
///     {
///       "formatVersion": 1,
///       "target": "debian:12",                 // what was scanned
///       "imageID": "sha256:…",                 // absent for a container's rootfs
///       "os": {"id": "debian", "versionID": "12", "prettyName": "Debian GNU/Linux 12 (bookworm)"},
///       "database": {"version": "…", "updated": "2026-12-01T08:00:00Z"},
///       "summary": {                           // written for readers, ignored when read
///         "vulnerabilities": 3,                // findings reported (not ignored)
///         "severities": {"CRITICAL": 0, "HIGH": 2, "LOW": 0, "MEDIUM": 1, "UNKNOWN": 0},
///         "affectedPackages": 2, "packages": 241, "ignored": 1
///       },
///       "findings": [FINDING, …],
///       "ignored": [FINDING with "ignoredBy": {"id": "CVE-…", "expires": "2026-03-01", "reason": "…", "line": 4}, …],
///       "packages": [PACKAGE, …],             // the whole inventory
///       "skipped": ["var/lib/dpkg/status: entry 12 (\"libfoo\"): no Version field", …]
///     }
///
/// FINDING: `{"package": PACKAGE, "advisory": ADVISORY, "fixedVersion": "2.36-9+deb12u3",
/// "ecosystem": "Debian:12"}` (no `fixedVersion` when there is no fix).
/// ADVISORY: `{"id", "aliases": […], "summary", "severity": "HIGH", "score": 7.8,
/// "vector": "CVSS:3.1/…", "published", "modified", "references": […]}`; severity is one of
/// CRITICAL, HIGH, MEDIUM, LOW, UNKNOWN.
/// PACKAGE: `{"kind": "dpkg", "name", "version", "sourceName", "sourceVersion",
/// "architecture", "location": "var/lib/dpkg/status", "layer": "sha256:…",
/// "purl": "pkg:deb/debian/libc6@…"}`; kind is one of dpkg, apk, rpm, python, npm, go;
/// `purl` is written for readers and recomputed, not read.
public struct ScanReport: Sendable, Codable {
    /// What was scanned: `alpine:3.19`, a container's name.
    public var target: String
    public var imageID: String?
    public var os: OSRelease?
    public var findings: [Finding]
    /// Findings the ignore file set aside, kept so the JSON and SARIF reports can say so.
    public var ignored: [Finding]
    /// The ignore-file entry that set each ignored finding aside, by advisory id.
    public var ignoredBy: [String: IgnoreFile.Entry]
    public var inventory: Inventory
    public var databaseVersion: String
    /// RFC 3339.
    public var databaseUpdated: String?

    public init(target: String, imageID: String? = nil, os: OSRelease? = nil, findings: [Finding], ignored: [Finding] = [],
                ignoredBy: [String: IgnoreFile.Entry] = [:], inventory: Inventory, databaseVersion: String, databaseUpdated: String? = nil) {
        self.target = target
        self.imageID = imageID
        self.os = os
        self.findings = findings
        self.ignored = ignored
        self.ignoredBy = ignoredBy
        self.inventory = inventory
        self.databaseVersion = databaseVersion
        self.databaseUpdated = databaseUpdated
    }

    /// How many findings of each severity were reported.
    public var severityCounts: [Severity: Int] {
        var counts: [Severity: Int] = [:]
        for severity in Severity.allCases { counts[severity] = 0 }
        for finding in findings { counts[finding.advisory.severity, default: 0] += 1 }
        return counts
    }

    /// The worst severity reported; nil when nothing was.
    public var worstSeverity: Severity? { findings.map(\.advisory.severity).max() }

    /// How many distinct packages have at least one finding.
    public var affectedPackageCount: Int { Set(findings.map(\.package)).count }

    public init(from decoder: any Decoder) throws {
        let document = try ReportJSON(from: decoder)
        guard document.formatVersion == 1 else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "formatVersion \(document.formatVersion): expected 1"))
        }
        var ignoredBy: [String: IgnoreFile.Entry] = [:]
        for finding in document.ignored { if let entry = finding.ignoredBy { ignoredBy[finding.advisory.id] = entry } }
        self.init(target: document.target, imageID: document.imageID, os: document.os,
                  findings: try document.findings.map { try $0.finding() }, ignored: try document.ignored.map { try $0.finding() },
                  ignoredBy: ignoredBy,
                  inventory: Inventory(os: document.os, packages: document.packages.map(\.package), skipped: document.skipped),
                  databaseVersion: document.database.version, databaseUpdated: document.database.updated)
    }

    public func encode(to encoder: any Encoder) throws {
        try ReportJSON(self).encode(to: encoder)
    }
}

/// The JSON shape of `ScanReport` (see there).
struct ReportJSON: Codable {
    struct Database: Codable {
        var version: String
        var updated: String?
    }

    struct Summary: Codable {
        var vulnerabilities: Int
        var severities: [String: Int]
        var affectedPackages: Int
        var packages: Int
        var ignored: Int
    }

    var formatVersion: Int
    var target: String
    var imageID: String?
    var os: OSRelease?
    var database: Database
    var summary: Summary?
    var findings: [ReportFindingJSON]
    var ignored: [ReportFindingJSON]
    var packages: [ReportPackageJSON]
    var skipped: [String]

    init(_ report: ScanReport) {
        let os = report.os ?? report.inventory.os
        formatVersion = 1
        target = report.target
        imageID = report.imageID
        self.os = os
        database = Database(version: report.databaseVersion, updated: report.databaseUpdated)
        var severities: [String: Int] = [:]
        for (severity, count) in report.severityCounts { severities[severity.name] = count }
        summary = Summary(vulnerabilities: report.findings.count, severities: severities, affectedPackages: report.affectedPackageCount,
                          packages: report.inventory.packages.count, ignored: report.ignored.count)
        findings = report.findings.map { ReportFindingJSON($0, os: os, ignoredBy: nil) }
        ignored = report.ignored.map { ReportFindingJSON($0, os: os, ignoredBy: report.ignoredBy[$0.advisory.id]) }
        packages = report.inventory.packages.map { ReportPackageJSON($0, os: os) }
        skipped = report.inventory.skipped
    }
}

struct ReportFindingJSON: Codable {
    var package: ReportPackageJSON
    var advisory: ReportAdvisoryJSON
    var fixedVersion: String?
    var ecosystem: String
    var ignoredBy: IgnoreFile.Entry?

    init(_ finding: Finding, os: OSRelease?, ignoredBy: IgnoreFile.Entry?) {
        package = ReportPackageJSON(finding.package, os: os)
        advisory = ReportAdvisoryJSON(finding.advisory)
        fixedVersion = finding.fixedVersion
        ecosystem = finding.ecosystem
        self.ignoredBy = ignoredBy
    }

    func finding() throws -> Finding {
        Finding(package: package.package, advisory: try advisory.advisory(), fixedVersion: fixedVersion, ecosystem: ecosystem)
    }
}

struct ReportAdvisoryJSON: Codable {
    var id: String
    var aliases: [String]
    var summary: String?
    var severity: String
    var score: Double?
    var vector: String?
    var published: String?
    var modified: String
    var references: [String]

    init(_ advisory: Advisory) {
        id = advisory.id
        aliases = advisory.aliases
        summary = advisory.summary
        severity = advisory.severity.name
        score = advisory.score.reportableScore
        vector = advisory.vector
        published = advisory.published
        modified = advisory.modified
        references = advisory.references
    }

    func advisory() throws -> Advisory {
        guard let rating = Severity(rating: severity) else {
            throw DecodingError.dataCorrupted(.init(
                codingPath: [], debugDescription: "advisory \(id): severity \"\(severity)\": expected CRITICAL, HIGH, MEDIUM, LOW or UNKNOWN"))
        }
        return Advisory(id: id, aliases: aliases, summary: summary, severity: rating, score: score, vector: vector,
                        published: published, modified: modified, references: references)
    }
}

struct ReportPackageJSON: Codable {
    var kind: InstalledPackage.Kind
    var name: String
    var version: String
    var sourceName: String?
    var sourceVersion: String?
    var architecture: String?
    var location: String
    var layer: String?
    var purl: String?

    init(_ package: InstalledPackage, os: OSRelease?) {
        kind = package.kind
        name = package.name
        version = package.version
        sourceName = package.sourceName
        sourceVersion = package.sourceVersion
        architecture = package.architecture
        location = package.location
        layer = package.layer
        purl = package.purl(os: os)
    }

    var package: InstalledPackage {
        InstalledPackage(kind: kind, name: name, version: version, sourceName: sourceName, sourceVersion: sourceVersion,
                         architecture: architecture, location: location, layer: layer)
    }
}

extension Optional where Wrapped == Double {
    /// A score JSON can carry: NaN or infinity (which no CVSS formula gives) is left out
    /// rather than making the whole report unencodable.
    var reportableScore: Double? { flatMap { $0.isFinite ? $0 : nil } }
}
