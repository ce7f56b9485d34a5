/// Inventory × advisories: which advisories apply to which installed package, in the
/// ecosystem each package belongs to.
public enum VulnerabilityScanner {
    /// Every finding for `inventory`, worst first. Packages that share a query (the binary
    /// packages of one Debian source package) ask the database once.
    public static func findings(in inventory: Inventory, database: AdvisoryDatabase) throws(ScanError) -> [Finding] {
        var answers: [Query: [AdvisoryMatch]] = [:]
        var findings: [Finding] = []
        for package in inventory.packages {
            guard let query = query(for: package, os: inventory.os) else { continue }
            let matches: [AdvisoryMatch]
            if let known = answers[query] {
                matches = known
            } else {
                matches = try database.matches(ecosystem: query.ecosystem, package: query.name, version: query.version)
                answers[query] = matches
            }
            for match in matches {
                findings.append(Finding(package: package, advisory: match.advisory, fixedVersion: match.fixedVersion,
                                        ecosystem: query.ecosystem.description))
            }
        }
        return findings.sorted(by: worstFirst)
    }

    /// Severity, then score, then id, then package: the order of reports and of a policy's refusal.
    public static func worstFirst(_ a: Finding, _ b: Finding) -> Bool {
        if a.advisory.severity != b.advisory.severity { return a.advisory.severity > b.advisory.severity }
        if (a.advisory.score ?? 0) != (b.advisory.score ?? 0) { return (a.advisory.score ?? 0) > (b.advisory.score ?? 0) }
        if a.advisory.id != b.advisory.id { return a.advisory.id < b.advisory.id }
        return (a.package.name, a.package.version) < (b.package.name, b.package.version)
    }

    struct Query: Hashable {
        var ecosystem: Ecosystem
        var name: String
        var version: String
    }

    /// What to ask about a package. Distributions publish advisories per source package and
    /// release (`Debian:12` glibc, not libc6), so an OS package is asked about by its
    /// source's name and version in its release's ecosystem; language packages by their own.
    static func query(for package: InstalledPackage, os: OSRelease?) -> Query? {
        switch package.kind {
        case .dpkg:
            let ecosystem = os.flatMap(debianEcosystem) ?? Ecosystem(name: "Debian")
            return Query(ecosystem: ecosystem, name: package.sourceName ?? package.name,
                         version: package.sourceVersion ?? package.version)
        case .apk:
            // Alpine's releases are `v3.19`: the major and minor of VERSION_ID (3.19.1).
            let release = os.flatMap { $0.id == "alpine" ? $0.versionID : nil }.map { "v" + majorMinor($0) }
            return Query(ecosystem: Ecosystem(name: "Alpine", release: release), name: package.sourceName ?? package.name,
                         version: package.version)
        case .rpm:
            guard let os, let name = rpmEcosystems[os.id] else { return nil }
            let release = os.versionID.map { String($0.prefix { $0 != "." }) }
            return Query(ecosystem: Ecosystem(name: name, release: release), name: package.name, version: package.version)
        case .python:
            return Query(ecosystem: Ecosystem(name: "PyPI"), name: package.name, version: package.version)
        case .npm:
            return Query(ecosystem: Ecosystem(name: "npm"), name: package.name, version: package.version)
        case .go:
            return Query(ecosystem: Ecosystem(name: "Go"), name: package.name, version: package.version)
        }
    }

    /// `Debian:12` (VERSION_ID 12), `Ubuntu:22.04:LTS` (OSV marks LTS releases so).
    static func debianEcosystem(_ os: OSRelease) -> Ecosystem? {
        switch os.id {
        case "debian":
            return Ecosystem(name: "Debian", release: os.versionID.map { String($0.prefix { $0 != "." }) })
        case "ubuntu":
            guard let version = os.versionID else { return Ecosystem(name: "Ubuntu") }
            let parts = version.split(separator: ".")
            let lts = parts.count == 2 && parts[1] == "04" && (Int(parts[0]) ?? 1) % 2 == 0
            return Ecosystem(name: "Ubuntu", release: lts ? "\(version):LTS" : version)
        default:
            return nil
        }
    }

    static func majorMinor(_ version: String) -> String {
        version.split(separator: ".").prefix(2).joined(separator: ".")
    }

    /// os-release IDs of RPM distributions and their OSV ecosystems.
    static let rpmEcosystems: [String: String] = [
        "rhel": "Red Hat", "rocky": "Rocky Linux", "almalinux": "AlmaLinux",
        "opensuse-leap": "openSUSE", "opensuse-tumbleweed": "openSUSE", "sles": "SUSE",
        "mageia": "Mageia", "openEuler": "openEuler",
    ]
}
