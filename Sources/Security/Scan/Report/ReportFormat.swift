/// How `netctl scan` writes its findings (`--format`).
public enum ReportFormat: String, CaseIterable, Sendable {
    /// For people: grouped by package, worst first, with a summary line.
    case table
    /// `ScanReport`'s own stable shape (documented on `ScanReport`).
    case json
    /// SARIF 2.1.0, for code-scanning dashboards (GitHub, GitLab, Azure DevOps).
    case sarif
    /// A CycloneDX 1.6 BOM with its `vulnerabilities`.
    case cyclonedx
}

/// How `netctl scan --list-packages` writes the inventory.
public enum PackageListFormat: String, CaseIterable, Sendable {
    case table
    /// `{"formatVersion": 1, "target", "imageID", "os", "packages": [PACKAGE…], "skipped"}`,
    /// PACKAGE as in the scan report; it decodes as an `Inventory`.
    case json
    /// A CycloneDX 1.6 SBOM.
    case cyclonedx
}

/// The tool SARIF and CycloneDX name as the report's author.
public struct ReportTool: Hashable, Sendable {
    public var name: String
    public var version: String
    /// The tool's home page, when it has one to name (SARIF's informationUri, CycloneDX's
    /// website reference); left out otherwise.
    public var informationURI: String?

    public init(name: String, version: String, informationURI: String? = nil) {
        self.name = name
        self.version = version
        self.informationURI = informationURI
    }

    /// The CLI should pass its own version (the one `--version` prints) rather than rely on this.
    public static let netctl = ReportTool(name: "netctl", version: "0.1.0")
}
