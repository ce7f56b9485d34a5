import FoundationEssentials

/// Writes a `ScanReport` in each format. Output is deterministic: the same report gives
/// the same bytes (JSON keys sorted, no timestamps of its own).
public enum ReportWriter {
    /// `width` is the terminal's, for the table (the other formats ignore it).
    public static func render(_ report: ScanReport, format: ReportFormat, tool: ReportTool = .netctl, width: Int = 100) -> String {
        switch format {
        case .table: TableReport.findings(report, width: width)
        case .json: encoded(report)
        case .sarif: encoded(SARIFReport.log(report, tool: tool))
        case .cyclonedx: encoded(CycloneDXReport.bom(report, tool: tool, withVulnerabilities: true))
        }
    }

    public static func renderPackages(_ report: ScanReport, format: PackageListFormat, tool: ReportTool = .netctl, width: Int = 100) -> String {
        switch format {
        case .table: TableReport.packages(report, width: width)
        case .json: encoded(ReportPackageListJSON(report))
        case .cyclonedx: encoded(CycloneDXReport.bom(report, tool: tool, withVulnerabilities: false))
        }
    }

    /// Pretty, sorted keys, `/` unescaped (URLs and paths stay readable), newline-terminated.
    static func encoded<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // Every value here is strings, integers, finite doubles (scores pass `reportableScore`)
        // and arrays of them: encoding cannot fail.
        guard let data = try? encoder.encode(value) else { preconditionFailure("report JSON: unencodable value") }
        return String(decoding: collapsingEmptyContainers([UInt8](data)), as: UTF8.self) + "\n"
    }

    /// `[\n\n    ]` → `[]` (and the same for `{}`), as JSONEncoder's pretty printing
    /// writes empty arrays. Safe on JSON text: a string holds no raw line break, so a
    /// bracket followed by nothing but whitespace with a line break in it is formatting.
    static func collapsingEmptyContainers(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            out.append(byte)
            index += 1
            guard byte == UInt8(ascii: "[") || byte == UInt8(ascii: "{") else { continue }
            var next = index, lineBreaks = 0
            while next < bytes.count, bytes[next] == UInt8(ascii: " ") || bytes[next] == UInt8(ascii: "\n") {
                if bytes[next] == UInt8(ascii: "\n") { lineBreaks += 1 }
                next += 1
            }
            let close = byte == UInt8(ascii: "[") ? UInt8(ascii: "]") : UInt8(ascii: "}")
            if lineBreaks > 0, next < bytes.count, bytes[next] == close {
                out.append(close)
                index = next + 1
            }
        }
        return out
    }
}

/// The JSON of `--list-packages --format json` (see `PackageListFormat.json`).
struct ReportPackageListJSON: Encodable {
    var formatVersion = 1
    var target: String
    var imageID: String?
    var os: OSRelease?
    var packages: [ReportPackageJSON]
    var skipped: [String]

    init(_ report: ScanReport) {
        let os = report.os ?? report.inventory.os
        target = report.target
        imageID = report.imageID
        self.os = os
        packages = report.inventory.packages.map { ReportPackageJSON($0, os: os) }
        skipped = report.inventory.skipped
    }
}
