import Foundation
import Netlink
import TestSupport
import Testing

@Suite("netctl: reconcile after crashes and outside changes")
struct ReconcileTests {
    /// A command killed (SIGKILL) at each fault point leaves nothing behind once reconcile
    /// has run; then the same command succeeds.
    @Test(arguments: ["connect.after-veth", "connect.after-firewall", "connect.after-macvlan", "network-create.after-bridge",
                      "sandbox-create.after-netns", "sandbox-create.before-mount"])
    func killedHalfwayLeavesNothingAfterReconcile(_ point: String) throws {
        try withNetctl { netctl in
            let session = try netctl.host.session()
            try session.linkAdd(LinkSpec(name: "rcparent0", kind: .veth(peer: VethPeer(name: "rcpeer0")), up: true))
            try netctl.ok("network", "create", "--subnet", "198.18.70.0/24", "web")
            try netctl.ok("network", "create", "-d", "macvlan", "--subnet", "198.18.71.0/24", "-o", "parent=rcparent0", "mv")
            let sandbox = try netctl.makeSandbox()
            let hostBefore = try netctl.hostLinks(), stateBefore = try netctl.stateSnapshot()
            let rulesetBefore = try netctl.host.run(["nft", "list", "ruleset"]).stdout

            let fresh = netctl.sandboxName()
            let command: [String] = switch point {
            case "connect.after-veth": ["network", "connect", "web", sandbox]
            case "connect.after-firewall": ["network", "connect", "-p", "8080:80", "web", sandbox]
            case "connect.after-macvlan": ["network", "connect", "mv", sandbox]
            case "network-create.after-bridge": ["network", "create", "--subnet", "198.18.72.0/24", "late"]
            default: ["sandbox", "create", fresh]
            }
            let killed = try netctl.netctl(command, environment: ["NETCTL_FAULT": point])
            #expect(killed.status == 9 || killed.status == 137, "the fault point was not reached: \(killed.stderr)")

            let report = try netctl.ok("system", "reconcile")
            #expect(report.contains("removed"), "reconcile reported: \(report)")
            #expect(try netctl.hostLinks() == hostBefore)
            #expect(try netctl.links(in: sandbox) == ["lo"])
            #expect(try netctl.stateSnapshot() == stateBefore)
            #expect(!NetworkNamespace.exists(named: fresh))
            #expect(try netctl.host.run(["nft", "list", "ruleset"]).stdout == rulesetBefore)
            #expect(try netctl.ok("system", "reconcile") == "nothing to repair\n")

            // Nothing stands in the way of doing it again.
            try netctl.ok(command)
        }
    }

    @Test func aBridgeDeletedBehindNetctlsBackIsRecreated() throws {
        try withNetctl { netctl in
            try netctl.ok("network", "create", "--subnet", "198.18.73.0/24", "-o", "com.docker.network.bridge.name=ncrc-br0", "web")
            try netctl.host.session().linkDelete(.name("ncrc-br0"))
            let report = try netctl.ok("system", "reconcile")
            #expect(report.contains("recreated bridge ncrc-br0"))
            let session = try netctl.host.session()
            let index = try session.index(of: .name("ncrc-br0"))
            #expect(try session.addresses(interface: index).map(\.network).contains(IPNetwork(cidr: "198.18.73.1/24")!))
        }
    }

    @Test func aSandboxWhoseNamespaceVanishedIsForgottenAndItsAddressFreed() throws {
        try withNetctl { netctl in
            try netctl.ok("network", "create", "--subnet", "198.18.74.0/30", "tiny")
            let gone = try netctl.makeSandbox()
            try netctl.ok("network", "connect", "tiny", gone)
            try NetworkNamespace.remove(named: gone)
            let report = try netctl.ok("system", "reconcile")
            #expect(report.contains("removed sandbox \"\(gone)\""))
            // The only address of the /30 is free again.
            let next = try netctl.makeSandbox()
            try netctl.ok("network", "connect", "tiny", next)
            #expect(try !netctl.ok("sandbox", "ls").contains(gone))
        }
    }

    /// `run -d -p` killed once its sandbox exists, or once the container is created but
    /// before it starts: the "Created" container holding a veth and a port, with no
    /// process, is rolled back by reconcile, and the port and name are free again.
    @Test(arguments: ["run.after-sandbox", "run.after-create"])
    func aRunKilledBeforeItsContainerStartsIsRolledBack(_ point: String) throws {
        try withNetctl { netctl in
            let image = try netctl.importBusybox()
            try netctl.ok("network", "create", "--subnet", "198.18.75.0/24", "web")
            let hostBefore = try netctl.hostLinks()
            let rulesetBefore = try netctl.host.run(["nft", "list", "ruleset"]).stdout
            let run = ["run", "-d", "--name", "web1", "--network", "web", "-p", "8085:80", image, "sleep", "600"]

            let killed = try netctl.netctl(run, environment: ["NETCTL_FAULT": point])
            #expect(killed.status == 9 || killed.status == 137, "the fault point was not reached: \(killed.stderr)")
            #expect(try netctl.ok("ps", "-aq") != "")

            let report = try netctl.ok("system", "reconcile")
            #expect(report.contains("container web1: removed (the command creating it was killed)"), "reconcile reported: \(report)")
            #expect(try netctl.ok("ps", "-aq") == "")
            #expect(try netctl.ok("sandbox", "ls", "-q") == "")
            #expect(try netctl.hostLinks() == hostBefore)
            #expect(try netctl.host.run(["nft", "list", "ruleset"]).stdout == rulesetBefore)
            #expect(try netctl.ok("system", "reconcile") == "nothing to repair\n")
            try netctl.ok(run)
        }
    }

