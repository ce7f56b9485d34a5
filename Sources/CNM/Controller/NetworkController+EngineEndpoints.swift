import Glibc
import Netlink

/// An endpoint whose sandbox belongs to another engine (Docker, through its remote driver
/// protocol): netctl records it on one of its networks and makes its interface in the host
/// namespace, and the engine moves that interface into a namespace of its own and names
/// it. The endpoint has no netctl sandbox; its record says which engine holds it.
public struct EngineEndpointRequest: Sendable {
    /// The network, by name, id or id prefix.
    public var network: String
    /// The endpoint's id, as the engine chose it (Docker's are 64 hex digits, as netctl's).
    public var id: String
    /// Who owns the sandbox (`docker`), named in messages.
    public var engine: String
    /// Addresses the engine's IPAM gave, `ADDRESS/PREFIX` or a bare address; nil: none given
    /// (netctl hands out the lowest free one where the network has that family).
    public var ipv4: String?
    public var ipv6: String?
    public var mac: String?

    public init(network: String, id: String, engine: String) {
        self.network = network
        self.id = id
        self.engine = engine
    }
}

/// What an engine needs to put a joined endpoint's interface into its sandbox.
public struct EngineJoin: Sendable {
    /// The interface in the host namespace that the engine moves.
    public var interfaceName: String
    /// The name prefix the interface takes in the sandbox (`eth`).
    public var sandboxPrefix: String
    public var gatewayIPv4: IPAddress?
    public var gatewayIPv6: IPAddress?
}

extension EndpointRecord {
    /// Whether the endpoint's sandbox is another engine's (its sandbox id is `engine:NAME:ID`).
    public var isEngineEndpoint: Bool { sandboxID.hasPrefix(NetworkController.engineSandboxPrefix) }
}

extension NetworkController {
    static let engineSandboxPrefix = "engine:"

    /// The host-side name of an engine endpoint's interface before the engine takes it.
    public static func engineInterfaceName(of endpointID: String) -> String { "nc-eng" + endpointID.prefix(9) }

    /// Records an endpoint for another engine's sandbox: its addresses (the engine's, checked
    /// against every other endpoint of the network, or the lowest free ones) and MAC. No
    /// kernel object is made until it joins.
    public func createEngineEndpoint(_ request: EngineEndpointRequest) throws -> EndpointRecord {
        try store.locked {
            let network = try network(request.network)
            let driver = try drivers.named(network.driver)
            guard driver.global == nil else {
                throw CNMError("network \"\(network.name)\": driver \(network.driver) cannot give an interface to \(request.engine) (expected a bridge or macvlan network)")
            }
            guard request.id.utf8.count >= 12, request.id.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else {
                throw CNMError("invalid endpoint id \"\(request.id)\": expected at least 12 lowercase hex digits")
            }
            let existing = try endpoints(of: network)
            if existing.contains(where: { $0.id == request.id }) {
                throw CNMError("endpoint \(request.id.prefix(12)) already exists on network \"\(network.name)\"")
            }
            var used: [IPAddress: String] = [:]
            for endpoint in existing { for address in endpoint.addresses { used[address] = endpoint.sandboxName } }
            func address(_ text: String?, ipv4: Bool) throws -> IPNetwork? {
                let family = ipv4 ? "IPv4" : "IPv6"
                var requested: IPAddress?
                if let text, !text.isEmpty {
                    guard let parsed = IPNetwork(cidr: text)?.address ?? IPAddress(text), parsed.isIPv4 == ipv4 else {
                        throw CNMError("invalid \(family) address \"\(text)\": expected ADDRESS/PREFIX such as \(ipv4 ? "198.18.0.2/24" : "2001:db8::2/64")")
                    }
                    requested = parsed
                }
                guard let pool = network.pool(ipv4: ipv4) else {
                    if let requested { throw CNMError("network \"\(network.name)\": address \(requested) given but the network has no \(family) subnet") }
                    return nil
                }
                return try AddressAllocator.allocate(in: pool, used: used, requested: requested, network: network.name)
            }
            let ipv4 = try address(request.ipv4, ipv4: true)
            let ipv6 = try address(request.ipv6, ipv4: false)
            var mac: MACAddress?
            if let text = request.mac, !text.isEmpty {
                guard let parsed = MACAddress(text) else {
                    throw CNMError("invalid MAC address \"\(text)\": expected six hex pairs such as 02:42:c6:12:00:02")
                }
                mac = parsed
            }
            let endpoint = EndpointRecord(
                id: request.id, networkID: network.id,
                sandboxID: Self.engineSandboxPrefix + request.engine + ":" + request.id,
                sandboxName: "\(request.engine):\(request.id.prefix(12))",
                mac: mac ?? ipv4.map { MACAddress(derivedFrom: $0.address) } ?? MACAddress.random(),
                ipv4: ipv4, ipv6: ipv6,
                hostInterface: driver.hostInterface(forEndpoint: request.id, network: network),
                sandboxInterface: nil, aliases: [])
            try store.put(Keys.endpoint(endpoint.id, network: network.id), endpoint)
            return endpoint
        }
    }

