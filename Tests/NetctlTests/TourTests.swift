import Foundation
import Netlink
import Testing
import TestSupport

/// The README's tour of the CLI, run line by line as written: each command must succeed.
/// `netctl` is the built binary (first on PATH), in a state root and host namespace of the
/// test's own, in a working directory holding what the tour names.
@Suite struct TourTests {
    /// The command lines of the ```sh blocks under "## A tour of the CLI", with `\`
    /// continuations joined.
    static func tourLines() throws -> [String] {
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let readme = try String(contentsOf: package.appendingPathComponent("README.md"), encoding: .utf8)
        let start = try #require(readme.range(of: "## A tour of the CLI"))
        let section = readme[start.upperBound...].prefix { _ in true }
        let end = section.range(of: "\n## ")?.lowerBound ?? section.endIndex
        var lines: [String] = []
        var inBlock = false
        var pending = ""
        for line in section[..<end].split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("```") { inBlock = line == "```sh"; continue }
            guard inBlock else { continue }
            let text = pending + line.trimmingCharacters(in: .whitespaces)
            if text.hasSuffix("\\") { pending = String(text.dropLast()) + " "; continue }
            pending = ""
            if !text.isEmpty && !text.hasPrefix("#") { lines.append(text) }
        }
        return lines
    }

    @Test func everyCommandOfTheTourRunsAsWritten() throws {
        let lines = try Self.tourLines()
        #expect(lines.count > 60, "the tour has \(lines.count) commands")
        // The registry the tour's `$REGISTRY` names, and a credentials file of the tour's own.
        try withRegistry { registry in try withNetctl { netctl in
            // What the tour's working directory holds, and the macvlan parent it names.
            let work = netctl.root + "-tour"
            let bin = work + "/bin"
            defer { try? FileManager.default.removeItem(atPath: work) }
            try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: bin + "/netctl", withDestinationPath: NetctlHarness.binary)
            // The plug-ins are built next to netctl.
            let built = (NetctlHarness.binary as NSString).deletingLastPathComponent
            for name in ["netctl-runc", "netctl-cni"] {
                try FileManager.default.createSymbolicLink(atPath: "\(bin)/\(name)", withDestinationPath: "\(built)/\(name)")
            }
            let images = try TestImages.busybox()
            #expect(try runCommand(["cp", "-a", images.layout, work + "/busybox-oci"]).status == 0)
            try FileManager.default.createSymbolicLink(atPath: work + "/app.tar", withDestinationPath: images.archive)
            try OCIBundles.make(work + "/bundle", args: ["true"])
            try FileManager.default.createDirectory(atPath: work + "/data", withIntermediateDirectories: true)
            try Data("hello from the tour\n".utf8).write(to: URL(fileURLWithPath: work + "/data/index.html"))
            // Scanning: OSV records written from real advisories, and an image with packages they name.
            try FileManager.default.createDirectory(atPath: work + "/osv", withIntermediateDirectories: true)
            for (name, text) in ScanTests.advisories { try text.write(toFile: "\(work)/osv/\(name)", atomically: true, encoding: .utf8) }
            try CraftedImages.layout(at: work + "/shop-oci", base: [try TestImages.busyboxLayer()], layers: [ScanTests.layers[0]])
            try netctl.host.session().linkAdd(LinkSpec(name: "eth1", kind: .veth(peer: VethPeer(name: "eth1peer")), up: true))
            netctl.remember(sandboxes: ["sb1", "sb2"])

            let path = bin + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
            let environment = netctl.environment.merging(
                ["PATH": path, "REGISTRY": registry.address, "REGISTRY_AUTH_FILE": work + "/auth.json",
                 // Content trust: a static TUF repository in the tour's directory, passphrases for new keys.
                 "NETCTL_CONTENT_TRUST_SERVER": "tuf+file://\(work)/trust", "NETCTL_CONTENT_TRUST_ROOT_PASSPHRASE": "tour-root-passphrase",
                 "NETCTL_CONTENT_TRUST_REPOSITORY_PASSPHRASE": "tour-repository-passphrase"]) { $1 }
            for line in lines {
                // A terminal for every line (`run -it` needs one), in the tour's directory.
                let script = "cd '\(work)' && \(line)"
                let result = try runCommand(["script", "-qec", script, "/dev/null"], environment: environment)
                #expect(result.status == 0, "\(line)\n\(result.stdout)\(result.stderr)")
                if result.status != 0 { break }
                if line.hasPrefix("netctl run --rm --network container:site") {
                    #expect(result.stdout.contains("hello from the tour"), "\(result.stdout)")
                }
            }
            #expect(try netctl.ok("ps", "-aq").isEmpty)
            #expect(!NetworkNamespace.exists(named: "sb1") && !NetworkNamespace.exists(named: "sb2"))
        } }
    }
}
