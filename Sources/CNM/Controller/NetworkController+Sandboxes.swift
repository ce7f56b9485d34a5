import DNS
import Netlink
import Glibc

extension NetworkController {
    public func sandboxes() throws -> [SandboxRecord] {
        try store.all(SandboxRecord.self, under: Keys.sandboxes).sorted { $0.name < $1.name }
    }

    public func sandbox(_ reference: String) throws -> SandboxRecord {
        try resolve(reference, among: try sandboxes(), kind: "sandbox", name: \.name, id: \.id)
    }

    /// Every endpoint of every network, in one pass.
    public func allEndpoints() throws -> [EndpointRecord] {
        try store.all(EndpointRecord.self, under: Keys.endpoints)
    }

    public func endpoints(of sandbox: SandboxRecord) throws -> [EndpointRecord] {
        try allEndpoints().filter { $0.sandboxID == sandbox.id }
    }

    /// `ip netns add NAME` with loopback up, marked as this root's, and recorded. An intent
    /// names the namespace before it exists, so that a kill at any point leaves nothing
    /// reconcile cannot tell is this root's.
    public func createSandbox(named name: String) throws -> SandboxRecord {
        try validateName(name, of: "sandbox")
        return try store.locked {
            _ = try recoverInterruptedChanges()
            if try sandboxes().contains(where: { $0.name == name }) {
                throw CNMError("sandbox \"\(name)\" already exists")
            }
            if NetworkNamespace.exists(named: name) {
                throw CNMError("sandbox \"\(name)\": network namespace \(NetworkNamespace.directory)/\(name) already exists")
            }
            let record = SandboxRecord(id: Identifier.make(), name: name, created: Timestamp.now())
            let intent = IntentRecord(id: Identifier.make(), operation: .createSandbox, process: .current(),
                                      sandboxID: record.id, sandboxName: name)
            try store.put(Keys.intent(intent.id), intent, compact: true)
            let marker = host.marker(.sandbox, record.id)
            do {
                // ip netns add NAME; ip -n NAME link set lo up alias MARK
                try NetworkNamespace.create(named: name, setup: { session in
                    try session.linkSet(.name("lo"), up: true, alias: marker)
                }, beforeMount: { host.faults.reach("sandbox-create.before-mount") })
            } catch {
                try? store.delete(Keys.intent(intent.id))
                throw CNMError.kernel("sandbox \"\(name)\"", error)
            }
            host.faults.reach("sandbox-create.after-netns")
            do {
                try store.put(Keys.sandbox(record.id), record)
            } catch {
                try? NetworkNamespace.remove(named: name)
                try? store.delete(Keys.intent(intent.id))
                throw error
            }
            try store.delete(Keys.intent(intent.id))
            return record
        }
    }

    /// Rolls back what killed commands left half done, from their intents. Call it holding
    /// the store's lock: every intent it finds is then a dead command's, since intents are
    /// written and removed under the lock.
    func recoverInterruptedChanges() throws -> [String] {
        var report: [String] = []
        for key in try store.keys(under: Keys.intents) {
            if let intent = try? store.get(IntentRecord.self, key) {
                switch intent.operation {
                case .createSandbox:
                    // With its record written the sandbox is whole: only the intent's removal was cut off.
                    guard let id = intent.sandboxID, let name = intent.sandboxName,
                          try store.read(Keys.sandbox(id)) == nil, NetworkNamespace.exists(named: name),
                          isLeftover(namespace: name, of: id) else { break }
                    do { try NetworkNamespace.remove(named: name) } catch { throw CNMError.kernel("sandbox \"\(name)\"", error) }
                    report.append("removed network namespace \"\(name)\": the command creating its sandbox was killed")
                }
            }
            try store.delete(key)
        }
        return report
    }