    /// An engine endpoint by the network and its id.
    public func engineEndpoint(network reference: String, id: String) throws -> (EndpointRecord, NetworkRecord) {
        let network = try network(reference)
        guard let endpoint = try store.get(EndpointRecord.self, Keys.endpoint(id, network: network.id)), endpoint.isEngineEndpoint else {
            throw CNMError("endpoint \(id.prefix(12)) not found on network \"\(network.name)\"")
        }
        return (endpoint, network)
    }

    /// Makes the endpoint's interface in the host namespace for the engine to move (a veth
    /// whose other end is a port of the network's bridge, or a macvlan on its parent).
    public func joinEngineEndpoint(network reference: String, id: String) throws -> EngineJoin {
        try store.locked {
            let (endpoint, network) = try engineEndpoint(network: reference, id: id)
            let driver = try drivers.named(network.driver)
            let name = Self.engineInterfaceName(of: endpoint.id)
            // A join repeated (the engine retrying) starts from nothing.
            removeEngineInterfaces(endpoint, network: network, driver: driver)
            try driver.joinOnHost(endpoint, network: network, interface: name, host: host)
            let rules = firewall.elements(for: endpoint, on: network)
            do {
                try firewall.apply(adding: rules, removing: .init()) { try desiredFirewall() }
            } catch {
                removeEngineInterfaces(endpoint, network: network, driver: driver)
                throw CNMError.kernel("network \"\(network.name)\"", error)
            }
            let gateways = network.internal ? [] : network.pools.compactMap(\.gateway)
            return EngineJoin(interfaceName: name,
                              sandboxPrefix: network.options[BridgeDriver.Option.interfacePrefix] ?? "eth",
                              gatewayIPv4: gateways.first(where: \.isIPv4), gatewayIPv6: gateways.first(where: { !$0.isIPv4 }))
        }
    }

    /// Publishes the endpoint's ports (`-p` specs and `--expose` ports as netctl takes them),
    /// replacing whatever it published before; checked against every port this root
    /// publishes, one nft transaction.
    public func publishEnginePorts(network reference: String, id: String, publish: [String], expose: [String]) throws -> EndpointRecord {
        try store.locked {
            let (old, network) = try engineEndpoint(network: reference, id: id)
            var endpoint = old
            var request = ConnectRequest(network: network.id, sandbox: old.sandboxName)
            (request.publish, request.expose) = (publish, expose)
            // The endpoint's own earlier bindings are being replaced: they conflict with nothing.
            let owner = SandboxRecord(id: old.sandboxID, name: old.sandboxName, created: "")
            let ports = try portBindings(for: request, network: network, ipv4: old.ipv4?.address, ipv6: old.ipv6?.address,
                                         sandbox: owner, excluding: old.id)
            endpoint.publishedPorts = ports.bindings.isEmpty ? nil : PublishedRange.runs(of: ports.bindings)
            endpoint.exposedPorts = ports.exposed.isEmpty ? nil : ports.exposed
            let removing = firewall.elements(for: old, on: network)
            let adding = firewall.elements(for: endpoint, on: network)
            do {
                try firewall.apply(adding: adding, removing: removing) {
                    var desired = try desiredFirewall(droppingEndpoints: [old.id])
                    desired.merge(firewall.elements(for: endpoint, on: network))
                    return desired
                }
            } catch {
                throw CNMError.kernel("network \"\(network.name)\"", error)
            }
            do {
                try store.put(Keys.endpoint(endpoint.id, network: network.id), endpoint)
            } catch {
                try? firewall.apply(adding: removing, removing: adding) { try desiredFirewall() }
                throw error
            }
            if !ports.bindings.isEmpty { try prepareHost(for: network) }
            return endpoint
        }
    }

