/// What a scan reports of what it found: findings below a severity and findings without a
/// fix are left out, and what the ignore file names is set aside (kept, with the reason, for
/// the JSON and SARIF reports).
public struct FindingFilter: Sendable {
    /// The lowest severity reported; `.unknown` reports everything.
    public var minimum: Severity
    /// Leave out findings without a fixed version (nothing to upgrade to yet).
    public var ignoreUnfixed: Bool
    public var ignoreFile: IgnoreFile?
    /// The day ignore-file expiries are compared with.
    public var today: CalendarDay

    public init(minimum: Severity = .unknown, ignoreUnfixed: Bool = false, ignoreFile: IgnoreFile? = nil,
                today: CalendarDay = .today()) {
        self.minimum = minimum
        self.ignoreUnfixed = ignoreUnfixed
        self.ignoreFile = ignoreFile
        self.today = today
    }

    /// The findings at or above `minimum` (and with a fix, when asked) split into those
    /// the ignore file does not name and those it does; order is kept. Severity and fix
    /// come first, as in Trivy, so `ignored` holds only what would have been reported.
    public func apply(_ findings: [Finding]) -> (kept: [Finding], ignored: [Finding]) {
        var kept: [Finding] = [], ignored: [Finding] = []
        for finding in findings where finding.advisory.severity >= minimum && !(ignoreUnfixed && finding.fixedVersion == nil) {
            if let ignoreFile, ignoreFile.ignores(finding, today: today) {
                ignored.append(finding)
            } else {
                kept.append(finding)
            }
        }
        return (kept, ignored)
    }

    /// `report` with its findings filtered: the ignored ones moved to `ignored` and their
    /// ignore-file entries to `ignoredBy`.
    public func apply(to report: ScanReport) -> ScanReport {
        var out = report
        let (kept, ignored) = apply(report.findings)
        out.findings = kept
        out.ignored = report.ignored + ignored
        if let ignoreFile {
            for finding in ignored {
                if let entry = ignoreFile.entry(for: finding, today: today) { out.ignoredBy[finding.advisory.id] = entry }
            }
        }
        return out
    }
}
