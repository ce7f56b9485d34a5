import Foundation
import Testing
import TestSupport

/// The README's overlay tour, run line by line as written: each command must succeed.
/// `netctl` is the built binary, first on PATH; the lab is torn down however it ends.
@Suite struct OverlayTourTests {
    static func tourLines() throws -> [String] {
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let readme = try String(contentsOf: package.appendingPathComponent("README.md"), encoding: .utf8)
        let start = try #require(readme.range(of: "## Overlay networks across hosts"))
        let section = readme[start.upperBound...]
        let end = section.range(of: "\n## ")?.lowerBound ?? section.endIndex
        var lines: [String] = []
        var inBlock = false
        for line in section[..<end].split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("```") { inBlock = line == "```sh"; continue }
            let text = line.split(separator: "#", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            if inBlock, !text.isEmpty { lines.append(text) }
        }
        return lines
    }

    @Test func everyCommandOfTheOverlayTourRunsAsWritten() throws {
        let lines = try Self.tourLines()
        #expect(lines.count >= 8, "the overlay tour has \(lines.count) commands")
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let bin = NSTemporaryDirectory() + uniqueName("netctl-tour-bin-")
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: bin + "/netctl", withDestinationPath: NetctlHarness.binary)
        let environment = ["PATH": bin + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")]
        defer {
            _ = try? runCommand(["sh", "-c", "cd '\(package)' && netctl lab down examples/labs/two-segments.yaml"], environment: environment)
            try? FileManager.default.removeItem(atPath: bin)
        }
        for line in lines {
            let result = try runCommand(["sh", "-c", "cd '\(package)' && \(line)"], environment: environment)
            #expect(result.status == 0, "\(line)\n\(result.stdout)\(result.stderr)")
            if result.status != 0 { break }
            if line.contains("network ls") {
                #expect(["red", "blue", "green"].allSatisfy(result.stdout.contains), "\(result.stdout)")
            }
        }
    }
}