    /// What a killed `createSandbox` of sandbox `id` may have left under NAME: the namespace,
    /// marked for that sandbox (it is marked before it is named), or the empty placeholder
    /// file of a mount that never happened.
    private func isLeftover(namespace name: String, of id: String) -> Bool {
        if let namespace = try? NetworkNamespace.open(named: name) {
            let alias = try? NetlinkSession(in: namespace).link(.name("lo"))?.alias
            return Marker(alias: alias ?? nil) == Marker(root: host.rootID, kind: .sandbox, id: id)
        }
        var info = stat()
        return stat("\(NetworkNamespace.directory)/\(name)", &info) == 0 && info.st_size == 0
            && info.st_mode & 0o170000 == 0o100000  // a regular file
    }

    /// Detaches the sandbox from every network, then removes its namespace. With
    /// `destroyingNamespace`, the interfaces are not deleted one by one (about 20 ms each,
    /// an RCU wait): they go with the namespace, which the kernel frees in the background
    /// once no process holds it. A container's runtime removes a sandbox that way.
    public func removeSandbox(_ reference: String, destroyingNamespace: Bool = false) throws -> SandboxRecord {
        try store.locked {
            _ = try recoverInterruptedChanges()
            let sandbox = try sandbox(reference)
            let context = SandboxContext(record: sandbox)
            let networks = Dictionary(uniqueKeysWithValues: try localNetworks().map { ($0.id, $0) })
            let endpoints = try endpoints(of: sandbox)
            var rules = Firewall.Elements()
            for endpoint in endpoints {
                if let network = networks[endpoint.networkID] { rules.merge(firewall.elements(for: endpoint, on: network)) }
            }
            try firewall.apply(adding: .init(), removing: rules) { try desiredFirewall(droppingEndpoints: Set(endpoints.map(\.id))) }
            let namespaceGoes = destroyingNamespace && sandbox.namespacePath == nil && NetworkNamespace.exists(named: sandbox.name)
            for endpoint in endpoints {
                // A cluster network's leave also withdraws the endpoint from the cluster.
                if let network = networks[endpoint.networkID], !namespaceGoes || network.scope == NetworkScope.global.rawValue {
                    try drivers.named(network.driver).leave(endpoint, network: network, sandbox: context, host: host)
                }
                try store.delete(Keys.endpoint(endpoint.id, network: endpoint.networkID))
                if let network = networks[endpoint.networkID] { try forgetClusterNetworkIfUnused(network) }
            }
            if sandbox.namespacePath == nil, NetworkNamespace.exists(named: sandbox.name) {
                do { try NetworkNamespace.remove(named: sandbox.name) } catch { throw CNMError.kernel("sandbox \"\(sandbox.name)\"", error) }
            } else if sandbox.namespacePath != nil, resolver != nil {
                // The runtime's namespace stays: the resolver's NAT netctl put there goes.
                try? removeResolverNAT(in: context)
            }
            // Its names go from the resolver's tables, and the resolver closes its sockets
            // there (they hold the namespace, with its interfaces, until they are closed).
            if resolver != nil {
                let named = endpoints.filter { $0.dnsNames != nil }
                withdrawNames(networks: named.compactMap { networks[$0.networkID] }, sandbox: sandbox, sandboxGoes: true)
            }
            try store.delete(Keys.sandbox(sandbox.id))
            return sandbox
        }
    }

    // MARK: Endpoints

    /// Attaches a sandbox to a network: an address (asked for, or the lowest free one), an
    /// interface inside the sandbox, a route, and the record, all or nothing. A network
    /// that gives no way out (an overlay) brings the host's gateway bridge network along,
    /// which carries the sandbox's default route and its published ports, as Docker's
    /// docker_gwbridge does.
    public func connect(_ request: ConnectRequest) throws -> EndpointRecord {
        try store.locked {
            _ = try recoverInterruptedChanges()
            return try connectHoldingLock(request)
        }
    }

