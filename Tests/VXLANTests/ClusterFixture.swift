import DNS
import Foundation
import Glibc
import Netlink
import TestSupport
@testable import VXLAN

/// Several netctl "hosts" on one machine sharing an etcd on 127.0.0.1: each host is a
/// harness (a host namespace and a state root of its own), and the host namespaces are
/// joined by an underlay segment (a bridge in a switch namespace, 198.18.200.0/24), so
/// VXLAN between them is real. netctl itself runs in the test's namespace with
/// NETCTL_HOST_NETNS, and reaches etcd on loopback. Agents are processes of the test's
/// own, killed by pid. Everything goes when the body ends, however it ends.
final class ClusterFixture: @unchecked Sendable {
    let etcd: EtcdCluster
    let hosts: [NetctlHarness]
    let switchNamespace: TestNamespace
    private var agents: [Int: Process] = [:]
    private let logDirectory: String

    init(etcd: EtcdCluster, hosts: [NetctlHarness], switchNamespace: TestNamespace, logDirectory: String) {
        self.etcd = etcd
        self.hosts = hosts
        self.switchNamespace = switchNamespace
        self.logDirectory = logDirectory
    }

    static func underlayAddress(_ host: Int) -> String { "198.18.200.\(11 + host)" }
    static func nodeName(_ host: Int) -> String { "node\(host)" }

    /// What makes a netctl command run "on" host `index`.
    func environment(_ index: Int) -> [String: String] {
        var environment = [
            "NETCTL_CLUSTER_STORE": "etcd://" + etcd.endpoints.map { $0.split(separator: "/").last.map(String.init) ?? "" }.joined(separator: ","),
            "NETCTL_NODE_NAME": Self.nodeName(index),
            "NETCTL_ADVERTISE_ADDR": Self.underlayAddress(index),
        ]
        if let tls = etcd.tls {
            environment["NETCTL_CLUSTER_CA"] = tls.caFile
            environment["NETCTL_CLUSTER_CERT"] = tls.certFile
            environment["NETCTL_CLUSTER_KEY"] = tls.keyFile
        }
        return environment
    }

    @discardableResult
    func netctl(on index: Int, _ arguments: String...) throws -> CommandResult {
        try hosts[index].netctl(arguments, environment: environment(index))
    }

    /// The command must succeed; returns its output.
    @discardableResult
    func ok(on index: Int, _ arguments: String...) throws -> String {
        let result = try hosts[index].netctl(arguments, environment: environment(index))
        guard result.status == 0 else {
            throw HarnessError("on host \(index): netctl \(arguments.joined(separator: " ")) exited \(result.status): \(result.stderr)")
        }
        return result.stdout
    }

    /// A sandbox on host `index` connected to `network`; returns its name and address.
    func endpoint(on index: Int, network: String) throws -> (sandbox: String, address: String) {
        let sandbox = try hosts[index].makeSandbox()
        try ok(on: index, "network", "connect", network, sandbox)
        return (sandbox, try address(of: sandbox, on: network, host: index))
    }

    func address(of sandbox: String, on network: String, host index: Int) throws -> String {
        let inspect = try ok(on: index, "sandbox", "inspect", sandbox)
        guard let data = inspect.data(using: .utf8),
              let list = try JSONSerialization.jsonObject(with: data) as? [[String: Any]],
              let networks = list.first?["Networks"] as? [String: [String: Any]],
              let address = networks[network]?["IPAddress"] as? String else {
            throw HarnessError("sandbox \(sandbox) has no address on \(network): \(inspect)")
        }
        return address
    }

