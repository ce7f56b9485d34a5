import CNM
import Glibc
import Netlink

/// Docker's `overlay` driver: one flat layer-2 network across hosts, carried by VXLAN over
/// a routed underlay. The network's record, its VNIs and its addresses live in the
/// cluster store; each host makes its part (a namespace with a bridge and a VTEP per
/// subnet) when its first endpoint joins and removes it when its last one leaves. A joining
/// endpoint is published to the peer table, with its names, from which every other host's
/// agent programs its FDB and neighbour entries and its resolver's names.
public final class OverlayDriver: GlobalNetworkDriver, @unchecked Sendable {
    public let name = "overlay"
    public var scope: NetworkScope { .global }
    /// Overlays carry no traffic off the cluster: the gateway bridge does.
    public var providesExternalConnectivity: Bool { false }
    public var global: (any GlobalNetworkDriver)? { self }

    public let configuration: ClusterConfiguration?
    /// The names of other hosts' endpoints, in the state root's resolver tables.
    public let remoteNames: RemoteNames
    private var cachedCatalog: ClusterCatalog?

    /// `configuration` nil: no cluster store is configured, and overlay networks are
    /// refused. `stateRoot`: where this host's resolver tables are (`ROOT/dns`).
    public init(configuration: ClusterConfiguration?, stateRoot: String) {
        self.configuration = configuration
        remoteNames = RemoteNames(root: stateRoot)
    }

    /// The cluster store's records; libcurl is loaded on this first use.
    public func catalog() throws -> ClusterCatalog {
        if let cachedCatalog { return cachedCatalog }
        let configuration = try configured()
        let catalog = ClusterCatalog(client: try EtcdClient(endpoints: configuration.endpoints, tls: configuration.tls, timeout: 5))
        cachedCatalog = catalog
        return catalog
    }

    private func configured() throws -> ClusterConfiguration {
        guard let configuration else {
            throw CNMError("driver overlay needs a cluster store: give --cluster-store etcd://HOST:PORT, NETCTL_CLUSTER_STORE, or cluster-store in the root's config.json")
        }
        return configuration
    }

    // MARK: Networks

    public func prepare(_ network: inout NetworkRecord, host: HostContext) throws {
        _ = try configured()
        try checkOptionNames(network, known: OverlayOptions.all)
        if network.options[OverlayOptions.encrypted] != nil {
            guard OverlayOptions.kernelHasESP else {
                throw CNMError("network \"\(network.name)\": -o encrypted needs IPsec ESP between hosts, and this kernel has none (no esp4): refusing to carry it in clear")
            }
            throw CNMError("network \"\(network.name)\": -o encrypted is not supported yet: refusing to carry it in clear")
        }
        guard !network.enableIPv6 else {
            throw CNMError("network \"\(network.name)\": IPv6 on overlay networks is not supported yet")
        }
        _ = try OverlayOptions.requestedVNIs(network)
        _ = try mtuOption(network)
    }

    public func networks() throws -> [NetworkRecord] {
        guard configuration != nil else { return [] }
        return try catalog().networks()
    }

    public func register(_ network: inout NetworkRecord, host: HostContext) throws {
        try catalog().register(&network, requestedVNIs: try OverlayOptions.requestedVNIs(network))
    }

    public func unregister(_ network: NetworkRecord, host: HostContext) throws {
        try catalog().unregister(network)
        if let plan = try? plan(for: network, host: host), OverlayDataPlane.exists(plan) {
            try? OverlayDataPlane.remove(plan)
        }
        try? remoteNames.remove(network: network.id)
    }

    /// Global networks are recorded by `register`; hosts make their part on join.
    public func createNetwork(_ network: NetworkRecord, host: HostContext) throws {}
    public func deleteNetwork(_ network: NetworkRecord, host: HostContext) throws {}

    // MARK: Addresses

    public func claimAddresses(for endpointID: String, network: NetworkRecord,
                               ipv4: IPAddress?, ipv6: IPAddress?) throws -> (ipv4: IPNetwork?, ipv6: IPNetwork?) {
        (try catalog().claimAddress(on: network, for: endpointID, node: try node(), requested: ipv4), nil)
    }

    public func releaseAddresses(of endpoint: EndpointRecord, network: NetworkRecord) {
        try? catalog().releaseAddresses(of: endpoint.id, node: try node(), addresses: endpoint.addresses, network: network.id)
    }

    // MARK: Endpoints

    /// The veth end that is a port of the subnet's bridge, inside the overlay's namespace.
    public func hostInterface(forEndpoint id: String, network: NetworkRecord) -> String? { "nc-ov" + id.prefix(8) }

