import Foundation
import Netlink

/// Runs the built `netctl` binary as a user would, against a state root and a "host"
/// namespace of the test's own, with address pools from 198.18.0.0/15 and 2001:db8::/32.
/// Everything it made — sandboxes, the host namespace with its bridges, the state root —
/// is removed when the test's body ends, however it ends.
public final class NetctlHarness {
    public let host: TestNamespace
    public let root: String
    private var sandboxNames: [String] = []

    public static var binary: String {
        if let path = ProcessInfo.processInfo.environment["NETCTL_BINARY"] { return path }
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return package.appendingPathComponent(".build/debug/netctl").path
    }

    public init(host: TestNamespace) {
        self.host = host
        root = NSTemporaryDirectory() + uniqueName("netctl-root-")
    }

    public var environment: [String: String] {
        ["NETCTL_ROOT": root, "NETCTL_HOST_NETNS": host.name,
         "NETCTL_DEFAULT_ADDRESS_POOLS": "base=198.18.0.0/16,size=24 base=2001:db8:1000::/48,size=64",
         // Registry commands read none of the host's credentials, registries.json or certs.d.
         "REGISTRY_AUTH_FILE": root + "/auth.json", "NETCTL_REGISTRIES_CONF": root + "/registries.json",
         "NETCTL_CERTS_D": root + "/certs.d"]
    }

    /// `netctl ARGS…`.
    @discardableResult
    public func netctl(_ arguments: String..., environment extra: [String: String] = [:]) throws -> CommandResult {
        try netctl(arguments, environment: extra)
    }

    public func netctl(_ arguments: [String], environment extra: [String: String] = [:]) throws -> CommandResult {
        try runCommand([Self.binary] + arguments, environment: environment.merging(extra) { $1 })
    }

    /// Like `netctl`, but the command must succeed; returns its standard output.
    @discardableResult
    public func ok(_ arguments: String...) throws -> String { try ok(arguments) }

    @discardableResult
    public func ok(_ arguments: [String]) throws -> String {
        let result = try netctl(arguments)
        guard result.status == 0 else {
            throw HarnessError("netctl \(arguments.joined(separator: " ")) exited \(result.status): \(result.stderr)")
        }
        return result.stdout
    }

    /// Sandboxes a test names itself (the README's tour), removed at cleanup too.
    public func remember(sandboxes names: [String]) { sandboxNames += names }

    /// A unique sandbox name, remembered for cleanup.
    public func sandboxName() -> String {
        let name = uniqueName("nctsb")
        sandboxNames.append(name)
        return name
    }

    /// Imports the busybox test image (the OCI layout) as `nctest/busybox`; returns that name.
    @discardableResult
    public func importBusybox() throws -> String {
        try ok("image", "import", "--name", "nctest/busybox", try TestImages.busybox().layout)
        return "nctest/busybox"
    }

    /// A container's address on a network, as `netctl inspect` gives it (Docker's fields).
    public func address(of container: String, on network: String) throws -> String? {
        let json = try JSONSerialization.jsonObject(with: Data(try ok("inspect", container).utf8)) as? [[String: Any]]
        let settings = json?.first?["NetworkSettings"] as? [String: Any]
        return ((settings?["Networks"] as? [String: Any])?[network] as? [String: Any])?["IPAddress"] as? String
    }

    /// `netctl sandbox create` under a unique name.
    public func makeSandbox() throws -> String {
        let name = sandboxName()
        try ok("sandbox", "create", name)
        return name
    }

    /// ICMP echo from a sandbox.
    public func ping(from sandbox: String, _ address: String) throws -> Bool {
        let flag = address.contains(":") ? "-6" : "-4"
        return try runCommand(["ip", "netns", "exec", sandbox, "ping", flag, "-n", "-q", "-c", "1", "-W", "2", address]).status == 0
    }

    /// Links in a sandbox, by name.
    public func links(in sandbox: String) throws -> Set<String> {
        Set(try NetlinkSession(in: NetworkNamespace.open(named: sandbox)).links().map(\.name))
    }

    public func hostLinks() throws -> Set<String> { Set(try host.session().links().map(\.name)) }