    /// Starts host `index`'s agent (a short lease, so tests see a dead agent's end soon).
    func startAgent(on index: Int, leaseTTL: Int = 3, metricsPort: UInt16? = nil) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: NetctlHarness.binary)
        process.arguments = ["agent", "--lease-ttl", String(leaseTTL)] + (metricsPort.map { ["--metrics-address", "127.0.0.1:\($0)"] } ?? [])
        var merged = ProcessInfo.processInfo.environment
        for (key, value) in hosts[index].environment.merging(environment(index), uniquingKeysWith: { $1 }) { merged[key] = value }
        process.environment = merged
        let log = "\(logDirectory)/agent\(index).log"
        FileManager.default.createFile(atPath: log, contents: nil)
        let handle = FileHandle(forWritingAtPath: log)!
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        agents[index] = process
    }

    /// Kills host `index`'s agent, as a crash would (SIGKILL: no goodbye to etcd).
    func killAgent(on index: Int) {
        guard let process = agents.removeValue(forKey: index) else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    func agentPID(_ index: Int) -> Int32? { agents[index]?.processIdentifier }

    func agentLog(_ index: Int) -> String {
        (try? String(contentsOfFile: "\(logDirectory)/agent\(index).log", encoding: .utf8)) ?? ""
    }

    /// The overlay namespace host `index` made for `network` (nil before its first join).
    func overlayNamespace(on index: Int, network: String) throws -> String? {
        let inspect = try ok(on: index, "network", "inspect", network)
        guard let list = try JSONSerialization.jsonObject(with: Data(inspect.utf8)) as? [[String: Any]],
              let id = list.first?["Id"] as? String else { throw HarnessError("network inspect \(network): \(inspect)") }
        let root = try JSONDecoder().decode([String: String].self, from: Data(contentsOf: URL(fileURLWithPath: hosts[index].root + "/root.json")))["id"]!
        let name = OverlayDriver.namespaceName(root: root, network: id)
        return NetworkNamespace.exists(named: name) ? name : nil
    }

    /// The root id of host `index`'s state root.
    func rootID(_ index: Int) throws -> String {
        try JSONDecoder().decode([String: String].self, from: Data(contentsOf: URL(fileURLWithPath: hosts[index].root + "/root.json")))["id"]!
    }

    /// How many packets host `index`'s VXLAN untracking rules saw, or nil without its table.
    func untrackedPackets(on index: Int) throws -> Int? {
        let table = "netctl-overlay-" + (try rootID(index)).prefix(16)
        let listing = try hosts[index].host.run(["nft", "list", "table", "inet", table])
        guard listing.status == 0 else { return nil }
        return listing.stdout.split(separator: "\n").compactMap { line -> Int? in
            guard let range = line.firstRange(of: "packets ") else { return nil }
            return Int(line[range.upperBound...].prefix { $0.isNumber })
        }.reduce(0, +)
    }

    /// The remote MACs host `index` forwards to over VXLAN for `network`, with their VTEPs.
    func forwarding(on index: Int, network: String) throws -> Set<String> {
        guard let namespace = try overlayNamespace(on: index, network: network) else { return [] }
        let session = try NetlinkSession(in: NetworkNamespace.open(named: namespace))
        return Set(try session.fdbEntries().compactMap { entry in
            entry.destination.map { "\(entry.mac)@\($0)" }
        })
    }

    /// Polls `condition` for up to `seconds` (a bound on waiting, not a timing assertion).
    func eventually(_ seconds: Double = 10, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        repeat {
            if try condition() { return true }
            usleep(50_000)
        } while Date() < deadline
        return try condition()
    }

    func stopAll() {
        for index in Array(agents.keys) { killAgent(on: index) }
        // Containers and sandboxes leave their overlays while etcd is still there.
        for (index, host) in hosts.enumerated() {
            let containers = (try? host.netctl(["ps", "-aq"], environment: environment(index)).stdout.split(separator: "\n")) ?? []
            if !containers.isEmpty { _ = try? host.netctl(["rm", "-f"] + containers.map(String.init), environment: environment(index)) }
            for name in (try? host.netctl(["sandbox", "ls", "-q"], environment: environment(index)).stdout.split(separator: "\n")) ?? [] {
                _ = try? host.netctl(["sandbox", "rm", String(name)], environment: environment(index))
            }
            // A resolver exits with its last sandbox; one that did not is stopped by its pid.
            let resolver = ResolverControl(root: host.root, executable: "netctl-dns")
            if let pid = resolver.runningPID() {
                kill(pid, SIGTERM)
                for _ in 0..<100 where resolver.runningPID() != nil { usleep(20_000) }
            }
        }
    }
}

/// `count` hosts on one underlay segment, etcd with `members` members on loopback.
func withCluster<T>(hosts count: Int, members: Int = 1, tls: Bool = false, _ body: (ClusterFixture) throws -> T) throws -> T {
    try withEtcd(members: members, tls: tls) { etcd, _ in
        try withTestNamespace(prefix: "ncsw") { switchNamespace in
            let bridge = try switchNamespace.session()
            try bridge.linkAdd(LinkSpec(name: "seg0", kind: .bridge, up: true))
            let bridgeIndex = try bridge.index(of: .name("seg0"))
            return try withHarnesses(count) { hosts in
                for (index, host) in hosts.enumerated() {
                    // ip link add underlay0 netns HOST type veth peer name hostN master seg0
                    try bridge.linkAdd(LinkSpec(name: "host\(index)", kind: .veth(peer: VethPeer(name: "underlay0", namespace: host.host.namespace)),
                                                master: bridgeIndex, up: true))
                    let session = try host.host.session()
                    try session.linkSet(.name("underlay0"), up: true)
                    try session.addressAdd(IPNetwork(cidr: ClusterFixture.underlayAddress(index) + "/24")!,
                                           interface: try session.index(of: .name("underlay0")))
                }
                let logs = try makeTemporaryDirectory("netctl-cluster-")
                defer { try? FileManager.default.removeItem(atPath: logs) }
                let cluster = ClusterFixture(etcd: etcd, hosts: hosts, switchNamespace: switchNamespace, logDirectory: logs)
                defer { cluster.stopAll() }
                return try body(cluster)
            }
        }
    }
}

/// `count` harnesses, each removed however the body ends.
func withHarnesses<T>(_ count: Int, _ made: [NetctlHarness] = [], _ body: ([NetctlHarness]) throws -> T) throws -> T {
    guard made.count < count else { return try body(made) }
    return try withNetctl { harness in try withHarnesses(count, made + [harness], body) }
}
