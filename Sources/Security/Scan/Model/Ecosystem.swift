/// An OSV ecosystem (`Debian:12`, `Alpine:v3.19`, `PyPI`): its name, the release a
/// distribution's advisories are for, and how its versions are ordered.
public struct Ecosystem: Hashable, Sendable, Codable, CustomStringConvertible {
    /// OSV's name without the release: `Debian`, `Alpine`, `Red Hat`, `PyPI`, `npm`, `Go`.
    public var name: String
    /// `12` of `Debian:12`, `v3.19` of `Alpine:v3.19`, `22.04:LTS` of `Ubuntu:22.04:LTS`;
    /// nil when the advisory is for every release.
    public var release: String?

    public init(name: String, release: String? = nil) {
        self.name = name
        self.release = release
    }

    /// `Debian:12` → Debian, 12.
    public init(osv: String) {
        if let colon = osv.firstIndex(of: ":") {
            name = String(osv[..<colon])
            release = String(osv[osv.index(after: colon)...])
        } else {
            name = osv
            release = nil
        }
    }

    public var description: String { release.map { "\(name):\($0)" } ?? name }

    /// The order of its versions; nil for an ecosystem netctl does not scan (Maven, NuGet…).
    public var scheme: VersionScheme? { Self.schemes[name] }

    static let schemes: [String: VersionScheme] = [
        "Debian": .debian, "Ubuntu": .debian,
        "Alpine": .apk, "Wolfi": .apk, "Chainguard": .apk,
        "Red Hat": .rpm, "Rocky Linux": .rpm, "AlmaLinux": .rpm, "openSUSE": .rpm, "SUSE": .rpm,
        "Mageia": .rpm, "openEuler": .rpm,
        "PyPI": .pep440,
        "npm": .semver, "crates.io": .semver,
        // OSV's Go records write versions without Go's `v` (the Go vulnerability database's
        // SEMVER ranges and GitHub's ECOSYSTEM ones alike: `fixed: 0.33.0`), while binaries
        // name modules `v0.30.0` and stdlib `1.19.8`. SemVer reads both forms and orders the
        // versions binaries hold (pseudo-versions, `+incompatible`) as Go does; Go's own
        // scheme, which requires the `v`, would call every such event unreadable.
        "Go": .semver,
    ]
}