    /// Every file of the state root with its bytes, to prove a refused command changed nothing.
    public func stateSnapshot() throws -> [String: Data] {
        var snapshot: [String: Data] = [:]
        guard let walker = FileManager.default.enumerator(atPath: root) else { return [:] }
        while let path = walker.nextObject() as? String {
            var isDirectory: ObjCBool = false
            let full = root + "/" + path
            if FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory), !isDirectory.boolValue, path != "lock" {
                snapshot[path] = FileManager.default.contents(atPath: full)
            }
        }
        return snapshot
    }

    /// Links with their addresses and masters in the host namespace, for the same purpose.
    /// IPv6 link-local addresses are left out: the kernel adds them on its own when a
    /// bridge or veth gets carrier, which happens asynchronously after a port joins.
    public func kernelSnapshot() throws -> [String] {
        let session = try host.session()
        let links = try session.links().map { "\($0.name) master=\($0.masterIndex ?? 0) up=\($0.isUp) mtu=\($0.mtu)" }
        let addresses = try session.addresses().map { "\($0.interfaceIndex) \($0.network)" }
            .filter { !$0.contains(" fe80:") }
        return (links + addresses + NetworkNamespace.names().filter { sandboxNames.contains($0) }).sorted()
    }

    public func cleanUp() {
        // Containers first: rm -f stops them and releases their sandboxes and cgroups.
        if let ids = try? netctl("ps", "-aq").stdout.split(separator: "\n"), !ids.isEmpty {
            _ = try? netctl(["rm", "-f"] + ids.map(String.init))
        }
        if let ids = try? netctl("runtime", "list", "-q").stdout.split(separator: "\n") {
            for id in ids { _ = try? netctl("runtime", "delete", "-f", String(id)) }
        }
        // The resolver this root started, if sandboxes removed by hand below left it serving:
        // its sockets would keep their namespaces, and their interfaces, alive.
        stopResolver()
        for name in sandboxNames where NetworkNamespace.exists(named: name) {
            try? NetworkNamespace.remove(named: name)
        }
        // This root's part of overlay networks (`ncov-ROOT-NETWORK`), left by a failed test.
        if let data = FileManager.default.contents(atPath: root + "/root.json"),
           let record = try? JSONDecoder().decode([String: String].self, from: data), let id = record["id"] {
            for name in NetworkNamespace.names() where name.hasPrefix("ncov-\(id.prefix(8))-") {
                try? NetworkNamespace.remove(named: name)
            }
        }
        try? FileManager.default.removeItem(atPath: root)
    }
}

extension NetctlHarness {
    /// The pid of the resolver serving this root (ROOT/dns/resolver.pid), when that pid
    /// is a live netctl-dns of this root.
    public func resolverPID() -> Int32? {
        guard let text = try? String(contentsOfFile: root + "/dns/resolver.pid", encoding: .utf8),
              let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0,
              let command = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
              String(decoding: command, as: UTF8.self).contains("netctl-dns"),
              String(decoding: command, as: UTF8.self).contains(root),
              !Self.isZombie(pid) else { return nil }
        return pid
    }

    /// SIGKILL to this root's resolver, by its pid, and waits until it is gone.
    public func stopResolver() {
        guard let pid = resolverPID() else { return }
        kill(pid, SIGKILL)
        for _ in 0..<500 where FileManager.default.fileExists(atPath: "/proc/\(pid)") && !Self.isZombie(pid) {
            usleep(10_000)
        }
    }

    static func isZombie(_ pid: Int32) -> Bool {
        guard let stat = FileManager.default.contents(atPath: "/proc/\(pid)/stat"),
              let close = String(decoding: stat, as: UTF8.self).lastIndex(of: ")") else { return false }
        let rest = String(decoding: stat, as: UTF8.self)[close...].dropFirst(2)
        return rest.first == "Z" || rest.first == "X"
    }
}

public struct HarnessError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Runs `body` with a harness whose host namespace, sandboxes and state root are removed
/// afterwards.
public func withNetctl<T>(_ body: (NetctlHarness) throws -> T) throws -> T {
    try withTestNamespace(prefix: "ncth") { host in
        let harness = NetctlHarness(host: host)
        defer { harness.cleanUp() }
        return try body(harness)
    }
}

/// The outside world of a harness: a "client" namespace joined to the harness's host
/// namespace by a veth, as another machine on the host's LAN would be. The host end has
/// 198.19.0.1/24 and 2001:db8:ffff::1/64, the client 198.19.0.2 and 2001:db8:ffff::2 with
/// default routes through the host.
public struct Client {
    public let namespace: TestNamespace
    public static let hostAddress = "198.19.0.1"
    public static let address = "198.19.0.2"
    public static let hostAddress6 = "2001:db8:ffff::1"
    public static let address6 = "2001:db8:ffff::2"
}

public func withClient<T>(of harness: NetctlHarness, _ body: (Client) throws -> T) throws -> T {
    try withTestNamespace(prefix: "nctc") { client in
        let host = try harness.host.session()
        try host.linkAdd(LinkSpec(name: "uplink0", kind: .veth(peer: VethPeer(name: "eth0", namespace: client.namespace)), up: true))
        let hostIndex = try host.index(of: .name("uplink0"))
        try host.addressAdd(IPNetwork(cidr: "198.19.0.1/24")!, interface: hostIndex)
        try host.addressAdd(IPNetwork(cidr: "2001:db8:ffff::1/64")!, interface: hostIndex)
        let inside = try client.session()
        try inside.linkSet(.name("eth0"), up: true)
        let clientIndex = try inside.index(of: .name("eth0"))
        try inside.addressAdd(IPNetwork(cidr: "198.19.0.2/24")!, interface: clientIndex)
        try inside.addressAdd(IPNetwork(cidr: "2001:db8:ffff::2/64")!, interface: clientIndex)
        try inside.routeAdd(Route(gateway: IPAddress("198.19.0.1")!, interfaceIndex: clientIndex))
        try inside.routeAdd(Route(gateway: IPAddress("2001:db8:ffff::1")!, interfaceIndex: clientIndex))
        return try body(Client(namespace: client))
    }
}
