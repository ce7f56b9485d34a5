import Netlink

/// A kind of network. Drivers make and remove kernel objects; the controller owns records,
/// addresses and locking, and calls a driver only with everything decided. The controller
/// is given its drivers (CNM's own, and others such as VXLAN's `overlay`) and names none:
/// what differs between them is asked of the driver through this protocol.
public protocol NetworkDriver: Sendable {
    var name: String { get }
    /// `local`: the network exists on this host only, recorded in this root's store.
    /// `global`: it spans hosts; its record lives in the cluster store, and the driver
    /// records, lists and removes it there (see `GlobalNetworkDriver`).
    var scope: NetworkScope { get }
    /// Whether a network of this driver has subnets and hands out addresses (not `host`, `null`).
    var takesAddresses: Bool { get }
    /// Whether a root has at most one network of this driver (`host`, `null`).
    var isSingleton: Bool { get }
    /// Whether the network gives its sandboxes a way out (a gateway on the host). When it
    /// does not (`overlay`), the controller attaches the sandbox to the host's gateway
    /// bridge network too, for traffic leaving the cluster and for published ports.
    var providesExternalConnectivity: Bool { get }
    /// Whether endpoints on the driver's networks answer to names through the resolver
    /// (the controller also leaves out networks whose options turn names off). By default,
    /// drivers that hand out addresses.
    var servesNames: Bool { get }

    /// Checks `-o` options and fills in what the driver derives (device names), without
    /// touching the kernel beyond reading it.
    func prepare(_ network: inout NetworkRecord, host: HostContext) throws
    /// Makes the network's kernel objects; on failure, removes what it made.
    func createNetwork(_ network: NetworkRecord, host: HostContext) throws
    func deleteNetwork(_ network: NetworkRecord, host: HostContext) throws
    /// The name of an endpoint's host-side device, if the driver makes one in the host
    /// namespace (the bridge's veth end), decided before `join`.
    func hostInterface(forEndpoint id: String, network: NetworkRecord) -> String?
    /// Gives the sandbox its interface on the network, addressed and routed; on failure,
    /// removes what it made.
    func join(_ endpoint: EndpointRecord, network: NetworkRecord, sandbox: SandboxContext, host: HostContext) throws
    func leave(_ endpoint: EndpointRecord, network: NetworkRecord, sandbox: SandboxContext?, host: HostContext) throws
    /// Makes the endpoint's interface in the host namespace, named `name`, for another engine
    /// to move into a sandbox of its own (Docker's remote driver); on failure, removes what it
    /// made. Drivers that cannot throw (the default).
    func joinOnHost(_ endpoint: EndpointRecord, network: NetworkRecord, interface name: String, host: HostContext) throws
    /// What the firewall needs to know of the network, or nil when the firewall has nothing
    /// to do with it. The firewall reads only this, never the driver's options.
    func firewallAttachment(for network: NetworkRecord) -> FirewallAttachment?
    /// Whether the network's kernel objects are there, for reconcile.
    func networkIsPresent(_ network: NetworkRecord, host: HostContext) throws -> Bool
    /// Whether an endpoint's devices are all there, for reconcile.
    func endpointIsPresent(_ endpoint: EndpointRecord, network: NetworkRecord, sandbox: SandboxContext, host: HostContext) throws -> Bool
    /// Recreates missing kernel objects of a recorded network, or says why it cannot;
    /// returns the line reconcile reports.
    func restoreNetwork(_ network: NetworkRecord, host: HostContext) throws -> String
    /// The driver as a `GlobalNetworkDriver`, or nil for a local one. (Asked of the driver
    /// rather than found by `as?`, which makes the Swift runtime scan every protocol
    /// conformance of the binary on first use, a few million instructions a command.)
    var global: (any GlobalNetworkDriver)? { get }
    /// Last step of reconcile: removes what the driver keeps outside this root for
    /// endpoints that are not among `endpoints` (this root's, all of them); one line each.
    func reconcile(endpoints: [EndpointRecord], host: HostContext) -> [String]
}

public enum NetworkScope: String, Sendable, Codable {
    case local, global
}