    /// `connect`, holding the lock; `resolved` are the request's network and sandbox when
    /// the caller has just read or made them.
    func connectHoldingLock(_ request: ConnectRequest, resolved: (NetworkRecord, SandboxRecord)? = nil) throws -> EndpointRecord {
        let network = try resolved?.0 ?? network(request.network)
        let sandbox = try resolved?.1 ?? sandbox(request.sandbox)
        let driver = try drivers.named(network.driver)
        try materializeIfAbsent(network, driver: driver)
        guard !driver.providesExternalConnectivity, !network.internal else {
            return try attach(request, network: network, sandbox: sandbox, driver: driver)
        }
        var inner = request
        (inner.publish, inner.publishAll, inner.expose) = ([], false, [])
        let onGateway = try endpoints(of: sandbox).contains { $0.networkID == (try? gatewayBridgeRecord())??.id }
        if onGateway, !request.publish.isEmpty || request.publishAll {
            throw CNMError("sandbox \"\(sandbox.name)\" is already on the gateway bridge: publish its ports on its first overlay connect")
        }
        let endpoint = try attach(inner, network: network, sandbox: sandbox, driver: driver)
        guard !onGateway else { return endpoint }
        do {
            let gateway = try gatewayBridge()
            var outer = ConnectRequest(network: gateway.id, sandbox: sandbox.id)
            (outer.publish, outer.publishAll, outer.expose) = (request.publish, request.publishAll, request.expose)
            _ = try attach(outer, network: gateway, sandbox: sandbox, driver: try drivers.named(gateway.driver))
        } catch {
            try? detach(endpoint, network: network, sandbox: sandbox)
            throw error
        }
        return endpoint
    }

    /// The gateway bridge network's name and settings (Docker's docker_gwbridge: no traffic
    /// between its endpoints, masqueraded on the way out).
    public static let gatewayBridgeName = "netctl_gwbridge"

    private func gatewayBridgeRecord() throws -> NetworkRecord? {
        try store.all(NetworkRecord.self, under: Keys.networks).first { $0.name == Self.gatewayBridgeName }
    }

    /// The host's gateway bridge network, made on first use.
    private func gatewayBridge() throws -> NetworkRecord {
        if let existing = try gatewayBridgeRecord() { return existing }
        var request = NetworkCreateRequest(name: Self.gatewayBridgeName)
        request.driver = "bridge"
        request.options = [
            BridgeDriver.Option.bridgeName: "nc_gwbridge",
            BridgeDriver.Option.enableICC: "false",
            BridgeDriver.Option.enableMasquerade: "true",
        ]
        return try makeNetwork(request)
    }