    public func join(_ endpoint: EndpointRecord, network: NetworkRecord, sandbox: SandboxContext, host: HostContext) throws {
        let catalog = try catalog()
        let plan = try plan(for: network, host: host)
        guard let address = endpoint.ipv4, let mac = endpoint.mac, let inside = endpoint.sandboxInterface,
              let hostEnd = endpoint.hostInterface,
              let subnetIndex = plan.subnets.firstIndex(where: { $0.subnet.contains(address.address) }) else {
            throw CNMError("network \"\(network.name)\": endpoint \(endpoint.shortID) has no IPv4 address in the network's subnets")
        }
        let created = !OverlayDataPlane.exists(plan)
        var published = false
        do {
            try OverlayDataPlane.ensure(plan, host: try host.session())
            try OverlayFirewall.ensure(host: host, vtep: plan.vtep, port: plan.port)
        } catch {
            if created { try? OverlayDataPlane.remove(plan) }
            throw CNMError.kernel("network \"\(network.name)\"", error)
        }
        do {
            try OverlayDataPlane.attach(
                OverlayAttachment(hostEnd: hostEnd, sandboxInterface: inside, mac: mac, address: address,
                                  subnetIndex: subnetIndex, defaultRoute: false),
                plan: plan, sandbox: try sandbox.namespace())
            try sandbox.session().linkSet(.name(inside), alias: host.marker(.endpoint, endpoint.id))
            host.faults.reach("connect.after-overlay-attach")
            // The others learn this endpoint from the peer table, through their agents
            // (published first: that is what they wait for); this host learns theirs now.
            // No names from CNM (names off on the network): an empty list, which answers
            // to none, where a missing one would answer to the sandbox's name.
            try catalog.publish(PeerRecord(endpointID: endpoint.id, networkID: network.id, name: endpoint.sandboxName,
                                           ipv4: address, mac: mac, vtep: plan.vtep, node: try node(),
                                           ipv6: endpoint.ipv6, dnsNames: endpoint.dnsNames ?? []))
            published = true
            let remote = try remotePeers(of: network, catalog: catalog)
            try OverlayDataPlane.program(plan, peers: Set(remote.peers.compactMap { OverlayPeer(record: $0, plan: plan) }), pruning: false)
            // Their names too, unless this host's agent runs: it sees every change in order,
            // and a read gone stale here could undo a name it had just written.
            if !remote.agentAlive { try remoteNames.update(network, peers: remote.peers) }
        } catch {
            if published { try? catalog.withdraw(endpoint: endpoint.id, network: network.id) }
            try? OverlayDataPlane.detach(hostEnd: hostEnd, plan: plan)
            if created { try? OverlayDataPlane.remove(plan) }
            throw error is CNMError ? error : CNMError.kernel("network \"\(network.name)\"", error)
        }
    }

    public func leave(_ endpoint: EndpointRecord, network: NetworkRecord, sandbox: SandboxContext?, host: HostContext) throws {
        // The cluster first: if it cannot be told, nothing changes here either.
        try catalog().withdraw(endpoint: endpoint.id, network: network.id)
        releaseAddresses(of: endpoint, network: network)
        let plan = try plan(for: network, host: host)
        guard OverlayDataPlane.exists(plan) else { return }
        if let hostEnd = endpoint.hostInterface {
            do {
                try OverlayDataPlane.detach(hostEnd: hostEnd, plan: plan)
            } catch let error as NetlinkError where error.errno == ENODEV {
            }
        }
        // The host's part of the overlay goes with its last endpoint.
        let session = try NetlinkSession(in: try NetworkNamespace.open(named: plan.namespace))
        if try !session.links().contains(where: { $0.kind == "veth" }) {
            try OverlayDataPlane.remove(plan)
            // No container here asks for names on it any more. The endpoint is gone either
            // way: a resolver that could not be told rereads at the next sync.
            try? remoteNames.remove(network: network.id)
            // With this root's last overlay on the host, its VXLAN untracking goes too.
            let prefix = Self.namespaceName(root: host.rootID, network: "")
            if !NetworkNamespace.names().contains(where: { $0.hasPrefix(prefix) }) {
                try OverlayFirewall.remove(host: host)
            }
        }
    }

