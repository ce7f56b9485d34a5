import Foundation
import Netlink
import TestSupport
import Testing

@Suite("netctl: commands killed anywhere")
struct KillAnywhereTests {
    /// `run -d -p`, `network connect -p`, `rm -f` and `sandbox create`, each SIGKILLed at a
    /// random moment of its run, over and over. Then reconcile alone leaves no container
    /// half made or half removed; and once the containers listed and the sandboxes the test
    /// made are removed, nothing is left: no sandbox, namespace, link, port element,
    /// temporary file, intent or mount of this root, and every port that was published can
    /// be published again.
    @Test func commandsKilledAtRandomPointsLeaveNothingAfterReconcile() throws {
        try withNetctl { netctl in
            let started = Date()
            let image = try netctl.importBusybox()
            try netctl.ok("network", "create", "--subnet", "198.18.90.0/24", "killnet")
            let rootMark = "netctl:\(try rootID(of: netctl)):"
            let hostBefore = try netctl.hostLinks()
            let rulesetBefore = try netctl.host.run(["nft", "list", "ruleset"]).stdout

            // Kills land anywhere in a command: from its start to as long as a whole one of
            // its kind takes here.
            func duration(_ arguments: [String]) throws -> Double {
                let elapsed = try ContinuousClock().measure { try netctl.ok(arguments) }
                return max(0.040, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
            }
            var ownSandboxes: [String] = []
            func sandboxName() -> String {
                let name = netctl.sandboxName()
                ownSandboxes.append(name)
                return name
            }
            let probe = sandboxName()
            let longest = [
                "run": try duration(["run", "-d", "--name", "probe", "--network", "killnet", "-p", "17999:80", image, "sleep", "600"]),
                "rm": try duration(["rm", "-f", "probe"]),
                "sandbox": try duration(["sandbox", "create", probe]),
                "network": try duration(["network", "connect", "-p", "17999:80", "killnet", probe]),
            ]
            try netctl.ok("sandbox", "rm", probe)

            var ports: [UInt16] = []
            var kills: [String] = []
            for round in 0..<40 {
                let port = UInt16(18000 + round)
                let command: [String]
                switch round % 5 {
                case 0, 1:
                    command = ["run", "-d", "--network", "killnet", "-p", "\(port):80", image, "sleep", "600"]
                case 2:
                    let sandbox = sandboxName()
                    try netctl.ok("sandbox", "create", sandbox)
                    command = ["network", "connect", "-p", "\(port):80", "killnet", sandbox]
                case 3:
                    let id = try netctl.ok("run", "-d", "--network", "killnet", "-p", "\(port):80", image, "sleep", "600")
                    command = ["rm", "-f", id.trimmingCharacters(in: .whitespacesAndNewlines)]
                default:
                    command = ["sandbox", "create", sandboxName()]
                }
                if round % 5 != 4 { ports.append(port) }
                let delay = Double.random(in: 0...longest[command[0]]!)
                kills.append("\(command[0]) after \(Int(delay * 1000)) ms: \(try runKilled(netctl, command, after: delay))")
            }
            let context = kills.joined(separator: "\n")

            // Reconcile rolls every half-made container back and finishes every half-done
            // removal. (The monitor of a run killed after starting it may still be starting
            // its container: that one comes up.)
            try netctl.ok("system", "reconcile")
            let passing = try settled { try containerStates(netctl).allSatisfy { ["running", "exited"].contains($0) } }
            let states = try containerStates(netctl)
            #expect(passing, "containers: \(states)\n\(context)")

            // The recipe of the issue: remove what is listed; then the sandboxes the test made.
            let containers = try netctl.ok("ps", "-aq").split(separator: "\n").map(String.init)
            if !containers.isEmpty { try netctl.ok(["rm", "-f"] + containers) }
            let recorded = Set(try netctl.ok("sandbox", "ls", "-q").split(separator: "\n").map(String.init))
            let ours = ownSandboxes.filter(recorded.contains)
            if !ours.isEmpty { try netctl.ok(["sandbox", "rm"] + ours) }

            #expect(try netctl.ok("ps", "-aq") == "", "\(context)")
            #expect(try netctl.ok("sandbox", "ls", "-q") == "", "no container owns these: \(context)")
            // The host ends of veths go with their namespaces, which the kernel frees in the background.
            let linksSettled = try settled { try netctl.hostLinks() == hostBefore }
            let extraLinks = try netctl.hostLinks().subtracting(hostBefore)
            #expect(linksSettled, "left on the host: \(extraLinks)\n\(context)")
            #expect(try netctl.host.run(["nft", "list", "ruleset"]).stdout == rulesetBefore, "\(context)")
            #expect(namespacesMarked(rootMark) == [], "\(context)")
            let unfinished = unfinishedNamespaces(since: started, named: Set(ownSandboxes))
            #expect(leftoverFiles(in: netctl.root) == [], "\(context)")
            #expect(try mounts(under: netctl.root) == [], "\(context)")
            #expect(try netctl.ok("system", "reconcile") == "nothing to repair\n", "\(context)")

            // Every port is free: one new endpoint publishes them all, and gives them back.
            let fresh = sandboxName()
            try netctl.ok("sandbox", "create", fresh)
            try netctl.ok(["network", "connect"] + ports.flatMap { ["-p", "\($0):80"] } + ["killnet", fresh])
            try netctl.ok("sandbox", "rm", fresh)
            #expect(try netctl.host.run(["nft", "list", "ruleset"]).stdout == rulesetBefore)

            // Another test's container namespace may be between its placeholder and its mount,
            // or its mount and its loopback's mark, at any moment; one still so now, long after
            // the first look, is a leftover.
            let stillUnfinished = unfinished.intersection(unfinishedNamespaces(since: started, named: Set(ownSandboxes)))
            #expect(stillUnfinished == [], "\(context)")
        }
    }
}

/// `State.Status` of every container, as `ps -a --format json` gives it.
private func containerStates(_ netctl: NetctlHarness) throws -> [String] {
    let json = try netctl.ok("ps", "-a", "--format", "json")
    let containers = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])
    return containers.map { (($0["State"] as? [String: Any])?["Status"] as? String) ?? "?" }
}

