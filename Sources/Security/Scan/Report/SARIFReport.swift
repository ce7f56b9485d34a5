/// The scan as a SARIF 2.1.0 log (OASIS, sarif-schema-2.1.0.json), the form code-scanning
/// dashboards take: one run, one rule per advisory, one result per finding at the
/// package's file. Findings the ignore file set aside are results too, with an accepted
/// external suppression carrying the reason, so a dashboard shows them as dismissed
/// rather than forgetting them.
enum SARIFReport {
    static let schema = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
    /// Locations are relative to the scanned root filesystem.
    static let rootBase = "ROOTPATH"

    static func log(_ report: ScanReport, tool: ReportTool) -> Log {
        let os = report.os ?? report.inventory.os
        let reported = report.findings.sorted(by: resultOrder)
        let ignored = report.ignored.sorted(by: resultOrder)
        var advisories: [String: Advisory] = [:]
        for finding in reported + ignored where advisories[finding.advisory.id] == nil { advisories[finding.advisory.id] = finding.advisory }
        let ruleIDs = advisories.keys.sorted()
        let ruleIndex = Dictionary(uniqueKeysWithValues: ruleIDs.enumerated().map { ($1, $0) })
        let rules = ruleIDs.map { rule(advisories[$0]!) }
        var results = reported.map { result($0, ruleIndex: ruleIndex[$0.advisory.id]!, os: os, suppression: nil) }
        results += ignored.map { finding in
            let entry = report.ignoredBy[finding.advisory.id]
            let justification = entry.map { entry in
                "ignore file line \(entry.line) (\(entry.id)" + (entry.expires.map { ", until \($0)" } ?? "") + ")"
                    + (entry.reason.map { ": \($0)" } ?? "")
            }
            return result(finding, ruleIndex: ruleIndex[finding.advisory.id]!, os: os,
                          suppression: Suppression(kind: "external", status: "accepted", justification: justification ?? "ignore file"))
        }
        let run = Run(
            tool: Tool(driver: Driver(name: tool.name, version: tool.version, informationUri: tool.informationURI, rules: rules)),
            originalUriBaseIds: [rootBase: ArtifactLocation(uri: "file:///", uriBaseId: nil,
                                                            description: Message(text: "The root filesystem of \(report.target)"))],
            results: results,
            properties: RunProperties(target: report.target, imageID: report.imageID, databaseVersion: report.databaseVersion,
                                      databaseUpdated: report.databaseUpdated,
                                      os: os.map { [$0.id, $0.versionID].compactMap { $0 }.joined(separator: " ") }))
        return Log(schema: schema, version: "2.1.0", runs: [run])
    }

    /// Worst first, then package and advisory, as the table reads.
    static func resultOrder(_ a: Finding, _ b: Finding) -> Bool {
        if a.advisory.severity != b.advisory.severity { return a.advisory.severity > b.advisory.severity }
        if a.package != b.package { return TableReport.packageOrder(a.package, b.package) }
        return TableReport.findingOrder(a, b)
    }

    static func rule(_ advisory: Advisory) -> Rule {
        let title = advisory.summary.map { "\(advisory.id): \($0)" } ?? advisory.id
        var text = [title, "Severity: \(severityText(advisory))"]
        var markdown = ["**\(advisory.id)**" + (advisory.summary.map { ": \(markdownEscaped($0))" } ?? ""), "",
                        "Severity: \(severityText(advisory))"]
        if !advisory.aliases.isEmpty {
            text.append("Aliases: \(advisory.aliases.joined(separator: ", "))")
            markdown.append("")
            markdown.append("Aliases: \(advisory.aliases.joined(separator: ", "))")
        }
        if !advisory.references.isEmpty {
            text.append("References: \(advisory.references.joined(separator: " "))")
            markdown.append("")
            markdown += advisory.references.map { "- <\($0)>" }
        }
        return Rule(
            id: advisory.id,
            shortDescription: Message(text: title),
            fullDescription: Message(text: advisory.summary ?? title),
            helpUri: helpURI(advisory),
            help: MultiformatMessage(text: text.joined(separator: "\n"), markdown: markdown.joined(separator: "\n")),
            defaultConfiguration: Configuration(level: level(advisory.severity)),
            properties: RuleProperties(securitySeverity: securitySeverity(advisory),
                                       tags: ["security", "vulnerability", advisory.severity.name], precision: "very-high"))
    }

