import Foundation
import Netlink
import TestSupport
import Testing

/// The real CNI runtimes run netctl-cni: containerd's `ctr run --cni` and Podman's CNI
/// network backend. A container each starts on a netctl network reaches a container netctl
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

    /// Network `web` on `subnet` with a container `netctl run` started on it, which the
    /// client's container must reach: that container's address (the harness removes it).
    static func webWithANetctlContainer(_ netctl: NetctlHarness, subnet: String) throws -> String {
        try netctl.ok("network", "create", "--subnet", subnet, "web")
        let peer = uniqueName("nctpeer")
        try netctl.ok("run", "-d", "--name", peer, "--network", "web", try netctl.importBusybox(), "sleep", "300")
        return try #require(try netctl.address(of: peer, on: "web"))
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

    @Test func containerdCtrRunWithCNIReachesANetctlContainer() throws {
        try withNetctl { netctl in
            let peerAddress = try Self.webWithANetctlContainer(netctl, subnet: "198.18.60.0/24")
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
                                              "sh", "-c", "ip -4 addr show eth0 && ping -c 1 -W 2 \(peerAddress)"])
                #expect(run.status == 0, "ctr run: \(run.stdout)\(run.stderr)\n\(containerd.log.suffix(3000))")
                #expect(run.stdout.contains("inet 198.18.60."), "\(run.stdout)")
                #expect(run.stdout.contains("1 packets received"), "\(run.stdout)")
            }
            try Self.expectNothingLeft(netctl, hostLinks: hostLinks, namespaces: namespaces)
        }
    }

    /// Podman's CNI backend, in the netctl host namespace and a mount namespace of its own
    /// (a tmpfs on /dev/shm for its locks, its network namespaces mounted there only), with
    /// runc (crun refuses this machine's hybrid cgroups) and ulimits this kernel allows
    /// (no CAP_SYS_RESOURCE: podman's default nofile cannot be set).
    @Test func podmanWithItsCNIBackendReachesANetctlContainerAndPublishesAPort() throws {
        // One engine test at a time; what podman leaves on the host (its cgroups for conmon,
        // /run/containers) goes after, unless it was there before.
        try withEngineLock {
            let leftovers = PodmanLeftovers.read()
            defer { leftovers.remove() }
            try withNetctl { netctl in
                try withClient(of: netctl) { client in
                    let peerAddress = try Self.webWithANetctlContainer(netctl, subnet: "198.18.61.0/24")
                    let hostLinks = try netctl.hostLinks()
                    let namespaces = Set(NetworkNamespace.names())

                    let directory = "/tmp/" + uniqueName("ncpod")
                    let cgroupParent = uniqueName("ncpodcg")
                    defer {
                        removeCgroups(named: cgroupParent)
                        try? FileManager.default.removeItem(atPath: directory)
                    }
                    try FileManager.default.createDirectory(atPath: directory + "/net.d", withIntermediateDirectories: true)
                    try FileManager.default.createDirectory(atPath: directory + "/tmp", withIntermediateDirectories: true)
                    try Self.pluginDirectory(directory + "/bin")
                    try Self.conflist(name: "netctlweb", network: "web", root: netctl.root, capabilities: true)
                        .write(toFile: directory + "/net.d/10-netctl.conflist", atomically: true, encoding: .utf8)
                    try """
                    [containers]
                    default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
                    [network]
                    network_backend = "cni"
                    cni_plugin_dirs = ["\(directory)/bin"]
                    network_config_dir = "\(directory)/net.d"
                    [engine]
                    cgroup_manager = "cgroupfs"
                    events_logger = "file"
                    runtime = "runc"
                    tmp_dir = "\(directory)/tmp"

                    """.write(toFile: directory + "/containers.conf", atomically: true, encoding: .utf8)
                    let podman = "podman --root \(directory)/root --runroot \(directory)/runroot --storage-driver vfs " +
                        "--runtime-flag root=\(directory)/runc --cgroup-manager cgroupfs"
                    let image = "docker.io/nctest/busybox:latest"
                    let script = """
                    set -e
                    mount -t tmpfs -o size=4m tmpfs /dev/shm
                    \(podman) load -q -i \(try TestImages.busybox().archive)
                    \(podman) run --rm --network netctlweb --cgroup-parent \(cgroupParent) \(image) \
                        sh -c 'ip -4 addr show eth0 && ping -c 1 -W 2 \(peerAddress)'
                    \(podman) run -d --name web --network netctlweb --cgroup-parent \(cgroupParent) -p 8080:80 \(image) \
                        sh -c 'mkdir -p /www && echo served-by-podman > /www/index.html && exec httpd -f -p 80 -h /www' >/dev/null
                    # Until httpd listens (readiness, not a measure of time).
                    for i in $(seq 100); do
                        if ip netns exec \(client.namespace.name) curl -s -m 2 http://\(Client.hostAddress):8080/index.html; then break; fi
                        sleep 0.1
                    done
                    \(podman) rm -f -t 0 web >/dev/null
                    """
                    try script.write(toFile: directory + "/podman.sh", atomically: true, encoding: .utf8)
                    let run = try runCommand(["unshare", "-m", "--propagation", "private", "--",
                                              "nsenter", "--net=/run/netns/\(netctl.host.name)", "--",
                                              "sh", directory + "/podman.sh"],
                                             environment: ["CONTAINERS_CONF": directory + "/containers.conf"])
                    #expect(run.status == 0, "podman: \(run.stdout)\(run.stderr)")
                    #expect(run.stdout.contains("inet 198.18.61."), "\(run.stdout)")
                    #expect(run.stdout.contains("1 packets received"), "\(run.stdout)")
                    #expect(run.stdout.contains("served-by-podman"), "\(run.stdout)\(run.stderr)")
                    try Self.expectNothingLeft(netctl, hostLinks: hostLinks, namespaces: namespaces)
                    #expect(try !netctl.host.run(["nft", "list", "ruleset"]).stdout.contains("8080"))
                    // No conmon, container or podman process of this test is left.
                    #expect(processes(mentioning: directory).isEmpty, "left running: \(processes(mentioning: directory))")
                }
            }
        }
    }
}

/// Removes a cgroup (and what is left below it) from every hierarchy, deepest first.
func removeCgroups(named name: String) {
    let base = "/sys/fs/cgroup"
    for hierarchy in (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? [] {
        let top = "\(base)/\(hierarchy)/\(name)"
        guard FileManager.default.fileExists(atPath: top) else { continue }
        var directories = [top]
        if let walker = FileManager.default.enumerator(atPath: top) {
            while let path = walker.nextObject() as? String {
                var isDirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: "\(top)/\(path)", isDirectory: &isDirectory), isDirectory.boolValue {
                    directories.append("\(top)/\(path)")
                }
            }
        }
        for directory in directories.sorted(by: { $0.count > $1.count }) { rmdir(directory) }
    }
}

/// Pids of processes whose command line mentions `text`.
func processes(mentioning text: String) -> [Int32] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap(Int32.init).filter { pid in
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
        return String(decoding: data, as: UTF8.self).contains(text)
    }
}