    /// `connect` for one network, holding the lock.
    private func attach(_ request: ConnectRequest, network: NetworkRecord, sandbox: SandboxRecord,
                        driver: any NetworkDriver) throws -> EndpointRecord {
        let networkEndpoints = try endpoints(of: network)
        if networkEndpoints.contains(where: { $0.sandboxID == sandbox.id }) {
            throw CNMError("sandbox \"\(sandbox.name)\" is already connected to network \"\(network.name)\"")
        }
        let requested4 = try request.ipv4.map { try parseAddress($0, ipv4: true, flag: "--ip") }
        let requested6 = try request.ipv6.map { try parseAddress($0, ipv4: false, flag: "--ip6") }
        let requestedMAC = try request.mac.map { text in
            guard let mac = MACAddress(text) else { throw CNMError("invalid MAC address \"\(text)\": expected six hex bytes such as 02:42:c6:12:00:05") }
            return mac
        }
        if requested6 != nil && !network.enableIPv6 {
            throw CNMError("network \"\(network.name)\": --ip6 given but the network has no IPv6 (create it with --ipv6)")
        }
        if (requested4 != nil || requested6 != nil) && network.pools.isEmpty {
            throw CNMError("network \"\(network.name)\": driver \(network.driver) takes no addresses")
        }
        for alias in request.aliases { try Self.validateAlias(alias) }
        let named = servesNames(network, driver: driver)
        if let alias = request.aliases.first, !named, resolver != nil {
            // As Docker: aliases are names, and only user-defined networks have names.
            throw CNMError("invalid alias \"\(alias)\": network \"\(network.name)\" has no names (aliases are for user-defined networks)")
        }

        let id = Identifier.make()
        let global = driver.global
        let ipv4: IPNetwork?, ipv6: IPNetwork?
        if let global {
            // Cluster-wide: a transaction in the cluster store, not this root's lock.
            (ipv4, ipv6) = try global.claimAddresses(for: id, network: network, ipv4: requested4, ipv6: requested6)
        } else {
            var used: [IPAddress: String] = [:]
            for endpoint in networkEndpoints { for address in endpoint.addresses { used[address] = endpoint.sandboxName } }
            ipv4 = try network.pool(ipv4: true).map {
                try AddressAllocator.allocate(in: $0, used: used, requested: requested4, network: network.name)
            }
            ipv6 = try network.pool(ipv4: false).map {
                try AddressAllocator.allocate(in: $0, used: used, requested: requested6, network: network.name)
            }
        }

        let hasInterface = !network.pools.isEmpty
        var endpoint = EndpointRecord(
            id: id, networkID: network.id, sandboxID: sandbox.id, sandboxName: sandbox.name,
            mac: hasInterface ? (requestedMAC ?? ipv4.map { MACAddress(derivedFrom: $0.address) } ?? MACAddress.random()) : nil,
            ipv4: ipv4, ipv6: ipv6,
            hostInterface: driver.hostInterface(forEndpoint: id, network: network),
            sandboxInterface: nil, aliases: request.aliases)
        endpoint.dnsNames = named ? Self.dnsNames(for: request, sandbox: sandbox) : nil
        let context = SandboxContext(record: sandbox)
        do {
            let ports = try portBindings(for: request, network: network, ipv4: ipv4?.address, ipv6: ipv6?.address, sandbox: sandbox)
            endpoint.publishedPorts = ports.bindings.isEmpty ? nil : PublishedRange.runs(of: ports.bindings)
            endpoint.exposedPorts = ports.exposed.isEmpty ? nil : ports.exposed
            endpoint.sandboxInterface = hasInterface ? try request.interfaceName ?? interfaceName(for: sandbox, network: network) : nil
            if global != nil { try store.put(Keys.clusterNetwork(network.id), network) }
            try driver.join(endpoint, network: network, sandbox: context, host: host)
        } catch {
            global?.releaseAddresses(of: endpoint, network: network)
            try? forgetClusterNetworkIfUnused(network)
            throw error
        }
        let rules = firewall.elements(for: endpoint, on: network)
        do {
            try firewall.apply(adding: rules, removing: .init()) { try desiredFirewall(extraEndpoint: endpoint) }
            host.faults.reach("connect.after-firewall")
        } catch {
            try? driver.leave(endpoint, network: network, sandbox: context, host: host)
            try? forgetClusterNetworkIfUnused(network)
            throw CNMError.kernel("network \"\(network.name)\"", error)
        }
        do {
            try store.put(Keys.endpoint(id, network: network.id), endpoint)
        } catch {
            try? firewall.apply(adding: .init(), removing: rules) { try desiredFirewall() }
            try? driver.leave(endpoint, network: network, sandbox: context, host: host)
            try? forgetClusterNetworkIfUnused(network)
            throw error
        }
        guard named else { return endpoint }
        do {
            try publishNames(on: network, endpoints: networkEndpoints + [endpoint], sandbox: sandbox, upstreams: request.upstreamResolvers)
        } catch {
            try? store.delete(Keys.endpoint(id, network: network.id))
            if let resolver { try? writeNameTable(of: network, tables: ResolverTables(root: resolver.root)) }
            try? firewall.apply(adding: .init(), removing: rules) { try desiredFirewall() }
            try? driver.leave(endpoint, network: network, sandbox: context, host: host)
            try? forgetClusterNetworkIfUnused(network)
            throw error
        }
        return endpoint
    }

