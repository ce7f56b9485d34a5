import Glibc
import Netlink
import NFTables

/// The network namespace netctl treats as the host's, and what marks this state root's
/// kernel objects. A netlink session there is opened once and reused for the command.
public final class HostContext {
    public let rootID: String
    /// nil: the namespace netctl runs in. A name: that namespace under /run/netns, so that
    /// tests and labs can run several "hosts" on one machine.
    public let namespaceName: String?
    public let faults: FaultInjector
    private var cachedSession: NetlinkSession?
    private var cachedNFTables: NFTablesSession?

    public init(rootID: String, namespaceName: String?, faults: FaultInjector = FaultInjector()) {
        self.rootID = rootID
        self.namespaceName = namespaceName
        self.faults = faults
    }

    public func session() throws -> NetlinkSession {
        if let cachedSession { return cachedSession }
        let session: NetlinkSession
        if let namespaceName {
            session = try NetlinkSession(in: try NetworkNamespace.open(named: namespaceName))
        } else {
            session = try NetlinkSession()
        }
        cachedSession = session
        return session
    }

    public func nftables() throws -> NFTablesSession {
        if let cachedNFTables { return cachedNFTables }
        let session = try namespaceName.map { try NFTablesSession(in: try NetworkNamespace.open(named: $0)) } ?? NFTablesSession()
        cachedNFTables = session
        return session
    }

    /// `sysctl KEY` in the host namespace (KEY as a path below /proc/sys).
    func sysctl(_ key: String) throws -> String {
        guard let namespaceName else { return try Sysctl.read(key) }
        return try NetworkNamespace.open(named: namespaceName).perform { try Sysctl.read(key) }
    }

    /// `sysctl -w KEY=VALUE` in the host namespace, skipped when it already has that value.
    func setSysctl(_ key: String, _ value: String) throws {
        if (try? sysctl(key)) == value { return }
        guard let namespaceName else { return try Sysctl.write(key, value) }
        try NetworkNamespace.open(named: namespaceName).setSysctl(key, value)
    }

    /// The alias that marks a kernel object as made by this root for `kind` `id`.
    public func marker(_ kind: Marker.Kind, _ id: String) -> String { Marker(root: rootID, kind: kind, id: id).alias }
}

/// A sandbox's namespace, opened when first needed, and a session inside it.
public final class SandboxContext {
    public let record: SandboxRecord
    private var cachedNamespace: NetworkNamespace?
    private var cachedSession: NetlinkSession?

    init(record: SandboxRecord) { self.record = record }

    public func namespace() throws -> NetworkNamespace {
        if let cachedNamespace { return cachedNamespace }
        let namespace = try record.namespacePath.map { try NetworkNamespace.open(path: $0) } ?? NetworkNamespace.open(named: record.name)
        cachedNamespace = namespace
        return namespace
    }

    public func session() throws -> NetlinkSession {
        if let cachedSession { return cachedSession }
        let session = try NetlinkSession(in: try namespace())
        cachedSession = session
        return session
    }
}

/// The ifalias netctl puts on what it makes: `netctl:ROOT:KIND:ID`. Names derived from ids
/// let reconcile find leftovers; the root in the alias keeps it to its own.
public struct Marker: Equatable {
    public enum Kind: String { case network, endpoint, sandbox }
    var root: String
    var kind: Kind
    var id: String

    var alias: String { "netctl:\(root.prefix(16)):\(kind.rawValue):\(id)" }

    init(root: String, kind: Kind, id: String) {
        self.root = String(root.prefix(16))
        self.kind = kind
        self.id = id
    }

    init?(alias: String?) {
        let parts = alias?.split(separator: ":").map(String.init) ?? []
        guard parts.count == 4, parts[0] == "netctl", let kind = Kind(rawValue: parts[2]) else { return nil }
        self.init(root: parts[1], kind: kind, id: parts[3])
    }

    func belongs(to rootID: String) -> Bool { root == rootID.prefix(16) }
}

/// Test hook: `NETCTL_FAULT=POINT` kills the process at that point, as a crash or kill -9
/// would, so tests can prove reconcile cleans up what a dead command left.
public struct FaultInjector: Sendable {
    public let point: String?

    public init(point: String? = nil) { self.point = point }

    public func reach(_ name: String) {
        if point == name { kill(getpid(), SIGKILL) }
    }
}
