import Foundation
import Glibc

// The engines netctl plugs into — dockerd 20.10 and containerd 1.6, Debian's — started by
// the tests that need them and stopped after, leaving the host as it was:
// - each runs in a mount namespace of its own whose /run is a directory of the test's
//   (so /run/docker/plugins, /run/containerd and the shims' sockets are the test's, and
//   nothing is made under the host's /run), and, when asked, inside a network namespace
//   of the test's, which then is its "host";
// - its data, exec and state roots are in the test's directory, its cgroups under a
//   parent named for the test, removed after;
// - dockerd never touches a firewall or forwarding (--iptables=false, --ip-forward=false,
//   --bridge=none), and the host's iptables rules, policies, nftables ruleset and
//   forwarding switches are read before and put back after if anything changed them;
// - every process left in its mount namespace (shims, containers) is killed by pid when
//   it stops;
// - one engine test runs at a time (they share the cgroup trees and are heavy on 2 cores).

// A semaphore, not a lock: PodmanSetup takes it in init and gives it back in cleanUp,
// which a test may call from another thread.
private let engineTests = DispatchSemaphore(value: 1)

/// Runs `body` as the only engine test running (dockerd, containerd and podman share the
/// host's cgroup trees and podman's lock file).
public func withEngineLock<T>(_ body: () throws -> T) rethrows -> T {
    engineTests.wait()
    defer { engineTests.signal() }
    return try body()
}

func takeEngineLock() { engineTests.wait() }
func giveEngineLock() { engineTests.signal() }

/// What podman leaves on the host whatever its roots: its shared-memory lock file, the
/// directory of its network files, runc's default state root (conmon's cleanup calls the
/// runtime without podman's `--runtime-flag`s), and the cgroups it makes for conmon
/// (cgroupfs manager).
/// Read before a podman test; `remove()` takes away what was not there before.
public struct PodmanLeftovers: Sendable {
    static let files = ["/dev/shm/libpod_lock", "/run/containers", "/run/runc"]
    static let cgroup = "libpod_parent"
    let existed: Set<String>

    public static func read() -> PodmanLeftovers {
        var existed = Set(files.filter { FileManager.default.fileExists(atPath: $0) })
        if FileManager.default.fileExists(atPath: "/sys/fs/cgroup/memory/\(cgroup)") { existed.insert(cgroup) }
        return PodmanLeftovers(existed: existed)
    }

    /// Call holding the engine lock, with no podman of the test's running.
    public func remove() {
        for file in Self.files where !existed.contains(file) { try? FileManager.default.removeItem(atPath: file) }
        if !existed.contains(Self.cgroup) { removeCgroupTree(named: Self.cgroup) }
    }
}

/// What an engine could change in the host's network set-up.
public struct HostNetworkState: Equatable, Sendable {
    public var iptables: String
    public var ip6tables: String
    public var forwarding: String
    public var forwarding6: String
    /// `nft -s list ruleset` (without counters, which change by themselves).
    public var nftables: String

