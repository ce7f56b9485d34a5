/// The inventory as a CycloneDX 1.6 JSON BOM (the SBOM of `--list-packages`) and, for the
/// scan report, with its `vulnerabilities`: one per advisory, rated, naming the affected
/// components by bom-ref and what to upgrade each to. No timestamp or serial number of
/// its own, so the same scan gives the same BOM.
enum CycloneDXReport {
    static let specVersion = "1.6"
    static let targetRef = "target"

    static func bom(_ report: ScanReport, tool: ReportTool, withVulnerabilities: Bool) -> BOM {
        let os = report.os ?? report.inventory.os
        // Every package of the inventory, and any a finding names that it lacks.
        var packages = report.inventory.packages
        var listed = Set(packages)
        for finding in report.findings + report.ignored where !listed.contains(finding.package) {
            packages.append(finding.package)
            listed.insert(finding.package)
        }
        packages.sort(by: TableReport.packageOrder)
        var references: [InstalledPackage: String] = [:]
        var used: Set<String> = [targetRef]
        var components: [Component] = []
        if let os {
            let ref = "os:" + [os.id, os.versionID].compactMap { $0 }.joined(separator: "-")
            used.insert(ref)
            components.append(Component(type: "operating-system", bomRef: ref, name: os.id, version: os.versionID,
                                        description: os.prettyName, purl: nil, properties: nil))
        }
        for package in packages {
            let purl = package.purl(os: os)
            // A purl names a package, not a copy: two copies of one npm package in two
            // node_modules need refs of their own.
            var ref = purl
            if used.contains(ref) { ref = "\(purl) (\(package.location))" }
            var suffix = 2
            while used.contains(ref) {
                ref = "\(purl) (\(package.location)) #\(suffix)"
                suffix += 1
            }
            used.insert(ref)
            references[package] = ref
            components.append(component(package, ref: ref, purl: purl))
        }
        var metadataProperties = [Property(name: "netctl:database:version", value: report.databaseVersion)]
        if let updated = report.databaseUpdated { metadataProperties.append(Property(name: "netctl:database:updated", value: updated)) }
        let target = Component(type: "container", bomRef: targetRef, name: report.target, version: nil, description: nil, purl: nil,
                               properties: report.imageID.map { [Property(name: "netctl:imageID", value: $0)] })
        let metadata = Metadata(
            tools: Tools(components: [ToolComponent(type: "application", name: tool.name, version: tool.version,
                                                    externalReferences: tool.informationURI.map { [ExternalReference(type: "website", url: $0)] })]),
            component: target, properties: metadataProperties)
        return BOM(schema: "http://cyclonedx.org/schema/bom-\(specVersion).schema.json", bomFormat: "CycloneDX", specVersion: specVersion,
                   version: 1, metadata: metadata, components: components,
                   vulnerabilities: withVulnerabilities ? vulnerabilities(report, references: references) : nil)
    }

    static func component(_ package: InstalledPackage, ref: String, purl: String) -> Component {
        var properties = [Property(name: "netctl:kind", value: package.kind.rawValue), Property(name: "netctl:location", value: package.location)]
        if let layer = package.layer { properties.append(Property(name: "netctl:layer", value: layer)) }
        if let source = package.sourceName { properties.append(Property(name: "netctl:sourceName", value: source)) }
        if let source = package.sourceVersion { properties.append(Property(name: "netctl:sourceVersion", value: source)) }
        return Component(type: "library", bomRef: ref, name: package.name, version: package.version, description: nil, purl: purl,
                         properties: properties)
    }

