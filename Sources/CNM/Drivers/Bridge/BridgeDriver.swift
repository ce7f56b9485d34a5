import Netlink
import Glibc

/// Docker's `bridge` driver: a Linux bridge per network holding the gateway addresses, and a
/// veth per endpoint whose host end is a port of the bridge and whose other end is born
/// inside the sandbox.
public struct BridgeDriver: NetworkDriver {
    public let name = "bridge"

    public enum Option {
        public static let bridgeName = "com.docker.network.bridge.name"
        public static let mtu = "com.docker.network.driver.mtu"
        public static let enableICC = "com.docker.network.bridge.enable_icc"
        public static let enableMasquerade = "com.docker.network.bridge.enable_ip_masquerade"
        public static let hostBindingIPv4 = "com.docker.network.bridge.host_binding_ipv4"
        public static let interfacePrefix = "com.docker.network.container_iface_prefix"
        /// Marks Docker's default `bridge` network (no names on it).
        public static let defaultBridge = "com.docker.network.bridge.default_bridge"
        static let all = [bridgeName, mtu, enableICC, enableMasquerade, hostBindingIPv4, interfacePrefix, defaultBridge]
    }

    public init() {}

    public func prepare(_ network: inout NetworkRecord, host: HostContext) throws {
        try checkOptionNames(network, known: Option.all)
        let options = network.options
        for key in [Option.enableICC, Option.enableMasquerade] {
            if let value = options[key], value != "true", value != "false" {
                throw CNMError("invalid value \"\(value)\" for option \(key): expected true or false")
            }
        }
        if let value = options[Option.hostBindingIPv4], IPAddress(value)?.isIPv4 != true {
            throw CNMError("invalid value \"\(value)\" for option \(Option.hostBindingIPv4): expected an IPv4 address")
        }
        _ = try mtu(of: network)
        if let prefix = options[Option.interfacePrefix],
           prefix.isEmpty || prefix.utf8.count > 12 || !prefix.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) {
            throw CNMError("invalid value \"\(prefix)\" for option \(Option.interfacePrefix): expected 1 to 12 letters or digits")
        }

        let bridge = options[Option.bridgeName] ?? "nc-br-" + network.id.prefix(9)
        guard !bridge.isEmpty, bridge.utf8.count <= maximumInterfaceNameLength else {
            throw CNMError("bridge name \"\(bridge)\" is \(bridge.utf8.count) bytes: expected 1 to \(maximumInterfaceNameLength)")
        }
        guard !bridge.contains("/"), !bridge.contains(where: \.isWhitespace), bridge != ".", bridge != ".." else {
            throw CNMError("bridge name \"\(bridge)\" is not a valid interface name")
        }
        if try host.session().link(.name(bridge)) != nil {
            throw CNMError("network \"\(network.name)\": interface \"\(bridge)\" already exists on the host")
        }
        network.interfaceName = bridge
    }

    public func createNetwork(_ network: NetworkRecord, host: HostContext) throws {
        let session = try host.session()
        let bridge = network.interfaceName!
        // ip link add BRIDGE [mtu N] up type bridge; ip link set BRIDGE alias MARK;
        // ip addr add GATEWAY/PREFIX dev BRIDGE (each family): one round trip.
        let request = session.batch()
        try session.addLinkAdd(LinkSpec(name: bridge, kind: .bridge, mtu: try mtu(of: network), up: true), to: request)
        session.addLinkSet(.name(bridge), alias: host.marker(.network, network.id), to: request)
        do {
            try session.execute(request)
            host.faults.reach("network-create.after-bridge")
            let index = try session.index(of: .name(bridge))
            let addresses = session.batch()
            for pool in network.pools {
                if let gateway = pool.gateway {
                    session.addAddressAdd(pool.subnet.with(address: gateway), interface: index, to: addresses)
                }
            }
            try session.execute(addresses)
        } catch {
            try? session.linkDelete(.name(bridge))
            throw CNMError.kernel("network \"\(network.name)\"", error)
        }
    }

    public func deleteNetwork(_ network: NetworkRecord, host: HostContext) throws {
        guard let bridge = network.interfaceName else { return }
        do {
            try host.session().linkDelete(.name(bridge))
        } catch let error as NetlinkError where error.errno == ENODEV {
            // Already gone (a reboot, or someone else removed it): nothing to undo.
        }
    }

    public func join(_ endpoint: EndpointRecord, network: NetworkRecord, sandbox: SandboxContext, host: HostContext) throws {
        let session = try host.session()
        guard let bridge = network.interfaceName, let hostEnd = endpoint.hostInterface,
              let inside = endpoint.sandboxInterface else { return }
        let bridgeIndex = try session.index(of: .name(bridge))
        let mtu = try mtu(of: network)
        // ip link add HOST_END master BRIDGE up type veth peer name ethN netns SANDBOX address MAC
        let request = session.batch()
        try session.addLinkAdd(LinkSpec(
            name: hostEnd,
            kind: .veth(peer: VethPeer(name: inside, namespace: try sandbox.namespace(), mac: endpoint.mac, mtu: mtu)),
            mtu: mtu, master: bridgeIndex, up: true), to: request)
        session.addLinkSet(.name(hostEnd), alias: host.marker(.endpoint, endpoint.id), to: request)
        // ip link set HOST_END type bridge_slave hairpin on (as Docker without its proxy)
        session.addBridgePortSet(.name(hostEnd), hairpin: true, to: request)
        do {
            try session.execute(request)
            host.faults.reach("connect.after-veth")
            try SandboxInterface.configure(endpoint, network: network, sandbox: sandbox, host: host)
        } catch {
            try? session.linkDelete(.name(hostEnd))
            throw CNMError.kernel("network \"\(network.name)\"", error)
        }
    }

    public func leave(_ endpoint: EndpointRecord, network: NetworkRecord, sandbox: SandboxContext?, host: HostContext) throws {
        guard let hostEnd = endpoint.hostInterface else { return }
        do {
            // Deleting the host end deletes the sandbox end with it.
            try host.session().linkDelete(.name(hostEnd))
        } catch let error as NetlinkError where error.errno == ENODEV {
        }
    }

    public func networkIsPresent(_ network: NetworkRecord, host: HostContext) throws -> Bool {
        guard let bridge = network.interfaceName else { return true }
        return try host.session().link(.name(bridge)) != nil
    }

    public func restoreNetwork(_ network: NetworkRecord, host: HostContext) throws -> String {
        try createNetwork(network, host: host)
        return "recreated bridge \(network.interfaceName ?? "") of network \"\(network.name)\""
    }

    public func hostInterface(forEndpoint id: String, network: NetworkRecord) -> String? { "nc-veth" + id.prefix(8) }

    public func firewallAttachment(for network: NetworkRecord) -> FirewallAttachment? {
        guard let bridge = network.interfaceName else { return nil }
        let options = network.options
        return FirewallAttachment(
            bridge: bridge, isInternal: network.internal,
            masquerade: options[Option.enableMasquerade] != "false",
            interContainer: options[Option.enableICC] != "false",
            hostBindingIPv4: options[Option.hostBindingIPv4].flatMap(IPAddress.init) ?? IPAddress("0.0.0.0")!,
            publishes: !network.internal)
    }

    private func mtu(of network: NetworkRecord) throws -> UInt32? {
        guard let text = network.options[Option.mtu] else { return nil }
        guard let mtu = UInt32(text), (68...65535).contains(mtu) else {
            throw CNMError("invalid value \"\(text)\" for option \(Option.mtu): expected an MTU from 68 to 65535")
        }
        return mtu
    }
}
