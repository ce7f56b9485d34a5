import FoundationEssentials
import Glibc
import Netlink

/// A lab: several hosts on one machine, built from a topology file, with everything it
/// keeps in one directory:
///
///     /run/netctl-lab/demo/
///       topology.yaml         the file it was made from, as read
///       state.json            the processes it started (agents, etcd by pid) and TLS files
///       hosts/h1/root         h1's netctl state root; hosts/h1/agent.log its agent's log
///       etcd/                 etcd's data, logs and, with TLS, certs/
///
/// A command runs *on a lab host* by entering only that host's network namespace (the
/// mount namespace stays this machine's, so namespaces mounted later under /run/netns are
/// seen) with the host's environment: its state root, the cluster store, its name and
/// underlay address. `lab exec`, the agents and the lab's own netctl calls all go that way.
public struct Lab: Sendable {
    public let directory: String
    public let topology: LabTopology
    public let plan: LabPlan
    public internal(set) var state: LabState

    /// Where a lab keeps its state unless `--dir` says otherwise: never the state root of
    /// this machine's netctl.
    public static func defaultDirectory(name: String) -> String { "/run/netctl-lab/\(name)" }

    /// The etcd client port on every member.
    public static let etcdClientPort: UInt16 = 2379
    public static let etcdPeerPort: UInt16 = 2380

    /// The address pool the hosts' netctl uses for networks made without a subnet.
    public static let hostPools = "base=\(LabTopology.hostPool),size=24"

    init(directory: String, topology: LabTopology, state: LabState) {
        self.directory = Self.absolute(directory)
        self.topology = topology
        plan = LabPlan(topology)
        self.state = state
    }

    /// The lab whose state is in `directory`.
    public static func open(directory: String) throws -> Lab {
        let text: String
        do {
            text = try LabFiles.read(directory + "/topology.yaml", limit: LabTopology.maximumFileSize)
        } catch {
            throw LabError("no lab in \(directory) (expected a directory made by netctl lab up)")
        }
        let topology = try LabTopology.parse(text, file: "topology.yaml")
        let state = (try? JSONDecoder().decode(LabState.self, from: Data(LabFiles.read(directory + "/state.json", limit: 1 << 20).utf8)))
            ?? LabState()
        return Lab(directory: directory, topology: topology, state: state)
    }

    // MARK: Paths

    /// Paths handed to processes on the hosts (state roots, certificates) must not depend
    /// on the directory they run in.
    static func absolute(_ path: String) -> String {
        guard !path.hasPrefix("/"), let cwd = getcwd(nil, 0) else { return path }
        defer { free(cwd) }
        let base = String(cString: cwd)
        return (base == "/" ? "" : base) + "/" + (path.hasPrefix("./") ? String(path.dropFirst(2)) : path)
    }

    public func hostDirectory(_ host: String) -> String { "\(directory)/hosts/\(host)" }
    public func hostRoot(_ host: String) -> String { hostDirectory(host) + "/root" }
    public var etcdDirectory: String { directory + "/etcd" }
    public var certificateDirectory: String { directory + "/etcd/certs" }

    // MARK: Running on a host

    /// `etcd://IP:PORT,…` for the hosts' `NETCTL_CLUSTER_STORE`.
    public var clusterStore: String {
        "etcd://" + plan.etcdMembers.map { "\($0.address):\(Self.etcdClientPort)" }.joined(separator: ",")
    }

    /// The environment of a process on `host`: this process's, less NETCTL_HOST_NETNS (the
    /// host is the namespace it runs in), with the host's state root, cluster store and
    /// certificates, name and underlay address.
    public func environment(host: String) -> [String: String] {
        var environment = LabRunner.environmentDictionary()
        for key in ["NETCTL_HOST_NETNS", "NETCTL_CLUSTER_CA", "NETCTL_CLUSTER_CERT", "NETCTL_CLUSTER_KEY"] {
            environment[key] = nil
        }
        environment["NETCTL_ROOT"] = hostRoot(host)
        environment["NETCTL_CLUSTER_STORE"] = clusterStore
        if let tls = state.clientTLS {
            environment["NETCTL_CLUSTER_CA"] = tls.ca
            environment["NETCTL_CLUSTER_CERT"] = tls.cert
            environment["NETCTL_CLUSTER_KEY"] = tls.key
        }
        environment["NETCTL_NODE_NAME"] = host
        environment["NETCTL_ADVERTISE_ADDR"] = plan.node(host).map { $0.address.description }
        environment["NETCTL_DEFAULT_ADDRESS_POOLS"] = Self.hostPools
        return environment
    }

    /// `nsenter --net=/run/netns/<lab>-<host> -- COMMAND…`, with `netctl` as the command
    /// replaced by this binary, so the lab runs the netctl it was started with.
    public func commandLine(host: String, _ command: [String]) throws -> [String] {
        guard let node = plan.node(host), node.role == .host else {
            throw LabError("lab \"\(topology.name)\": no host \"\(host)\" (expected one of \(plan.hosts.map(\.name).joined(separator: ", ")))")
        }
        var command = command
        if command.first == "netctl" { command[0] = LabRunner.ownExecutable }
        return ["nsenter", "--net=\(NetworkNamespace.directory)/\(node.namespace)", "--"] + command
    }

    /// Runs a command on a host to its end.
    func run(host: String, _ command: [String]) throws -> LabRunner.Result {
        try LabRunner.run(try commandLine(host: host, command), environment: environment(host: host))
    }

    /// Runs netctl on a host; a failure is one line naming the host and the command.
    @discardableResult
    func netctl(host: String, _ arguments: String...) throws -> String {
        let result = try run(host: host, ["netctl"] + arguments)
        guard result.status == 0 else {
            throw LabError("host \(host): netctl \(arguments.prefix(3).joined(separator: " ")) exited \(result.status): \(result.reason)")
        }
        return result.output
    }

    /// Replaces this process with COMMAND on a host (`lab exec`): its exit status is the command's.
    public func exec(host: String, _ command: [String]) throws -> Never {
        let argv = try commandLine(host: host, command)
        let wanted = environment(host: host)
        for (key, _) in LabRunner.environmentDictionary() where wanted[key] == nil { unsetenv(key) }
        for (key, value) in wanted { setenv(key, value, 1) }
        LabRunner.withCStrings(argv) { argv in _ = execvp(argv[0]!, argv) }
        throw LabError("\(argv[0]): \(String(cString: strerror(errno)))")
    }

    // MARK: State

    func saveState() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try LabFiles.write(directory + "/state.json", Array(try encoder.encode(state)))
    }
}

/// What a lab started and must stop.
public struct LabState: Codable, Sendable {
    /// Agents by host.
    public var agents: [String: LabProcessStamp] = [:]
    /// etcd members by name.
    public var etcd: [String: LabProcessStamp] = [:]
    /// The client's CA, certificate and key files, when etcd runs with TLS.
    public var clientTLS: ClientTLS?
    public struct ClientTLS: Codable, Sendable { public var ca, cert, key: String }
    /// The topology file's directory: relative image paths are read from there.
    public var fileDirectory = "."
    /// Set when `lab up` finished.
    public var complete = false
}
