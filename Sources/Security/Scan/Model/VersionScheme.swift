/// How versions of an ecosystem are ordered: each scheme is written to its own rules
/// (Versions/), and `compare` picks one.
public enum VersionScheme: String, Sendable, Codable, CaseIterable {
    /// dpkg: epoch, upstream, revision, `~` before everything (Debian, Ubuntu).
    case debian
    /// apk-tools: digits, letters, suffixes (`_alpha` … `_p`), `-rN` (Alpine, Wolfi).
    case apk
    /// rpmvercmp with `~` and `^`, over epoch:version-release (Red Hat, Rocky, AlmaLinux, SUSE…).
    case rpm
    /// PEP 440 (PyPI).
    case pep440
    /// SemVer 2.0.0 (npm, crates.io, and OSV's SEMVER ranges).
    case semver
    /// Go modules: semver with a `v`, `+incompatible`, pseudo-versions.
    case go

    /// -1, 0 or 1 as `a` is lower than, equal to or higher than `b`; nil when either is not
    /// a version in this scheme (a PEP 440 legacy version, a Go version without `v`).
    public func compare(_ a: String, _ b: String) -> Int? {
        switch self {
        case .debian: DebianVersion.compare(a, b)
        case .apk: APKVersion.compare(a, b)
        case .rpm: RPMVersion.compare(a, b)
        case .pep440: PEP440Version.compare(a, b)
        case .semver: SemanticVersion.compare(a, b)
        case .go: GoVersion.compare(a, b)
        }
    }
}