/// A driver whose networks span hosts. Cluster-scope records do not take the local
/// store's lock, which covers one host: every change is a transaction in the cluster store
/// (compare-and-swap on revisions), so two hosts racing for a name, a subnet or an address
/// cannot both win.
public protocol GlobalNetworkDriver: NetworkDriver {
    /// Every network of this driver in the cluster.
    func networks() throws -> [NetworkRecord]
    /// Records a prepared network cluster-wide; refuses a name or subnet another network
    /// of the cluster holds, and fills in what the cluster decides (the VNIs). Nothing is
    /// made on any host until an endpoint joins.
    func register(_ network: inout NetworkRecord, host: HostContext) throws
    /// Removes the network's record cluster-wide; refuses while any host has endpoints on it.
    func unregister(_ network: NetworkRecord, host: HostContext) throws
    /// Takes addresses for a new endpoint cluster-wide (the one asked for, or the lowest
    /// free), so that no address is handed out twice however many hosts connect at once.
    func claimAddresses(for endpointID: String, network: NetworkRecord,
                        ipv4: IPAddress?, ipv6: IPAddress?) throws -> (ipv4: IPNetwork?, ipv6: IPNetwork?)
    /// Gives back what `claimAddresses` took, when the endpoint is not made after all.
    func releaseAddresses(of endpoint: EndpointRecord, network: NetworkRecord)
}

/// What the firewall knows of a network: the host-side bridge its traffic crosses, and the
/// policy for it. A driver hands this over, as netavark's drivers hand `SetupNetwork` to
/// its firewall drivers.
public struct FirewallAttachment: Sendable, Equatable {
    /// The bridge on the host that the network's endpoints are ports of.
    public var bridge: String
    /// No traffic in or out of the network (`--internal`).
    public var isInternal: Bool
    /// Traffic leaving the host from the network takes the host's address.
    public var masquerade: Bool
    /// Endpoints of the network may reach each other (inter-container communication).
    public var interContainer: Bool
    /// The host address published ports bind to when `-p` names none.
    public var hostBindingIPv4: IPAddress
    /// Whether endpoints may publish ports.
    public var publishes: Bool

    public init(bridge: String, isInternal: Bool, masquerade: Bool, interContainer: Bool,
                hostBindingIPv4: IPAddress, publishes: Bool) {
        self.bridge = bridge
        self.isInternal = isInternal
        self.masquerade = masquerade
        self.interContainer = interContainer
        self.hostBindingIPv4 = hostBindingIPv4
        self.publishes = publishes
    }
}

extension NetworkDriver {
    public var scope: NetworkScope { .local }
    public var takesAddresses: Bool { true }
    public var isSingleton: Bool { false }
    public var providesExternalConnectivity: Bool { true }
    public var servesNames: Bool { takesAddresses }
    public var global: (any GlobalNetworkDriver)? { nil }
    public func hostInterface(forEndpoint id: String, network: NetworkRecord) -> String? { nil }
    public func firewallAttachment(for network: NetworkRecord) -> FirewallAttachment? { nil }
    public func networkIsPresent(_ network: NetworkRecord, host: HostContext) throws -> Bool { true }
    public func restoreNetwork(_ network: NetworkRecord, host: HostContext) throws -> String {
        "network \"\(network.name)\": its devices are missing"
    }
    public func reconcile(endpoints: [EndpointRecord], host: HostContext) -> [String] { [] }

    /// The sandbox's interface is there, and the host end too when the driver makes one.
    public func endpointIsPresent(_ endpoint: EndpointRecord, network: NetworkRecord, sandbox: SandboxContext,
                                  host: HostContext) throws -> Bool {
        if let hostEnd = endpoint.hostInterface, try host.session().link(.name(hostEnd)) == nil { return false }
        if let inside = endpoint.sandboxInterface, try sandbox.session().link(.name(inside)) == nil { return false }
        return true
    }

    /// Refuses options the driver does not know, naming the ones it does.
    public func checkOptionNames(_ network: NetworkRecord, known: [String]) throws {
        for key in network.options.keys.sorted() where !known.contains(key) {
            throw CNMError("unknown option \"\(key)\" for driver \(name): expected one of \(known.joined(separator: ", "))")
        }
    }
}

/// The drivers a controller has, by name: CNM's own, and whatever the caller adds.
public struct DriverSet: Sendable {
    public let all: [any NetworkDriver]

    /// CNM's own drivers: bridge, macvlan, host, null.
    public static let builtin = DriverSet([BridgeDriver(), MacvlanDriver(), HostDriver(), NullDriver()])

    public init(_ drivers: [any NetworkDriver]) { all = drivers }

    public func adding(_ drivers: [any NetworkDriver]) -> DriverSet { DriverSet(all + drivers) }

    public func named(_ name: String) throws -> any NetworkDriver {
        guard let driver = all.first(where: { $0.name == name }) else {
            throw CNMError("unknown driver \"\(name)\": expected one of \(all.map(\.name).joined(separator: ", "))")
        }
        return driver
    }
}
