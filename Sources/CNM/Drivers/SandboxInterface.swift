import Netlink

/// What every driver that gives a sandbox an interface does next, in one round trip inside
/// the sandbox: `ip link set IF up alias MARK; ip addr add …; ip route add default via GW`.
/// The default route is added only if the sandbox has none yet (the first network attached
/// provides the gateway, as in Docker), and never for internal networks.
enum SandboxInterface {
    static func configure(_ endpoint: EndpointRecord, network: NetworkRecord, sandbox: SandboxContext, host: HostContext) throws {
        guard let name = endpoint.sandboxInterface else { return }
        let session = try sandbox.session()
        let request = session.batch()
        session.addLinkSet(.name(name), up: true, alias: host.marker(.endpoint, endpoint.id), to: request)
        let index = LinkReference.name(name)
        let interface = try session.index(of: index)
        for address in [endpoint.ipv4, endpoint.ipv6].compactMap({ $0 }) {
            session.addAddressAdd(address, interface: interface, to: request)
        }
        if !network.internal {
            for address in [endpoint.ipv4, endpoint.ipv6].compactMap({ $0 }) {
                guard let gateway = network.pool(ipv4: address.isIPv4)?.gateway else { continue }
                session.addRouteAdd(Route(gateway: gateway, interfaceIndex: interface), tolerateExisting: true, to: request)
            }
        }
        try session.execute(request)
    }

    /// After an attachment that may have carried the default route leaves, lets another
    /// of the sandbox's networks provide it.
    static func restoreDefaultRoutes(sandbox: SandboxContext, remaining: [(EndpointRecord, NetworkRecord)]) throws {
        let session = try sandbox.session()
        let request = session.batch()
        for (endpoint, network) in remaining where !network.internal {
            guard let name = endpoint.sandboxInterface, let interface = try? session.index(of: .name(name)) else { continue }
            for address in [endpoint.ipv4, endpoint.ipv6].compactMap({ $0 }) {
                guard let gateway = network.pool(ipv4: address.isIPv4)?.gateway else { continue }
                session.addRouteAdd(Route(gateway: gateway, interfaceIndex: interface), tolerateExisting: true, to: request)
            }
        }
        try session.execute(request)
    }
}