    static func result(_ finding: Finding, ruleIndex: Int, os: OSRelease?, suppression: Suppression?) -> Result {
        let package = finding.package
        let fix = finding.fixedVersion.map { "fixed in \($0)" } ?? "no fixed version yet"
        let message = "\(package.name) \(package.version) is affected by \(finding.advisory.id) (\(severityText(finding.advisory))); \(fix)."
        return Result(
            ruleId: finding.advisory.id, ruleIndex: ruleIndex, level: level(finding.advisory.severity),
            message: Message(text: message),
            locations: [Location(physicalLocation: PhysicalLocation(
                artifactLocation: ArtifactLocation(uri: uriReference(package.location), uriBaseId: rootBase, description: nil),
                region: Region(startLine: 1)),
                message: Message(text: "\(package.name) \(package.version) (\(package.kind.rawValue)) in \(package.location)"))],
            suppressions: suppression.map { [$0] },
            properties: ResultProperties(package: package.name, installedVersion: package.version, fixedVersion: finding.fixedVersion,
                                         purl: package.purl(os: os), ecosystem: finding.ecosystem, layer: package.layer))
    }

    /// Critical and high fail a build, medium warns, the rest is a note.
    static func level(_ severity: Severity) -> String {
        switch severity {
        case .critical, .high: "error"
        case .medium: "warning"
        case .low, .unknown: "note"
        }
    }

    /// `HIGH 7.8` or `HIGH`.
    static func severityText(_ advisory: Advisory) -> String {
        advisory.score.reportableScore.map { "\(advisory.severity.name) \(oneDecimal($0))" } ?? advisory.severity.name
    }

    /// GitHub's `security-severity`, a CVSS score as a string; without a score, a value
    /// inside the advisory's rating band (as Trivy gives), none for an unknown rating.
    static func securitySeverity(_ advisory: Advisory) -> String? {
        if let score = advisory.score.reportableScore { return oneDecimal(score) }
        switch advisory.severity {
        case .critical: return "9.5"
        case .high: return "8.0"
        case .medium: return "5.5"
        case .low: return "2.0"
        case .unknown: return nil
        }
    }

    static func oneDecimal(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(abs(tenths % 10))"
    }

    /// The advisory's first web reference, else its OSV page.
    static func helpURI(_ advisory: Advisory) -> String {
        advisory.references.first { ($0.hasPrefix("https://") || $0.hasPrefix("http://")) && !$0.contains(where: \.isWhitespace) }
            ?? "https://osv.dev/vulnerability/\(PackageURL.encoded(advisory.id))"
    }

    /// A path of the root as a relative URI reference: reserved and non-ASCII bytes
    /// percent-encoded, `/` kept, and `:` encoded so a first segment cannot read as a scheme.
    static func uriReference(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: false).map { PackageURL.encoded($0).replacingColons }.joined(separator: "/")
    }

    static func markdownEscaped(_ text: String) -> String {
        var out = ""
        for character in text {
            if "\\`*_{}[]<>#|".contains(character) { out.append("\\") }
            out.append(character)
        }
        return out
    }

    // MARK: - The SARIF objects used (names as the schema spells them)

    struct Log: Encodable {
        var schema: String
        var version: String
        var runs: [Run]
        enum CodingKeys: String, CodingKey { case schema = "$schema", version, runs }
    }

    struct Run: Encodable {
        var tool: Tool
        var originalUriBaseIds: [String: ArtifactLocation]
        var results: [Result]
        var properties: RunProperties
    }

    struct RunProperties: Encodable {
        var target: String
        var imageID: String?
        var databaseVersion: String
        var databaseUpdated: String?
        var os: String?
    }

    struct Tool: Encodable { var driver: Driver }

    struct Driver: Encodable {
        var name: String
        var version: String
        var informationUri: String?
        var rules: [Rule]
    }

    struct Rule: Encodable {
        var id: String
        var shortDescription: Message
        var fullDescription: Message
        var helpUri: String
        var help: MultiformatMessage
        var defaultConfiguration: Configuration
        var properties: RuleProperties
    }

    struct RuleProperties: Encodable {
        var securitySeverity: String?
        var tags: [String]
        var precision: String
        enum CodingKeys: String, CodingKey { case securitySeverity = "security-severity", tags, precision }
    }

    struct Configuration: Encodable { var level: String }

    struct Message: Encodable { var text: String }

    struct MultiformatMessage: Encodable {
        var text: String
        var markdown: String
    }

    struct Result: Encodable {
        var ruleId: String
        var ruleIndex: Int
        var level: String
        var message: Message
        var locations: [Location]
        var suppressions: [Suppression]?
        var properties: ResultProperties
    }

    struct Location: Encodable {
        var physicalLocation: PhysicalLocation
        var message: Message
    }

    struct PhysicalLocation: Encodable {
        var artifactLocation: ArtifactLocation
        var region: Region
    }

    struct ArtifactLocation: Encodable {
        var uri: String
        var uriBaseId: String?
        var description: Message?
    }

    struct Region: Encodable { var startLine: Int }

    struct Suppression: Encodable {
        var kind: String
        var status: String
        var justification: String
    }

    struct ResultProperties: Encodable {
        var package: String
        var installedVersion: String
        var fixedVersion: String?
        var purl: String
        var ecosystem: String
        var layer: String?
    }
}

fileprivate extension String {
    var replacingColons: String {
        var out = ""
        for character in self { out += character == ":" ? "%3A" : String(character) }
        return out
    }
}