/// Whether `condition` holds within five seconds.
private func settled(_ condition: () throws -> Bool) throws -> Bool {
    for _ in 0..<100 {
        if try condition() { return true }
        usleep(50_000)
    }
    return try condition()
}

/// Starts `netctl ARGS…`, SIGKILLs it after `delay` seconds, and says how it ended
/// (here and in PullTests).
func runKilled(_ netctl: NetctlHarness, _ arguments: [String], after delay: Double) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: NetctlHarness.binary)
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(netctl.environment) { $1 }
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    usleep(UInt32(delay * 1_000_000))
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    return process.terminationReason == .uncaughtSignal ? "killed" : "exited \(process.terminationStatus)"
}

/// The first 16 characters of the root's id, with which it marks its kernel objects.
private func rootID(of netctl: NetctlHarness) throws -> String {
    let json = try netctl.ok("system", "info", "--format", "json")
    let info = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: String])
    return try #require(info["Root ID"])
}

/// Mounted namespaces under /run/netns whose loopback carries this root's mark.
private func namespacesMarked(_ mark: String) -> [String] {
    NetworkNamespace.names().filter { name in
        guard let namespace = try? NetworkNamespace.open(named: name),
              let alias = try? NetlinkSession(in: namespace).link(.name("lo"))?.alias else { return false }
        return alias.hasPrefix(mark)
    }
}

