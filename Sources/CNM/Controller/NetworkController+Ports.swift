import Netlink

extension NetworkController {
    var firewall: Firewall {
        let drivers = self.drivers
        return Firewall(host: host) { network in try? drivers.named(network.driver).firewallAttachment(for: network) }
    }

    /// The firewall elements every recorded network and endpoint stands for, with `extra`
    /// added and `dropping` left out: what a change should leave behind.
    func desiredFirewall(extraNetwork: NetworkRecord? = nil, extraEndpoint: EndpointRecord? = nil,
                         droppingNetwork: String? = nil, droppingEndpoints: Set<String> = []) throws -> Firewall.Elements {
        var endpoints = try allEndpoints().filter { !droppingEndpoints.contains($0.id) }
        if let extraEndpoint { endpoints.append(extraEndpoint) }
        var networks = firewalled(try localNetworks().filter { $0.id != droppingNetwork }, endpoints: endpoints)
        if let extraNetwork { networks.append(extraNetwork) }
        return firewall.elements(networks: networks, endpoints: endpoints)
    }

    /// The networks the firewall holds elements for: all but a predefined one no sandbox
    /// is on (the default bridge, made by its first container and gone with its last).
    func firewalled(_ networks: [NetworkRecord], endpoints: [EndpointRecord]) -> [NetworkRecord] {
        let used = Set(endpoints.map { $0.networkID })
        return networks.filter { !$0.predefined || used.contains($0.id) }
    }

    /// What a bridge network needs of the host before traffic can be published and routed:
    /// forwarding, and 127.0.0.1 routed onto the bridge (`route_localnet`) for published
    /// ports reached from the host itself.
    func prepareHost(for network: NetworkRecord) throws {
        guard let attachment = firewall.attachment(network) else { return }
        try host.setSysctl("net/ipv4/conf/\(attachment.bridge)/route_localnet", "1")
        guard !attachment.isInternal else { return }
        try host.setSysctl("net/ipv4/ip_forward", "1")
        if network.pool(ipv4: false) != nil {
            try host.setSysctl("net/ipv6/conf/all/forwarding", "1")
        }
    }

    // MARK: Port bindings

