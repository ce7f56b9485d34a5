import Foundation
import Testing

/// What start-up depends on, checked in the sources: Foundation (swift-corelibs-foundation
/// and its ICU data, ~50 MB) must not be linked into netctl, whose every command would
/// load and relocate it (FoundationEssentials has JSON, Data, base64 and FileManager).
@Suite struct StartupRulesTests {
    @Test func noSourceImportsFoundation() throws {
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let sources = package.appendingPathComponent("Sources").path
        let files = try #require(FileManager.default.enumerator(atPath: sources)).compactMap { $0 as? String }.filter { $0.hasSuffix(".swift") }
        #expect(files.count > 100)
        for file in files {
            let text = try String(contentsOfFile: sources + "/" + file, encoding: .utf8)
            for line in text.split(separator: "\n") where line.hasPrefix("import Foundation") || line.contains(" import Foundation") {
                #expect(line.hasSuffix("FoundationEssentials"), "\(file): \(line)")
            }
        }
    }
}