    /// The cluster's records of this node that no endpoint of this root owns (a connect
    /// killed between its claim and its record) are removed.
    public func reconcile(endpoints: [EndpointRecord], host: HostContext) -> [String] {
        var report: [String] = []
        let prefix = Self.namespaceName(root: host.rootID, network: "")
        if !NetworkNamespace.names().contains(where: { $0.hasPrefix(prefix) }),
           (try? host.nftables().exists(OverlayFirewall.table(root: host.rootID))) == true {
            try? OverlayFirewall.remove(host: host)
            report.append("removed nftables table \(OverlayFirewall.table(root: host.rootID).name): no overlay on this host")
        }
        // Names of other hosts for an overlay this host has no part in (a leave killed
        // between its namespace and its names).
        for id in remoteNames.networks() where !NetworkNamespace.exists(named: Self.namespaceName(root: host.rootID, network: id)) {
            // The file goes first; a resolver that cannot be told rereads at its next sync.
            _ = try? remoteNames.remove(network: id)
            report.append("removed names of other hosts for network \(id.prefix(12)): no endpoint of it on this host")
        }
        guard let configuration else { return report }
        do {
            return report + (try catalog().removeLeftovers(of: configuration.nodeName, keeping: Set(endpoints.map(\.id))))
        } catch {
            return report + ["cluster records not checked: \(error)"]
        }
    }

    public func endpointIsPresent(_ endpoint: EndpointRecord, network: NetworkRecord, sandbox: SandboxContext,
                                  host: HostContext) throws -> Bool {
        guard let inside = endpoint.sandboxInterface else { return true }
        return try sandbox.session().link(.name(inside)) != nil
    }

    // MARK: The host's part

    /// What this host makes for `network`: names, VNIs, MTU, its VTEP.
    public func plan(for network: NetworkRecord, host: HostContext) throws -> OverlayPlan {
        let configuration = try configured()
        guard let vtep = configuration.advertiseAddress else {
            throw CNMError("network \"\(network.name)\": this host's underlay address is not known: give --advertise-addr or NETCTL_ADVERTISE_ADDR")
        }
        let vnis = OverlayOptions.vnis(of: network)
        guard vnis.count == network.pools.count else {
            throw CNMError("network \"\(network.name)\": the cluster record has \(vnis.count) VNIs for \(network.pools.count) subnets")
        }
        let subnets = zip(network.pools, vnis).map { pool, vni in
            OverlaySubnetPlan(vni: vni, subnet: pool.subnet, gateway: pool.gateway ?? pool.subnet.first.advanced(by: 1)!)
        }
        let mtu = try mtuOption(network) ?? OverlayDataPlane.mtu(underlayMTU: try underlayMTU(of: vtep, host: host))
        return OverlayPlan(namespace: Self.namespaceName(root: host.rootID, network: network.id),
                           marker: host.marker(.network, network.id), subnets: subnets, mtu: mtu,
                           port: configuration.vxlanPort, vtep: vtep)
    }

    /// `ncov-ROOT-NETWORK`: unique on the machine, so that lab hosts sharing a kernel never clash.
    public static func namespaceName(root: String, network: String) -> String {
        "ncov-\(root.prefix(8))-\(network.prefix(12))"
    }

    /// The endpoints of `network` on other hosts whose agents are alive, as this host's
    /// kernel entries and names should list them; and whether this host's own agent is alive.
    func remotePeers(of network: NetworkRecord, catalog: ClusterCatalog) throws -> (peers: [PeerRecord], agentAlive: Bool) {
        let alive = Set(try catalog.hosts().map(\.name))
        let me = try node()
        return (try catalog.peers(of: network.id).remote(from: me, alive: alive), alive.contains(me))
    }

    func node() throws -> String { try configured().nodeName }

    private func mtuOption(_ network: NetworkRecord) throws -> UInt32? {
        guard let text = network.options[OverlayOptions.mtu] else { return nil }
        guard let mtu = UInt32(text), (68...65535).contains(mtu) else {
            throw CNMError("invalid value \"\(text)\" for option \(OverlayOptions.mtu): expected an MTU from 68 to 65535")
        }
        return mtu
    }

    /// The MTU of the host's interface that holds the VTEP address.
    private func underlayMTU(of vtep: IPAddress, host: HostContext) throws -> UInt32 {
        let session = try host.session()
        guard let address = try session.addresses().first(where: { $0.network.address == vtep }),
              let link = try session.link(.index(address.interfaceIndex)) else {
            throw CNMError("advertise address \(vtep) is not an address of this host")
        }
        return link.mtu
    }
}

extension OverlayPeer {
    /// The peer's entry on the VTEP of its subnet; nil when its address is in none.
    init?(record: PeerRecord, plan: OverlayPlan) {
        guard let address = record.ipv4?.address,
              let index = plan.subnets.firstIndex(where: { $0.subnet.contains(address) }) else { return nil }
        self.init(mac: record.mac, address: address, vtep: record.vtep, subnetIndex: index)
    }
}