    /// Drops what a network keeps only while sandboxes are on it: this root's copy of a
    /// cluster network, the default bridge's device and firewall elements.
    func forgetClusterNetworkIfUnused(_ network: NetworkRecord) throws {
        if network.scope == NetworkScope.global.rawValue {
            guard try endpoints(of: network).isEmpty else { return }
            try store.delete(Keys.clusterNetwork(network.id))
        } else if network.predefined, network.interfaceName != nil {
            try releaseIfUnused(network)
        }
    }

    /// Takes one endpoint out: firewall elements, the driver's devices, the record.
    private func detach(_ endpoint: EndpointRecord, network: NetworkRecord, sandbox: SandboxRecord) throws {
        try firewall.apply(adding: .init(), removing: firewall.elements(for: endpoint, on: network)) {
            try desiredFirewall(droppingEndpoints: [endpoint.id])
        }
        try drivers.named(network.driver).leave(endpoint, network: network, sandbox: SandboxContext(record: sandbox), host: host)
        try store.delete(Keys.endpoint(endpoint.id, network: network.id))
        try forgetClusterNetworkIfUnused(network)
        if endpoint.dnsNames != nil { withdrawNames(networks: [network], sandbox: sandbox, sandboxGoes: false) }
    }

    public func disconnect(network reference: String, sandbox sandboxReference: String) throws {
        try store.locked {
            let network = try network(reference)
            let sandbox = try sandbox(sandboxReference)
            guard let endpoint = try endpoints(of: network).first(where: { $0.sandboxID == sandbox.id }) else {
                throw CNMError("sandbox \"\(sandbox.name)\" is not connected to network \"\(network.name)\"")
            }
            try detach(endpoint, network: network, sandbox: sandbox)

            let networks = Dictionary(uniqueKeysWithValues: try localNetworks().map { ($0.id, $0) })
            var remaining = try endpoints(of: sandbox).compactMap { endpoint in networks[endpoint.networkID].map { (endpoint, $0) } }
            // The gateway bridge stays only while a network that needs it does.
            if let gateway = remaining.first(where: { $0.1.name == Self.gatewayBridgeName && $0.1.scope == NetworkScope.local.rawValue }),
               !remaining.contains(where: { !$0.1.internal && (try? drivers.named($0.1.driver).providesExternalConnectivity) == false }) {
                try detach(gateway.0, network: gateway.1, sandbox: sandbox)
                remaining.removeAll { $0.0.id == gateway.0.id }
            }
            // If that attachment carried the default route, let another network carry it.
            if !network.internal, remaining.contains(where: { !$0.1.internal && $0.0.sandboxInterface != nil }) {
                try? SandboxInterface.restoreDefaultRoutes(sandbox: SandboxContext(record: sandbox), remaining: remaining)
            }
        }
    }

    /// eth0, eth1… (or the network's `container_iface_prefix`): the lowest number the
    /// sandbox does not use yet.
    private func interfaceName(for sandbox: SandboxRecord, network: NetworkRecord) throws -> String {
        let prefix = network.options[BridgeDriver.Option.interfacePrefix] ?? "eth"
        let taken = Set(try endpoints(of: sandbox).compactMap(\.sandboxInterface))
        var number = 0
        while taken.contains("\(prefix)\(number)") { number += 1 }
        return "\(prefix)\(number)"
    }

    private func parseAddress(_ text: String, ipv4: Bool, flag: String) throws -> IPAddress {
        guard let address = IPAddress(text), address.isIPv4 == ipv4 else {
            throw CNMError("invalid \(flag) \"\(text)\": expected an \(ipv4 ? "IPv4" : "IPv6") address")
        }
        return address
    }
}
