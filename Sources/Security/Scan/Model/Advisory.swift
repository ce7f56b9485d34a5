/// How bad a vulnerability is, lowest first (CVSS v3's qualitative ratings).
public enum Severity: Int, Comparable, Hashable, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case unknown, low, medium, high, critical

    public static func < (a: Severity, b: Severity) -> Bool { a.rawValue < b.rawValue }

    public var name: String {
        switch self {
        case .unknown: "UNKNOWN"
        case .low: "LOW"
        case .medium: "MEDIUM"
        case .high: "HIGH"
        case .critical: "CRITICAL"
        }
    }

    public var description: String { name }

    /// `high`, `HIGH`, and the words databases use (GitHub's `MODERATE`, Debian's and
    /// Ubuntu's `important`, `negligible`).
    public init?(rating: String) {
        switch rating.lowercased() {
        case "critical": self = .critical
        case "high", "important": self = .high
        case "medium", "moderate": self = .medium
        case "low", "negligible", "unimportant": self = .low
        case "unknown", "none": self = .unknown
        default: return nil
        }
    }

    /// CVSS v3.x: 0.1–3.9 low, 4.0–6.9 medium, 7.0–8.9 high, 9.0–10.0 critical.
    public init(score: Double) {
        self = score >= 9 ? .critical : score >= 7 ? .high : score >= 4 ? .medium : score > 0 ? .low : .unknown
    }
}

/// An OSV advisory as the database keeps it for reports: what is needed to say what it is
/// and how bad, not the whole record.
public struct Advisory: Hashable, Sendable, Codable {
    public var id: String
    public var aliases: [String]
    public var summary: String?
    public var severity: Severity
    /// The CVSS v3 base score, when the advisory gives a vector.
    public var score: Double?
    /// `CVSS:3.1/AV:N/AC:L/…`
    public var vector: String?
    /// RFC 3339, as OSV gives them.
    public var published: String?
    public var modified: String
    /// A few reference URLs (the advisory's own first).
    public var references: [String]

    public init(id: String, aliases: [String] = [], summary: String? = nil, severity: Severity = .unknown,
                score: Double? = nil, vector: String? = nil, published: String? = nil, modified: String,
                references: [String] = []) {
        self.id = id
        self.aliases = aliases
        self.summary = summary
        self.severity = severity
        self.score = score
        self.vector = vector
        self.published = published
        self.modified = modified
        self.references = references
    }
}

/// One advisory that applies to one installed package.
public struct Finding: Hashable, Sendable, Codable {
    public var package: InstalledPackage
    public var advisory: Advisory
    /// The lowest fixed version above the installed one, when there is one (what to
    /// upgrade to); nil when the advisory has no fix (yet).
    public var fixedVersion: String?
    /// The ecosystem the match was made in (`Debian:12`, `PyPI`).
    public var ecosystem: String

    public init(package: InstalledPackage, advisory: Advisory, fixedVersion: String?, ecosystem: String) {
        self.package = package
        self.advisory = advisory
        self.fixedVersion = fixedVersion
        self.ecosystem = ecosystem
    }
}