    static func vulnerabilities(_ report: ScanReport, references: [InstalledPackage: String]) -> [Vulnerability] {
        var byAdvisory: [String: [Finding]] = [:]
        var ignoredIDs: Set<String> = []
        for finding in report.findings { byAdvisory[finding.advisory.id, default: []].append(finding) }
        for finding in report.ignored {
            byAdvisory[finding.advisory.id, default: []].append(finding)
            ignoredIDs.insert(finding.advisory.id)
        }
        let ordered = byAdvisory.values.map { $0.sorted(by: SARIFReport.resultOrder) }.sorted { a, b in
            if a[0].advisory.severity != b[0].advisory.severity { return a[0].advisory.severity > b[0].advisory.severity }
            return a[0].advisory.id < b[0].advisory.id
        }
        return ordered.map { findings in
            let advisory = findings[0].advisory
            var affects: [Affect] = []
            var seen: Set<String> = []
            for finding in findings {
                guard let ref = references[finding.package], seen.insert(ref).inserted else { continue }
                affects.append(Affect(ref: ref, versions: [AffectedVersion(version: finding.package.version, status: "affected")]))
            }
            var analysis: Analysis?
            if ignoredIDs.contains(advisory.id) {
                let entry = report.ignoredBy[advisory.id]
                analysis = Analysis(detail: "Ignored by the ignore file" + (entry.map { entry in
                    " (line \(entry.line), \(entry.id)" + (entry.expires.map { ", until \($0)" } ?? "") + ")" + (entry.reason.map { ": \($0)" } ?? "")
                } ?? ""))
            }
            return Vulnerability(
                id: advisory.id,
                source: source(advisory.id),
                references: advisory.aliases.isEmpty ? nil : advisory.aliases.map { VulnerabilityReference(id: $0, source: source($0)) },
                ratings: [rating(advisory)],
                description: advisory.summary,
                recommendation: recommendation(findings),
                advisories: advisory.references.isEmpty ? nil : advisory.references.map { AdvisoryLink(url: $0) },
                published: advisory.published.flatMap { isTimestamp($0) ? $0 : nil },
                updated: isTimestamp(advisory.modified) ? advisory.modified : nil,
                analysis: analysis,
                affects: affects)
        }
    }

    /// Where an id is published: NVD for CVEs, GitHub for GHSAs, OSV for the rest.
    static func source(_ id: String) -> Source {
        let encoded = PackageURL.encoded(id)
        if id.hasPrefix("CVE-") { return Source(name: "NVD", url: "https://nvd.nist.gov/vuln/detail/\(encoded)") }
        if id.hasPrefix("GHSA-") { return Source(name: "GitHub", url: "https://github.com/advisories/\(encoded)") }
        return Source(name: "OSV", url: "https://osv.dev/vulnerability/\(encoded)")
    }

    /// The CVSS score, its rating and vector when there is one; else the database's rating.
    static func rating(_ advisory: Advisory) -> Rating {
        let severity = advisory.severity == .unknown ? "unknown" : advisory.severity.name.lowercased()
        guard let score = advisory.score.reportableScore else {
            return Rating(score: nil, severity: severity, method: advisory.severity == .unknown ? nil : "other", vector: nil)
        }
        var method: String?
        if let vector = advisory.vector {
            if vector.hasPrefix("CVSS:3.1/") { method = "CVSSv31" }
            else if vector.hasPrefix("CVSS:3.0/") { method = "CVSSv3" }
            else if vector.hasPrefix("CVSS:4.0/") { method = "CVSSv4" }
        }
        return Rating(score: score, severity: severity, method: method, vector: advisory.vector)
    }

    /// `Upgrade libc6 to 2.36-9+deb12u3, libc-bin to 2.36-9+deb12u3.`; packages without a
    /// fix are named as such.
    static func recommendation(_ findings: [Finding]) -> String {
        var upgrades: [String] = [], unfixed: [String] = []
        var seen: Set<String> = []
        for finding in findings {
            let line = finding.fixedVersion.map { "\(finding.package.name) to \($0)" } ?? finding.package.name
            guard seen.insert(line).inserted else { continue }
            if finding.fixedVersion != nil { upgrades.append(line) } else { unfixed.append(line) }
        }
        var sentences: [String] = []
        if !upgrades.isEmpty { sentences.append("Upgrade \(upgrades.joined(separator: ", ")).") }
        if !unfixed.isEmpty { sentences.append("No fixed version yet for \(unfixed.joined(separator: ", ")).") }
        return sentences.joined(separator: " ")
    }