/// Namespaces under /run/netns made since `date`, of containers (`nc-…`) or with one of
/// `names`, that are not finished: an unmounted placeholder, or a namespace whose loopback
/// carries no netctl mark (in a root of netctl's, every namespace's does).
private func unfinishedNamespaces(since date: Date, named names: Set<String>) -> Set<String> {
    Set(NetworkNamespace.names().filter { name in
        guard name.hasPrefix("nc-") || names.contains(name),
              let attributes = try? FileManager.default.attributesOfItem(atPath: "\(NetworkNamespace.directory)/\(name)"),
              let modified = attributes[.modificationDate] as? Date, modified >= date.addingTimeInterval(-1) else { return false }
        guard let namespace = try? NetworkNamespace.open(named: name) else { return true }
        let alias = try? NetlinkSession(in: namespace).link(.name("lo"))?.alias
        return !(alias ?? "").hasPrefix("netctl:")
    })
}

/// Temporary files of interrupted writes and intents of interrupted changes in the state
/// root's records (storage/ holds none).
private func leftoverFiles(in root: String) -> [String] {
    guard let walker = FileManager.default.enumerator(atPath: root) else { return [] }
    var found: [String] = []
    while let path = walker.nextObject() as? String {
        if path.hasPrefix("storage") { walker.skipDescendants(); continue }
        if path.contains(".json.tmp") || path.hasPrefix("intents/") { found.append(path) }
    }
    return found
}

/// Mount points at or below `path`.
private func mounts(under path: String) throws -> [String] {
    let table = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
    return table.split(separator: "\n").compactMap { line in
        let fields = line.split(separator: " ")
        return fields.count > 4 && fields[4].hasPrefix(path) ? String(fields[4]) : nil
    }
}

@Suite("netctl: imports killed anywhere")
struct KilledImportTests {
    /// `image import` of a layout and of an archive, each SIGKILLed at a random moment of
    /// its run. Then reconcile leaves no staging, no layer that no image records, and every
    /// image it lists runs; a new import of the same image works.
    @Test func importsKilledAtRandomPointsLeaveAWholeStore() throws {
        try withNetctl { netctl in
            let images = try TestImages.busybox()
            let elapsed = try ContinuousClock().measure { try netctl.ok("image", "import", "--name", "probe", images.layout) }
            let longest = max(0.040, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
            try netctl.ok("image", "rm", "probe")
            var kills: [String] = []
            for round in 0..<12 {
                let source = round % 2 == 0 ? images.layout : images.archive
                let delay = Double.random(in: 0...longest)
                kills.append("import after \(Int(delay * 1000)) ms: \(try runKilled(netctl, ["image", "import", "--name", "k\(round)", source], after: delay))")
            }
            let context = kills.joined(separator: "\n")
            try netctl.ok("system", "reconcile")

            let staging = (try? FileManager.default.contentsOfDirectory(atPath: netctl.root + "/storage/tmp")) ?? []
            #expect(staging.isEmpty, "\(staging)\n\(context)")
            let listed = try netctl.ok("image", "ls", "-q").split(separator: "\n").map(String.init)
            var used: Set<String> = []
            for id in listed {
                #expect(try netctl.netctl("run", "--rm", id, "true").status == 0, "image \(id)\n\(context)")
                let inspect = try netctl.ok("image", "inspect", id)
                let json = try #require(try JSONSerialization.jsonObject(with: Data(inspect.utf8)) as? [[String: Any]])
                for layer in ((json.first?["RootFS"] as? [String: Any])?["Layers"] as? [String]) ?? [] { used.insert(layer) }
            }
            let layers = (try? FileManager.default.contentsOfDirectory(atPath: netctl.root + "/storage/layers")) ?? []
            #expect(layers.count <= used.count, "layer directories \(layers) for \(listed.count) images\n\(context)")
            #expect(leftoverFiles(in: netctl.root) == [], "\(context)")
            #expect(try netctl.ok("system", "reconcile") == "nothing to repair\n", "\(context)")
            try netctl.ok("image", "import", "--name", "after", images.layout)
            #expect(try netctl.ok("run", "--rm", "after", "echo", "whole") == "whole\n")
        }
    }
}