    /// The next `run` trips over what a killed one left (the name, the port) and repairs
    /// it itself, without reconcile.
    @Test func theNextRunRepairsWhatAKilledRunLeft() throws {
        try withNetctl { netctl in
            let image = try netctl.importBusybox()
            try netctl.ok("network", "create", "--subnet", "198.18.76.0/24", "web")
            let run = ["run", "-d", "--name", "web1", "--network", "web", "-p", "8086:80", image, "sleep", "600"]
            let killed = try netctl.netctl(run, environment: ["NETCTL_FAULT": "run.after-create"])
            #expect(killed.status == 9 || killed.status == 137, "the fault point was not reached: \(killed.stderr)")

            let id = try netctl.ok(run).trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(try netctl.ok("ps", "-aq") == "\(id.prefix(12))\n")
            #expect(try netctl.ok("sandbox", "ls", "-q") == "nc-\(id.prefix(12))\n")
        }
    }

    /// `run -d --memory` killed once its cgroups are made but before it records them: they
    /// are named in the record beforehand, so reconcile removes them with the container.
    @Test func aRunKilledWhileMakingItsCgroupsLeavesNoCgroup() throws {
        try withNetctl { netctl in
            let image = try netctl.importBusybox()
            let killed = try netctl.netctl(["run", "-d", "--memory", "16m", image, "sleep", "600"],
                                           environment: ["NETCTL_FAULT": "run.after-cgroups"])
            #expect(killed.status == 9 || killed.status == 137, "the fault point was not reached: \(killed.stderr)")
            let id = try netctl.ok("ps", "-aq").trimmingCharacters(in: .whitespacesAndNewlines)
            try #require(id.count == 12)
            let cgroups = { try runCommand(["find", "/sys/fs/cgroup", "-type", "d", "-path", "*/netctl/\(id)*"]).stdout }
            #expect(try cgroups() != "")

            let report = try netctl.ok("system", "reconcile")
            #expect(report.contains("(the command creating it was killed)"), "reconcile reported: \(report)")
            #expect(try cgroups() == "")
            #expect(try netctl.ok("ps", "-aq") == "")
        }
    }

    /// `rm -f` killed once it has begun: reconcile finishes the removal.
    @Test func anInterruptedRemovalIsFinishedByReconcile() throws {
        try withNetctl { netctl in
            let image = try netctl.importBusybox()
            try netctl.ok("network", "create", "--subnet", "198.18.77.0/24", "web")
            let hostBefore = try netctl.hostLinks()
            let id = try netctl.ok("run", "-d", "--network", "web", "-p", "8087:80", image, "sleep", "600")
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let killed = try netctl.netctl(["rm", "-f", id], environment: ["NETCTL_FAULT": "rm.after-mark"])
            #expect(killed.status == 9 || killed.status == 137, "the fault point was not reached: \(killed.stderr)")

            let report = try netctl.ok("system", "reconcile")
            #expect(report.contains("(the command removing it was killed)"), "reconcile reported: \(report)")
            #expect(try netctl.ok("ps", "-aq") == "")
            #expect(try netctl.ok("sandbox", "ls", "-q") == "")
            #expect(try netctl.hostLinks() == hostBefore)
            #expect(!FileManager.default.fileExists(atPath: "\(netctl.root)/storage/containers/\(id)"))
        }
    }

    /// Temporary files of writers that are gone are removed by reconcile, and with the
    /// folder of a removed network; a live writer's file is left alone.
    @Test func temporaryFilesOfKilledWritersAreRemoved() throws {
        try withNetctl { netctl in
            try netctl.ok("network", "create", "--subnet", "198.18.78.0/24", "web")
            let networkID = try netctl.ok("network", "ls", "-q", "--no-trunc", "--filter", "name=web")
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let dead = try exitedProcessID()
            let endpoints = "\(netctl.root)/endpoints/\(networkID)"
            try FileManager.default.createDirectory(atPath: endpoints, withIntermediateDirectories: true)
            let stale = ["\(netctl.root)/containers/0123.json.tmp\(dead)", "\(netctl.root)/sandboxes/4567.json.tmp\(dead)"]
            let live = "\(netctl.root)/containers/89ab.json.tmp\(getpid())"
            try FileManager.default.createDirectory(atPath: "\(netctl.root)/containers", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: "\(netctl.root)/sandboxes", withIntermediateDirectories: true)
            for path in stale + [live, "\(endpoints)/cdef.json.tmp\(dead)"] {
                #expect(FileManager.default.createFile(atPath: path, contents: Data("{".utf8)))
            }

            let report = try netctl.ok("system", "reconcile")
            for path in stale {
                #expect(report.contains("removed \(path)"), "reconcile reported: \(report)")
                #expect(!FileManager.default.fileExists(atPath: path))
            }
            #expect(FileManager.default.fileExists(atPath: live))

            // The folder went with its stale file; made again, with one: network rm takes both.
            #expect(!FileManager.default.fileExists(atPath: endpoints))
            try FileManager.default.createDirectory(atPath: endpoints, withIntermediateDirectories: true)
            #expect(FileManager.default.createFile(atPath: "\(endpoints)/cdef.json.tmp\(dead)", contents: Data("{".utf8)))
            try netctl.ok("network", "rm", "web")
            #expect(!FileManager.default.fileExists(atPath: endpoints))
        }
    }
}

/// The pid of a process that has ended (and been reaped).
private func exitedProcessID() throws -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/true")
    try process.run()
    process.waitUntilExit()
    return process.processIdentifier
}