    /// RFC 3339 as the schema's `date-time` wants it: `2023-10-03T18:15:00Z`, with optional
    /// fractions and an offset; OSV's timestamps are, but the database keeps what it was given.
    static func isTimestamp(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        func digits(_ range: Range<Int>) -> Bool {
            range.upperBound <= bytes.count && bytes[range].allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
        }
        guard bytes.count >= 20, digits(0..<4), bytes[4] == UInt8(ascii: "-"), digits(5..<7), bytes[7] == UInt8(ascii: "-"), digits(8..<10),
              bytes[10] == UInt8(ascii: "T") || bytes[10] == UInt8(ascii: "t"), digits(11..<13), bytes[13] == UInt8(ascii: ":"), digits(14..<16),
              bytes[16] == UInt8(ascii: ":"), digits(17..<19),
              let date = CalendarDay(String(decoding: bytes[0..<10], as: UTF8.self)), date.year > 0 else { return false }
        var index = 19
        if bytes[index] == UInt8(ascii: ".") {
            index += 1
            let start = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            guard index > start, index < bytes.count else { return false }
        }
        if bytes[index] == UInt8(ascii: "Z") || bytes[index] == UInt8(ascii: "z") { return index + 1 == bytes.count }
        guard bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") else { return false }
        return index + 6 == bytes.count && digits(index + 1..<index + 3) && bytes[index + 3] == UInt8(ascii: ":") && digits(index + 4..<index + 6)
    }

    // MARK: - The CycloneDX objects used (names as the schema spells them)

    struct BOM: Encodable {
        var schema: String
        var bomFormat: String
        var specVersion: String
        var version: Int
        var metadata: Metadata
        var components: [Component]
        var vulnerabilities: [Vulnerability]?
        enum CodingKeys: String, CodingKey { case schema = "$schema", bomFormat, specVersion, version, metadata, components, vulnerabilities }
    }

    struct Metadata: Encodable {
        var tools: Tools
        var component: Component
        var properties: [Property]
    }

    struct Tools: Encodable { var components: [ToolComponent] }

    struct ToolComponent: Encodable {
        var type: String
        var name: String
        var version: String
        var externalReferences: [ExternalReference]?
    }

    struct ExternalReference: Encodable {
        var type: String
        var url: String
    }

    struct Component: Encodable {
        var type: String
        var bomRef: String
        var name: String
        var version: String?
        var description: String?
        var purl: String?
        var properties: [Property]?
        enum CodingKeys: String, CodingKey { case type, bomRef = "bom-ref", name, version, description, purl, properties }
    }

    struct Property: Encodable {
        var name: String
        var value: String
    }

    struct Vulnerability: Encodable {
        var id: String
        var source: Source
        var references: [VulnerabilityReference]?
        var ratings: [Rating]
        var description: String?
        var recommendation: String
        var advisories: [AdvisoryLink]?
        var published: String?
        var updated: String?
        var analysis: Analysis?
        var affects: [Affect]
    }

    struct Source: Encodable {
        var name: String
        var url: String
    }

    struct VulnerabilityReference: Encodable {
        var id: String
        var source: Source
    }

    struct Rating: Encodable {
        var score: Double?
        var severity: String
        var method: String?
        var vector: String?
    }

    struct AdvisoryLink: Encodable { var url: String }

    struct Analysis: Encodable { var detail: String }

    struct Affect: Encodable {
        var ref: String
        var versions: [AffectedVersion]
    }

    struct AffectedVersion: Encodable {
        var version: String
        var status: String
    }
}