    public static func read() -> HostNetworkState {
        func rules(_ tool: String) -> String {
            // Rules and policies; the counters and comment lines change by themselves.
            let output = (try? runCommand([tool, "-S"]))?.stdout ?? ""
            return output
        }
        func file(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
        return HostNetworkState(iptables: rules("iptables"), ip6tables: rules("ip6tables"),
                                forwarding: file("/proc/sys/net/ipv4/ip_forward"),
                                forwarding6: file("/proc/sys/net/ipv6/conf/all/forwarding"),
                                nftables: (try? runCommand(["nft", "-s", "list", "ruleset"]))?.stdout ?? "")
    }

    /// Puts back what changed; returns what had changed (empty when nothing).
    @discardableResult
    public func restore() -> [String] {
        let now = HostNetworkState.read()
        var changed: [String] = []
        if now.forwarding != forwarding {
            changed.append("ip_forward \(now.forwarding.trimmed) (was \(forwarding.trimmed))")
            try? forwarding.write(toFile: "/proc/sys/net/ipv4/ip_forward", atomically: false, encoding: .utf8)
        }
        if now.forwarding6 != forwarding6 {
            changed.append("ipv6 forwarding \(now.forwarding6.trimmed) (was \(forwarding6.trimmed))")
            try? forwarding6.write(toFile: "/proc/sys/net/ipv6/conf/all/forwarding", atomically: false, encoding: .utf8)
        }
        for (tool, before, after) in [("iptables", iptables, now.iptables), ("ip6tables", ip6tables, now.ip6tables)] where before != after {
            changed.append("\(tool) rules")
            HostNetworkState.put(rules: before, with: tool)
        }
        // Last: iptables here is iptables-nft, whose flush above may itself leave a table.
        if (try? runCommand(["nft", "-s", "list", "ruleset"]))?.stdout ?? "" != nftables {
            changed.append("nftables ruleset")
            HostNetworkState.put(ruleset: nftables)
        }
        return changed
    }

    /// `nft flush ruleset`, then the saved ruleset loaded again.
    private static func put(ruleset: String) {
        _ = try? runCommand(["nft", "flush", "ruleset"])
        guard !ruleset.isEmpty else { return }
        let file = NSTemporaryDirectory() + uniqueName("nct-ruleset-") + ".nft"
        defer { try? FileManager.default.removeItem(atPath: file) }
        guard (try? ruleset.write(toFile: file, atomically: false, encoding: .utf8)) != nil else { return }
        _ = try? runCommand(["nft", "-f", file])
    }

    /// Restores `iptables -S` output: policies back, every chain of the filter table
    /// flushed and the listed rules appended again (what -S lists is the filter table).
    private static func put(rules: String, with tool: String) {
        _ = try? runCommand([tool, "-F"])
        _ = try? runCommand([tool, "-X"])
        for line in rules.split(separator: "\n") {
            let words = line.split(separator: " ").map(String.init)
            guard let first = words.first else { continue }
            switch first {
            case "-P", "-A": _ = try? runCommand([tool] + words)
            case "-N": _ = try? runCommand([tool] + words)
            default: continue
            }
        }
    }
}

extension String {
    fileprivate var trimmed: String { trimmingCharacters(in: .whitespacesAndNewlines) }
}

/// A daemon in a mount namespace of its own (and a network namespace, when given), with
/// `run` bound over its /run. Everything that ends up in that mount namespace is its.
public final class NamespacedDaemon {
    public let directory: String
    public let netns: String?
    let processes: ServerProcesses
    public private(set) var pid: Int32 = 0
    private var mountNamespace = ""
    /// Held open until `stop` has killed what is left in the mount namespace: while it is,
    /// the namespace lives and its inode number cannot pass to another test's container.
    private var mountNamespaceHandle: Int32 = -1

    init(directory: String, netns: String?) {
        self.directory = directory
        self.netns = netns
        processes = ServerProcesses(directory: directory)
    }

    /// The directory that is /run inside.
    public var run: String { directory + "/run" }

    /// Starts `arguments` with `binds` (host path → path inside) mounted in its new mount
    /// namespace, /run first. Each target must exist.
    func start(_ arguments: [String], binds: [(String, String)] = [], log: String) throws {
        try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
        let mounts = ([(run, "/run")] + binds).map { "mount --bind '\($0.0)' '\($0.1)' || exit 97; " }.joined()
        var line = ["/usr/bin/unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c",
                    mounts + "exec \"$@\"", "sh"] + arguments
        // nsenter, not `ip netns exec`, which mounts a sysfs of the namespace's over /sys and
        // with it hides the cgroup hierarchies.
        if let netns { line = ["/usr/bin/nsenter", "--net=/run/netns/\(netns)", "--"] + line }
        try processes.launch(line[0], Array(line.dropFirst()), log: log)
        pid = processes.lastPID
        // nsenter, unshare and sh each exec the next: the pid is the daemon's once
        // its mount namespace is the new one.
        let deadline = Date().addingTimeInterval(10)
        let hostNamespace = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/mnt")) ?? ""
        while Date() < deadline {
            if let namespace = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/mnt"), namespace != hostNamespace {
                mountNamespaceHandle = open("/proc/\(pid)/ns/mnt", O_RDONLY | O_CLOEXEC)
                mountNamespace = namespace
                return
            }
            usleep(10_000)
        }
        throw HarnessError("\(arguments[0]) did not start in a mount namespace of its own: \(logText(log))")
    }