    /// Takes the endpoint out: its published ports, its interfaces (wherever the engine left
    /// them in the host namespace), its record.
    public func deleteEngineEndpoint(network reference: String, id: String) throws {
        try store.locked {
            let (endpoint, network) = try engineEndpoint(network: reference, id: id)
            try firewall.apply(adding: .init(), removing: firewall.elements(for: endpoint, on: network)) {
                try desiredFirewall(droppingEndpoints: [endpoint.id])
            }
            removeEngineInterfaces(endpoint, network: network, driver: try drivers.named(network.driver))
            try store.delete(Keys.endpoint(endpoint.id, network: network.id))
        }
    }

    /// `ip link del` of the host end and of the engine's interface, if they are (still, or
    /// again) in the host namespace; gone already is fine.
    private func removeEngineInterfaces(_ endpoint: EndpointRecord, network: NetworkRecord, driver: any NetworkDriver) {
        try? driver.leave(endpoint, network: network, sandbox: nil, host: host)
        guard let session = try? host.session() else { return }
        do {
            try session.linkDelete(.name(Self.engineInterfaceName(of: endpoint.id)))
        } catch {
            // ENODEV: not there, or in the engine's sandbox.
        }
    }

    /// A subnet of the default address pools that no network of this root, no route of the
    /// host and nothing in `avoiding` overlaps: for another engine's IPAM asking netctl
    /// for a pool.
    public func freeDefaultSubnet(ipv4: Bool, avoiding: [IPNetwork]) throws -> IPNetwork {
        let taken = try localNetworks().flatMap { $0.pools.map(\.subnet) } + avoiding + (try hostRoutes(ipv4: ipv4))
        guard let subnet = AddressAllocator.chooseSubnet(from: defaultPools, ipv4: ipv4, avoiding: taken) else {
            let family = ipv4 ? "IPv4" : "IPv6"
            throw CNMError("no free \(family) subnet in the default address pools (\(defaultPools.filter { $0.base.isIPv4 == ipv4 }.map(\.description).joined(separator: " ")))\(ipv4 ? "" : "; give --subnet with an IPv6 prefix")")
        }
        return subnet
    }
}

extension NetworkDriver {
    public func joinOnHost(_ endpoint: EndpointRecord, network: NetworkRecord, interface name: String, host: HostContext) throws {
        throw CNMError("network \"\(network.name)\": driver \(self.name) cannot give an interface to another engine (expected a bridge or macvlan network)")
    }
}

extension BridgeDriver {
    /// `ip link add HOST_END master BRIDGE up type veth peer name NAME address MAC`: both
    /// ends in the host namespace, the peer for the engine to move.
    public func joinOnHost(_ endpoint: EndpointRecord, network: NetworkRecord, interface name: String, host: HostContext) throws {
        let session = try host.session()
        guard let bridge = network.interfaceName, let hostEnd = endpoint.hostInterface else {
            throw CNMError("network \"\(network.name)\": its endpoints have no host interface")
        }
        let mtu = network.options[Option.mtu].flatMap { UInt32($0) }
        let request = session.batch()
        do {
            try session.addLinkAdd(LinkSpec(
                name: hostEnd, kind: .veth(peer: VethPeer(name: name, mac: endpoint.mac, mtu: mtu)),
                mtu: mtu, master: try session.index(of: .name(bridge)), up: true), to: request)
            session.addLinkSet(.name(hostEnd), alias: host.marker(.endpoint, endpoint.id), to: request)
            session.addBridgePortSet(.name(hostEnd), hairpin: true, to: request)
            try session.execute(request)
        } catch {
            try? session.linkDelete(.name(hostEnd))
            throw CNMError.kernel("network \"\(network.name)\"", error)
        }
    }
}

extension MacvlanDriver {
    /// `ip link add link PARENT name NAME address MAC type macvlan mode MODE`, in the host
    /// namespace for the engine to move.
    public func joinOnHost(_ endpoint: EndpointRecord, network: NetworkRecord, interface name: String, host: HostContext) throws {
        guard let parent = network.interfaceName else {
            throw CNMError("network \"\(network.name)\": no parent interface")
        }
        let modeText = network.options[Option.mode] ?? "bridge"
        guard let mode = MacvlanMode(rawValue: modeText) else {
            throw CNMError("invalid value \"\(modeText)\" for option \(Option.mode): expected bridge, private, vepa or passthru")
        }
        do {
            try host.session().linkAdd(LinkSpec(name: name, kind: .macvlan(parent: .name(parent), mode: mode), mac: endpoint.mac))
            try host.session().linkSet(.name(name), alias: host.marker(.endpoint, endpoint.id))
        } catch {
            try? host.session().linkDelete(.name(name))
            throw CNMError.kernel("network \"\(network.name)\"", error)
        }
    }
}
