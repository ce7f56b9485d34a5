/// OSV's evaluation of one `affected[]` entry against an installed version, exactly as the
/// schema's "Evaluation" section writes it (`IsVulnerable`, `IncludedInVersions`,
/// `IncludedInRanges`, `BeforeLimits`): ECOSYSTEM ranges in the ecosystem's scheme, SEMVER
/// ranges in SemVer. A comparison the scheme cannot make (a version that is not one of
/// its versions) is false, so an event the scheme cannot read changes nothing, and an
/// installed version the scheme cannot read is affected only when `versions[]` lists it.
extension AffectedEntry {
    /// Whether `version` is affected, and the lowest `fixed` above it when it is.
    func evaluate(_ version: String, scheme: VersionScheme) -> (affected: Bool, fixed: String?) {
        var affectedBy: [VersionRange] = []
        for range in ranges where Self.includedInRange(version, range, scheme: range.semver ? .semver : scheme) {
            affectedBy.append(range)
        }
        guard !affectedBy.isEmpty || versions.contains(version) else { return (false, nil) }
        // Listed in versions[] only: any range's fix above it is still the one to take.
        return (true, Self.lowestFix(above: version, in: affectedBy.isEmpty ? ranges : affectedBy, scheme: scheme))
    }

    static func includedInRange(_ v: String, _ range: VersionRange, scheme: VersionScheme) -> Bool {
        // A version the scheme cannot read is in no range of it: `introduced: 0` alone
        // would otherwise call it affected and never fixed.
        guard scheme.compare(v, v) != nil, beforeLimits(v, range, scheme: scheme) else { return false }
        var vulnerable = false
        for event in sorted(range.events, scheme: scheme) {
            switch event.kind {
            case .introduced:
                if atLeast(v, event.version, scheme: scheme) { vulnerable = true }
            case .fixed:
                if atLeast(v, event.version, scheme: scheme) { vulnerable = false }
            case .lastAffected:
                if scheme.compare(v, event.version) == 1 { vulnerable = false }
            case .limit:
                break
            }
        }
        return vulnerable
    }

    static func beforeLimits(_ v: String, _ range: VersionRange, scheme: VersionScheme) -> Bool {
        var limited = false
        for event in range.events where event.kind == .limit {
            limited = true
            // `*` is infinity: every version is below it.
            if event.version.contains("*") || scheme.compare(v, event.version) == -1 { return true }
        }
        return !limited
    }

    /// `v >= event`, with an introduced `0` below every version.
    private static func atLeast(_ v: String, _ event: String, scheme: VersionScheme) -> Bool {
        if event == "0" { return true }
        guard let order = scheme.compare(v, event) else { return false }
        return order >= 0
    }

    /// `sorted(range.events)`: by version, `0` lowest; a stable insertion sort, so events
    /// of equal versions (or that the scheme cannot order) keep the file's order. Ranges
    /// have a handful of events.
    static func sorted(_ events: [RangeEvent], scheme: VersionScheme) -> [RangeEvent] {
        func lower(_ a: RangeEvent, _ b: RangeEvent) -> Bool {
            if a.version == "0", a.kind == .introduced { return !(b.version == "0" && b.kind == .introduced) }
            if b.version == "0", b.kind == .introduced { return false }
            return scheme.compare(a.version, b.version) == -1
        }
        var result = events
        guard result.count > 1 else { return result }
        for index in 1..<result.count {
            let event = result[index]
            var slot = index
            while slot > 0, lower(event, result[slot - 1]) {
                result[slot] = result[slot - 1]
                slot -= 1
            }
            result[slot] = event
        }
        return result
    }

    private static func lowestFix(above v: String, in ranges: [VersionRange], scheme: VersionScheme) -> String? {
        var best: (version: String, scheme: VersionScheme)?
        for range in ranges {
            let rangeScheme = range.semver ? VersionScheme.semver : scheme
            for event in range.events where event.kind == .fixed && rangeScheme.compare(event.version, v) == 1 {
                if let current = best, current.scheme.compare(event.version, current.version) != -1 { continue }
                best = (event.version, rangeScheme)
            }
        }
        return best?.version
    }
}
