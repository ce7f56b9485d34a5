import Netlink

extension NetworkController {
    /// Docker's default network, what `run` joins without `--network`: a bridge (`nc0`
    /// where that name is free) with a subnet from the default pools, containers reaching
    /// each other (ICC on) and the outside (masqueraded), and no names: on it, as in
    /// Docker, containers find each other by address only.
    public static let defaultBridgeName = "bridge"

    /// The default bridge network, recorded on first use. Its kernel bridge is made by
    /// its first connect (`materializeIfAbsent`), so a root that never runs a container on
    /// it changes nothing on the host.
    public func defaultBridge() throws -> NetworkRecord {
        if let existing = try defaultBridgeRecord() { return existing }
        return try store.locked {
            if let existing = try defaultBridgeRecord() { return existing }
            return try recordDefaultBridge()
        }
    }

    /// (A root made before there was a default bridge may hold a network of that name of
    /// its own making: that one is used.)
    private func defaultBridgeRecord() throws -> NetworkRecord? {
        try store.all(NetworkRecord.self, under: Keys.networks).first { $0.name == Self.defaultBridgeName }
    }

    /// Records the default bridge network, holding the lock: a subnet chosen as for any
    /// network, no kernel change.
    func recordDefaultBridge() throws -> NetworkRecord {
        var request = NetworkCreateRequest(name: Self.defaultBridgeName)
        request.options = [
            BridgeDriver.Option.enableICC: "true",
            BridgeDriver.Option.enableMasquerade: "true",
            BridgeDriver.Option.defaultBridge: "true",
        ]
        // `nc0` unless another root on this host has it (each root's bridge is its own).
        if try host.session().link(.name("nc0")) == nil { request.options[BridgeDriver.Option.bridgeName] = "nc0" }
        let driver = try drivers.named(request.driver)
        var network = NetworkRecord(
            id: Identifier.make(), name: request.name, driver: driver.name, created: Timestamp.now(), scope: driver.scope.rawValue,
            enableIPv6: false, internal: false, attachable: false, ipamDriver: "default", ipamOptions: [:],
            pools: try addressPools(for: request, existing: try localNetworks()), options: request.options, labels: [:],
            interfaceName: nil, predefined: true)
        try driver.prepare(&network, host: host)
        try store.put(Keys.network(network.id), network)
        return network
    }

    /// Makes the kernel side of a predefined network recorded before its first use (the
    /// default bridge): its device, the host's sysctls and its firewall elements. Holding
    /// the lock; an undo on failure (and `releaseIfUnused` when the connect fails later).
    func materializeIfAbsent(_ network: NetworkRecord, driver: any NetworkDriver) throws {
        guard network.predefined, network.interfaceName != nil, try !driver.networkIsPresent(network, host: host) else { return }
        try driver.createNetwork(network, host: host)
        do {
            try prepareHost(for: network)
            try firewall.apply(adding: firewall.elements(for: network), removing: .init()) { try desiredFirewall(extraNetwork: network) }
        } catch {
            try? driver.deleteNetwork(network, host: host)
            throw CNMError.kernel("network \"\(network.name)\"", error)
        }
    }

    /// The other half: once the last sandbox leaves a predefined network, its device and
    /// firewall elements go (as netavark removes podman0 with its last container).
    func releaseIfUnused(_ network: NetworkRecord) throws {
        guard try endpoints(of: network).isEmpty else { return }
        let driver = try drivers.named(network.driver)
        guard try driver.networkIsPresent(network, host: host) else { return }
        let firewall = self.firewall
        // The tables go with the last network they serve, as with `network rm`.
        if firewalled(try localNetworks(), endpoints: try allEndpoints()).contains(where: firewall.manages) {
            try firewall.apply(adding: .init(), removing: firewall.elements(for: network)) { try desiredFirewall() }
        } else {
            try firewall.remove()
        }
        try driver.deleteNetwork(network, host: host)
    }
}