    /// The command line that runs `arguments` inside the daemon's namespaces (nsenter).
    public func inside(_ arguments: [String]) -> [String] {
        var line = ["/usr/bin/nsenter", "--target", String(pid), "--mount"]
        if netns != nil { line.append("--net") }
        return line + ["--"] + arguments
    }

    public func logText(_ name: String) -> String {
        (try? String(contentsOfFile: directory + "/" + name, encoding: .utf8)) ?? ""
    }

    /// Stops the daemon (TERM, then KILL), then kills, by pid, every process still in its
    /// mount namespace (shims, containers).
    func stop() {
        processes.stop()
        guard !mountNamespace.isEmpty else { return }
        defer { if mountNamespaceHandle >= 0 { close(mountNamespaceHandle) } }
        for _ in 0..<3 {
            let left = Self.processes(inMountNamespace: mountNamespace)
            if left.isEmpty { return }
            for pid in left { kill(pid, SIGKILL) }
            usleep(100_000)
        }
    }

    static func processes(inMountNamespace namespace: String) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { Int32($0) }.filter {
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\($0)/ns/mnt")) == namespace
        }
    }
}

/// Removes a cgroup parent (and whatever is left below it) from every hierarchy.
func removeCgroupTree(named name: String) {
    let base = "/sys/fs/cgroup"
    let hierarchies = ((try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []).map { "\(base)/\($0)" }
    for hierarchy in hierarchies + [base] {
        let top = "\(hierarchy)/\(name)"
        guard FileManager.default.fileExists(atPath: top) else { continue }
        // Depth first: a cgroup directory goes with rmdir once its children have.
        let below = (FileManager.default.subpaths(atPath: top) ?? [])
            .map { "\(top)/\($0)" }
            .filter { var info = stat(); return stat($0, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR }
            .sorted { $0.count > $1.count }
        for directory in below + [top] { rmdir(directory) }
    }
}

// MARK: dockerd

/// Debian's dockerd 20.10 with everything of its own under a test directory.
public final class DockerDaemon {
    public let daemon: NamespacedDaemon
    public let socket: String
    public let cgroupParent: String

    /// The directory that is /run/docker/plugins for dockerd: a plugin's socket here
    /// (`NAME.sock`) is found as plugin NAME.
    public var pluginDirectory: String { daemon.run + "/docker/plugins" }

    init(directory: String, netns: String?) {
        daemon = NamespacedDaemon(directory: directory, netns: netns)
        socket = directory + "/docker.sock"
        cgroupParent = uniqueName("nctdocker")
    }

    /// `docker ARGS…` against this daemon (Debian's client, /usr/bin/docker).
    public func docker(_ arguments: [String], environment: [String: String] = [:]) throws -> CommandResult {
        try runCommand(["/usr/bin/docker", "-H", "unix://" + socket] + arguments,
                       environment: ["DOCKER_CONFIG": daemon.directory + "/cli"].merging(environment) { $1 })
    }

    /// Like `docker`, but it must succeed; returns its standard output.
    @discardableResult
    public func ok(_ arguments: String...) throws -> String {
        let result = try docker(arguments)
        guard result.status == 0 else {
            throw HarnessError("docker \(arguments.joined(separator: " ")) exited \(result.status): \(result.stderr)")
        }
        return result.stdout
    }

    /// Loads the busybox test image (`nctest/busybox:latest`).
    public func loadBusybox() throws -> String {
        try ok("load", "-i", try TestImages.busybox().archive)
        return "nctest/busybox:latest"
    }

    public var log: String { daemon.logText("dockerd.log") }

    func start(runtimes: [String: String], arguments: [String]) throws {
        let directory = daemon.directory
        try FileManager.default.createDirectory(atPath: pluginDirectory, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: directory + "/cli", withIntermediateDirectories: true)
        var line = ["/usr/sbin/dockerd", "-H", "unix://" + socket,
                    "--data-root", directory + "/data", "--exec-root", "/run/docker", "--pidfile", "/run/docker.pid",
                    "--iptables=false", "--ip6tables=false", "--ip-forward=false", "--ip-masq=false", "--bridge=none",
                    "--userland-proxy=false", "--storage-driver", "vfs", "--cgroup-parent", "/" + cgroupParent,
                    "--exec-opt", "native.cgroupdriver=cgroupfs", "--log-level", "warn", "--no-new-privileges=false"]
        for (name, path) in runtimes.sorted(by: { $0.key < $1.key }) { line += ["--add-runtime", "\(name)=\(path)"] }
        line += arguments
        // dockerd's own containerd, shims and runtimes find their programs in PATH.
        try daemon.start(["/usr/bin/env", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"] + line, log: "dockerd.log")
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if let result = try? docker(["version", "--format", "{{.Server.Version}}"]), result.status == 0 { return }
            if kill(daemon.pid, 0) != 0 { break }
            usleep(100_000)
        }
        throw HarnessError("dockerd did not answer within 60 s: \(log.suffix(2000))")
    }

    func stop() {
        // Containers first, so that their networks and plugins see them go.
        if let ids = try? docker(["ps", "-aq"]).stdout.split(separator: "\n").map(String.init), !ids.isEmpty {
            _ = try? docker(["rm", "-f"] + ids)
        }
        daemon.stop()
        removeCgroupTree(named: cgroupParent)
    }
}

/// Runs `body` with a dockerd of its own (in network namespace `netns` when given: then
/// that namespace is dockerd's host, where a network plugin's interfaces must be), stops
/// it after and puts back what it changed in the host's firewall and forwarding.
/// `runtimes` are `--add-runtime NAME=PATH`.
public func withDockerd<T>(netns: String? = nil, runtimes: [String: String] = [:], arguments: [String] = [],
                           _ body: (DockerDaemon) throws -> T) throws -> T {
    engineTests.wait()
    defer { engineTests.signal() }
    let before = HostNetworkState.read()
    let directory = "/tmp/" + uniqueName("ncd")
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let docker = DockerDaemon(directory: directory, netns: netns)
    var changed: [String] = []
    let result = try afterwards({
        docker.stop()
        changed = before.restore()
        // vfs layers are plain directories; the data root goes with the rest.
        try? FileManager.default.removeItem(atPath: directory)
    }) {
        try docker.start(runtimes: runtimes, arguments: arguments)
        return try body(docker)
    }
    try expectUnchanged(changed, by: "dockerd")
    return result
}

/// `body`, then `cleanUp` however it ended.
func afterwards<T>(_ cleanUp: () -> Void, _ body: () throws -> T) throws -> T {
    defer { cleanUp() }
    return try body()
}

/// An engine that changed the host's firewall or forwarding fails its test, though the
/// fixture put it back.
func expectUnchanged(_ changed: [String], by engine: String) throws {
    guard changed.isEmpty else { throw HarnessError("\(engine) changed the host's \(changed.joined(separator: ", ")) (put back)") }
}

// MARK: containerd

/// Debian's containerd 1.6 with its root, state and socket under a test directory.
public final class Containerd {
    public let daemon: NamespacedDaemon
    public let address: String
    /// The containerd namespace the tests use, unique: ctr makes cgroups under its name.
    public let namespace = uniqueName("nctest")

    init(directory: String, netns: String?) {
        daemon = NamespacedDaemon(directory: directory, netns: netns)
        address = directory + "/containerd.sock"
    }

    /// `ctr ARGS…` run inside containerd's mount namespace (where its /run is, and so the
    /// FIFOs of a container's stdio), in the test's containerd namespace.
    public func ctr(_ arguments: [String], environment: [String: String] = [:]) throws -> CommandResult {
        try runCommand(daemon.inside(["/usr/bin/ctr", "--address", address, "--namespace", namespace] + arguments),
                       environment: environment)
    }

    @discardableResult
    public func ok(_ arguments: String...) throws -> String {
        let result = try ctr(arguments)
        guard result.status == 0 else {
            throw HarnessError("ctr \(arguments.joined(separator: " ")) exited \(result.status): \(result.stderr)")
        }
        return result.stdout
    }

    /// Imports the busybox test image (`docker.io/nctest/busybox:latest`).
    public func importBusybox() throws -> String {
        try ok("images", "import", "--no-unpack", try TestImages.busybox().archive)
        return "docker.io/nctest/busybox:latest"
    }

    public var log: String { daemon.logText("containerd.log") }

    func start(binds: [(String, String)]) throws {
        let directory = daemon.directory
        let config = """
            version = 2
            root = "\(directory)/root"
            state = "/run/containerd"
            disabled_plugins = ["io.containerd.grpc.v1.cri"]
            [grpc]
              address = "\(address)"
            [plugins."io.containerd.internal.v1.opt"]
              path = "\(directory)/opt"

            """
        try config.write(toFile: directory + "/config.toml", atomically: true, encoding: .utf8)
        try daemon.start(["/usr/bin/env", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "/usr/bin/containerd", "--config", directory + "/config.toml"],
                         binds: binds, log: "containerd.log")
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if let result = try? ctr(["version"]), result.status == 0 { return }
            if kill(daemon.pid, 0) != 0 { break }
            usleep(100_000)
        }
        throw HarnessError("containerd did not answer within 30 s: \(log.suffix(2000))")
    }

    func stop() {
        if let tasks = try? ctr(["tasks", "ls", "-q"]).stdout.split(separator: "\n").map(String.init) {
            for task in tasks { _ = try? ctr(["tasks", "kill", "-s", "SIGKILL", task]) }
            usleep(200_000)
            for task in tasks { _ = try? ctr(["tasks", "delete", "-f", task]) }
        }
        if let containers = try? ctr(["containers", "ls", "-q"]).stdout.split(separator: "\n").map(String.init), !containers.isEmpty {
            _ = try? ctr(["containers", "delete"] + containers)
        }
        daemon.stop()
        removeCgroupTree(named: namespace)
    }
}

/// Runs `body` with a containerd of its own (in network namespace `netns` when given),
/// with `binds` (host path → path inside, each existing) mounted in its mount namespace,
/// which `ctr` runs in too; stops it after and leaves the host as it was.
public func withContainerd<T>(netns: String? = nil, binds: [(String, String)] = [], _ body: (Containerd) throws -> T) throws -> T {
    engineTests.wait()
    defer { engineTests.signal() }
    let before = HostNetworkState.read()
    let directory = "/tmp/" + uniqueName("ncc")
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let containerd = Containerd(directory: directory, netns: netns)
    var changed: [String] = []
    let result = try afterwards({
        containerd.stop()
        changed = before.restore()
        unmountBelow(directory)
        try? FileManager.default.removeItem(atPath: directory)
    }) {
        try containerd.start(binds: binds)
        return try body(containerd)
    }
    try expectUnchanged(changed, by: "containerd")
    return result
}

/// Lazily unmounts whatever the host sees mounted below `directory` (nothing, when the
/// engine's mounts stayed in its namespace, as they should).
func unmountBelow(_ directory: String) {
    guard let mounts = try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8) else { return }
    let targets = mounts.split(separator: "\n").compactMap { $0.split(separator: " ").dropFirst().first.map(String.init) }
        .filter { $0.hasPrefix(directory + "/") }
        .sorted { $0.count > $1.count }
    for target in targets { umount2(target, Int32(MNT_DETACH)) }
}