    /// Turns `-p`, `-P` and `--expose` into bindings for a new endpoint of `network` with
    /// these addresses: host ports chosen where none was given, every binding checked
    /// against the ports this root has published already. Throws before anything changes.
    func portBindings(for request: ConnectRequest, network: NetworkRecord, ipv4: IPAddress?, ipv6: IPAddress?,
                      sandbox: SandboxRecord, excluding replaced: String? = nil) throws -> (bindings: [PortBinding], exposed: [String]) {
        let specs = try request.publish.map { try PortSpec(parsing: $0) }
        let exposed = try request.expose.map { try ExposedPorts(parsing: $0) }
        guard !specs.isEmpty || request.publishAll else {
            return ([], exposed.flatMap { group in group.ports.map { "\($0)/\(group.proto.rawValue)" } })
        }
        let subject = "network \"\(network.name)\""
        guard let attachment = firewall.attachment(network) else {
            throw CNMError("\(subject) (driver \(network.driver)) cannot publish ports: only bridge networks can")
        }
        guard attachment.publishes else {
            throw CNMError("\(subject) is internal: it cannot publish ports")
        }

        // Who holds what already, to refuse conflicts by name.
        let sandboxNames = Dictionary(uniqueKeysWithValues: try sandboxes().map { ($0.id, $0.name) })
        let networkNames = Dictionary(uniqueKeysWithValues: try localNetworks().map { ($0.id, $0.name) })
        // Bindings by protocol and host port: a conflict is a lookup, however many are published.
        struct Slot: Hashable { var proto: TransportProtocol; var port: UInt16 }
        var taken: [Slot: [(binding: PortBinding, holder: String)]] = [:]
        var added: [PortBinding] = []
        for endpoint in try allEndpoints() where endpoint.id != replaced {
            let holder = "endpoint \(endpoint.shortID) of sandbox \"\(sandboxNames[endpoint.sandboxID] ?? endpoint.sandboxName)\" (network \"\(networkNames[endpoint.networkID] ?? endpoint.networkID)\")"
            for binding in endpoint.bindings { taken[Slot(proto: binding.proto, port: binding.hostPort), default: []].append((binding, holder)) }
        }
        let ownHolder = "an earlier -p of this request"
        let localRange = try localPortRange()

        func defaultHostIPs() -> [IPAddress] {
            var addresses = [attachment.hostBindingIPv4]
            if ipv6 != nil { addresses.append(.v6(0)) }
            return addresses
        }
        func conflict(_ binding: PortBinding) -> String? {
            taken[Slot(proto: binding.proto, port: binding.hostPort)]?.first { $0.binding.collides(with: binding) }?.holder
        }
        func freePort(in range: ClosedRange<UInt16>, proto: TransportProtocol, hostIPs: [IPAddress]) -> UInt16? {
            range.first { port in
                hostIPs.allSatisfy { conflict(PortBinding(proto: proto, containerPort: 0, hostIP: $0, hostPort: port)) == nil }
            }
        }
        func add(_ proto: TransportProtocol, container: UInt16, hostIPs: [IPAddress], hostPort: UInt16?, spec: String) throws {
            let port: UInt16
            if let hostPort {
                port = hostPort
            } else if let free = freePort(in: localRange, proto: proto, hostIPs: hostIPs) {
                port = free
            } else {
                throw CNMError("publish \"\(spec)\": no free \(proto.rawValue) port left in the local port range \(localRange.lowerBound)-\(localRange.upperBound)")
            }
            for hostIP in hostIPs {
                let binding = PortBinding(proto: proto, containerPort: container, hostIP: hostIP, hostPort: port)
                if let holder = conflict(binding) {
                    throw CNMError("publish \"\(spec)\": port \(port)/\(proto.rawValue) on \(binding.hostEndpoint) is already published by \(holder)")
                }
                taken[Slot(proto: proto, port: port), default: []].append((binding, ownHolder))
                added.append(binding)
            }
        }

        for (spec, text) in zip(specs, request.publish) {
            var hostIPs = spec.hostIP.map { [$0] } ?? defaultHostIPs()
            if let explicit = spec.hostIP {
                let family = explicit.isIPv4 ? "IPv4" : "IPv6"
                guard (explicit.isIPv4 ? ipv4 : ipv6) != nil else {
                    throw CNMError("publish \"\(text)\": host IP \(explicit) is \(family) but the endpoint on \(subject) has no \(family) address")
                }
                hostIPs = [explicit]
            }
            let containers = Array(spec.containerPorts)
            if let hosts = spec.hostPorts, hosts.count > 1, containers.count == 1 {
                // 8000-8010:80 — the first port of the range that is free.
                guard let port = freePort(in: hosts, proto: spec.proto, hostIPs: hostIPs) else {
                    throw CNMError("publish \"\(text)\": every port of \(hosts.lowerBound)-\(hosts.upperBound)/\(spec.proto.rawValue) is already published")
                }
                try add(spec.proto, container: containers[0], hostIPs: hostIPs, hostPort: port, spec: text)
                continue
            }
            for (index, container) in containers.enumerated() {
                let hostPort = spec.hostPorts.map { $0.lowerBound + UInt16(index) }
                try add(spec.proto, container: container, hostIPs: hostIPs, hostPort: hostPort, spec: text)
            }
        }
        if request.publishAll {
            let published = Set(added.map { "\($0.containerPort)/\($0.proto.rawValue)" })
            for group in exposed {
                for container in group.ports where !published.contains("\(container)/\(group.proto.rawValue)") {
                    try add(group.proto, container: container, hostIPs: defaultHostIPs(), hostPort: nil, spec: "-P \(container)/\(group.proto.rawValue)")
                }
            }
        }
        let bindings = added.sorted()
        return (bindings, exposed.flatMap { group in group.ports.map { "\($0)/\(group.proto.rawValue)" } })
    }

    /// The kernel's ephemeral port range in the host namespace, where `-P` and `-p CPORT`
    /// find their host ports.
    private func localPortRange() throws -> ClosedRange<UInt16> {
        let fields = try host.sysctl("net/ipv4/ip_local_port_range").split(whereSeparator: \.isWhitespace).compactMap { UInt16($0) }
        guard fields.count == 2, fields[0] <= fields[1] else { return 32768...60999 }
        return fields[0]...fields[1]
    }

    /// `netctl port SANDBOX`: every binding of every endpoint of the sandbox.
    public func ports(of reference: String) throws -> [PortBinding] {
        let sandbox = try sandbox(reference)
        return try endpoints(of: sandbox).flatMap(\.bindings).sorted()
    }
}
