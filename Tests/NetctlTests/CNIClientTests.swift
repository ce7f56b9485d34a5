import Foundation
import Netlink
import TestSupport
import Testing

/// The real CNI runtimes run netctl-cni: containerd's `ctr run --cni` and Podman's CNI
/// network backend. A container each starts on a netctl network reaches a sandbox netctl
/// started on it, and removing the container leaves nothing behind.
@Suite("netctl-cni: containerd and Podman as its runtimes", .serialized)
struct CNIClientTests {
    /// A directory of CNI plugins for a runtime: netctl-cni and the reference loopback.
    static func pluginDirectory(_ path: String) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: path + "/netctl-cni", withDestinationPath: CNIPlugin.binary)
        try FileManager.default.createSymbolicLink(atPath: path + "/loopback", withDestinationPath: "/usr/lib/cni/loopback")
    }

    static func conflist(name: String, network: String, root: String, capabilities: Bool = false) -> String {
        let capabilityList = capabilities ? ",\"capabilities\":{\"portMappings\":true,\"ips\":true,\"mac\":true}" : ""
        return """
        {"cniVersion":"1.0.0","name":"\(name)","plugins":[{"type":"netctl-cni","network":"\(network)","root":"\(root)"\(capabilityList)}]}
        """
    }

    /// What must be as it was after a client removed its container: no endpoint or sandbox
    /// in netctl, no extra link in the netctl host, no port element, nothing to reconcile.
    static func expectNothingLeft(_ netctl: NetctlHarness, hostLinks: Set<String>, namespaces: Set<String>) throws {
        #expect(try !netctl.ok("sandbox", "ls").contains("cni-"))
        #expect(try netctl.hostLinks() == hostLinks)
        #expect(Set(NetworkNamespace.names()).subtracting(namespaces).filter { $0.hasPrefix("cni-") }.isEmpty)
        #expect(try netctl.ok("system", "reconcile").contains("nothing to repair"))
        let inspect = try netctl.ok("network", "inspect", "web")
        #expect(!inspect.contains("cni-"))
    }

    @Test func containerdCtrRunWithCNIReachesANetctlSandbox() throws {
        try withNetctl { netctl in
            try netctl.ok("network", "create", "--subnet", "198.18.60.0/24", "web")
            let peer = try netctl.makeSandbox()
            try netctl.ok("network", "connect", "--ip", "198.18.60.250", "web", peer)
            let hostLinks = try netctl.hostLinks()
            let namespaces = Set(NetworkNamespace.names())

            // ctr reads /etc/cni/net.d and /opt/cni/bin: both are directories of the test's,
            // mounted over those paths in containerd's mount namespace only (where ctr runs).
            // /opt is replaced whole (/opt/cni does not exist to mount on), so the Swift
            // runtime netctl-cni loads from /opt/swift is linked in, file by file.
            let directory = "/tmp/" + uniqueName("nccni")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let configDirectory = directory + "/net.d", opt = directory + "/opt"
            try FileManager.default.createDirectory(atPath: configDirectory, withIntermediateDirectories: true)
            try Self.conflist(name: "netctlweb", network: "web", root: netctl.root)
                .write(toFile: configDirectory + "/10-netctl.conflist", atomically: true, encoding: .utf8)
            try Self.pluginDirectory(opt + "/cni/bin")
            try FileManager.default.createDirectory(atPath: opt + "/swift/usr/lib/swift", withIntermediateDirectories: true)
            let linked = try runCommand(["cp", "-al", "/opt/swift/usr/lib/swift/linux", opt + "/swift/usr/lib/swift/"])
            #expect(linked.status == 0, "\(linked.stderr)")

            try withContainerd(netns: netctl.host.name, binds: [(configDirectory, "/etc/cni/net.d"), (opt, "/opt")]) { containerd in
                let image = try containerd.importBusybox()
                let run = try containerd.ctr(["run", "--rm", "--cni", image, uniqueName("cnictr"),
                                              "sh", "-c", "ip -4 addr show eth0 && ping -c 1 -W 2 198.18.60.250"])
                #expect(run.status == 0, "ctr run: \(run.stdout)\(run.stderr)\n\(containerd.log.suffix(3000))")
                #expect(run.stdout.contains("inet 198.18.60."), "\(run.stdout)")
                #expect(run.stdout.contains("1 packets received"), "\(run.stdout)")
            }
            try Self.expectNothingLeft(netctl, hostLinks: hostLinks, namespaces: namespaces)
        }
    }
}
