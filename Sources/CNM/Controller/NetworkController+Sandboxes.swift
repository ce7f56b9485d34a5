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
            let networks = Dictionary(uniqueKeysWithValues: try networks().map { ($0.id, $0) })
            let endpoints = try endpoints(of: sandbox)
            var rules = Firewall.Elements()
            for endpoint in endpoints {
                if let network = networks[endpoint.networkID] { rules.merge(firewall.elements(for: endpoint, on: network)) }
            }
            try firewall.apply(adding: .init(), removing: rules) { try desiredFirewall(droppingEndpoints: Set(endpoints.map(\.id))) }
            let namespaceGoes = destroyingNamespace && NetworkNamespace.exists(named: sandbox.name)
            for endpoint in endpoints {
                if let network = networks[endpoint.networkID], !namespaceGoes {
                    try Drivers.named(network.driver).leave(endpoint, network: network, sandbox: context, host: host)
                }
                try store.delete(Keys.endpoint(endpoint.id, network: endpoint.networkID))
            }
            if NetworkNamespace.exists(named: sandbox.name) {
                do { try NetworkNamespace.remove(named: sandbox.name) } catch { throw CNMError.kernel("sandbox \"\(sandbox.name)\"", error) }
            }
            try store.delete(Keys.sandbox(sandbox.id))
            return sandbox
        }
    }

    // MARK: Endpoints

    /// Attaches a sandbox to a network: an address (asked for, or the lowest free one), an
    /// interface inside the sandbox, a route, and the record, all or nothing.
    public func connect(_ request: ConnectRequest) throws -> EndpointRecord {
        try store.locked {
            _ = try recoverInterruptedChanges()
            let network = try network(request.network)
            let sandbox = try sandbox(request.sandbox)
            let driver = try Drivers.named(network.driver)
            let networkEndpoints = try endpoints(of: network)
            if networkEndpoints.contains(where: { $0.sandboxID == sandbox.id }) {
                throw CNMError("sandbox \"\(sandbox.name)\" is already connected to network \"\(network.name)\"")
            }
            let requested4 = try request.ipv4.map { try parseAddress($0, ipv4: true, flag: "--ip") }
            let requested6 = try request.ipv6.map { try parseAddress($0, ipv4: false, flag: "--ip6") }
            if requested6 != nil && !network.enableIPv6 {
                throw CNMError("network \"\(network.name)\": --ip6 given but the network has no IPv6 (create it with --ipv6)")
            }
            if (requested4 != nil || requested6 != nil) && network.pools.isEmpty {
                throw CNMError("network \"\(network.name)\": driver \(network.driver) takes no addresses")
            }

            var used: [IPAddress: String] = [:]
            for endpoint in networkEndpoints { for address in endpoint.addresses { used[address] = endpoint.sandboxName } }
            let ipv4 = try network.pool(ipv4: true).map {
                try AddressAllocator.allocate(in: $0, used: used, requested: requested4, network: network.name)
            }
            let ipv6 = try network.pool(ipv4: false).map {
                try AddressAllocator.allocate(in: $0, used: used, requested: requested6, network: network.name)
            }

            let ports = try portBindings(for: request, network: network, ipv4: ipv4?.address, ipv6: ipv6?.address, sandbox: sandbox)

            let id = Identifier.make()
            let hasInterface = !network.pools.isEmpty
            let endpoint = EndpointRecord(
                id: id, networkID: network.id, sandboxID: sandbox.id, sandboxName: sandbox.name,
                mac: hasInterface ? (ipv4.map { MACAddress(derivedFrom: $0.address) } ?? MACAddress.random()) : nil,
                ipv4: ipv4, ipv6: ipv6,
                hostInterface: network.driver == "bridge" ? "nc-veth" + id.prefix(8) : nil,
                sandboxInterface: hasInterface ? try interfaceName(for: sandbox, network: network) : nil,
                aliases: request.aliases,
                publishedPorts: ports.bindings.isEmpty ? nil : PublishedRange.runs(of: ports.bindings),
                exposedPorts: ports.exposed.isEmpty ? nil : ports.exposed)
            let context = SandboxContext(record: sandbox)
            try driver.join(endpoint, network: network, sandbox: context, host: host)
            let rules = firewall.elements(for: endpoint, on: network)
            do {
                try firewall.apply(adding: rules, removing: .init()) { try desiredFirewall(extraEndpoint: endpoint) }
                host.faults.reach("connect.after-firewall")
            } catch {
                try? driver.leave(endpoint, network: network, sandbox: context, host: host)
                throw CNMError.kernel("network \"\(network.name)\"", error)
            }
            do {
                try store.put(Keys.endpoint(id, network: network.id), endpoint)
            } catch {
                try? firewall.apply(adding: .init(), removing: rules) { try desiredFirewall() }
                try? driver.leave(endpoint, network: network, sandbox: context, host: host)
                throw error
            }
            return endpoint
        }
    }

    public func disconnect(network reference: String, sandbox sandboxReference: String) throws {
        try store.locked {
            let network = try network(reference)
            let sandbox = try sandbox(sandboxReference)
            guard let endpoint = try endpoints(of: network).first(where: { $0.sandboxID == sandbox.id }) else {
                throw CNMError("sandbox \"\(sandbox.name)\" is not connected to network \"\(network.name)\"")
            }
            let context = SandboxContext(record: sandbox)
            try firewall.apply(adding: .init(), removing: firewall.elements(for: endpoint, on: network)) {
                try desiredFirewall(droppingEndpoints: [endpoint.id])
            }
            try Drivers.named(network.driver).leave(endpoint, network: network, sandbox: context, host: host)
            try store.delete(Keys.endpoint(endpoint.id, network: network.id))

            // If that attachment carried the default route, let another network carry it.
            let networks = Dictionary(uniqueKeysWithValues: try networks().map { ($0.id, $0) })
            let remaining = try endpoints(of: sandbox).compactMap { endpoint in networks[endpoint.networkID].map { (endpoint, $0) } }
            if !network.internal, remaining.contains(where: { !$0.1.internal && $0.0.sandboxInterface != nil }) {
                try? SandboxInterface.restoreDefaultRoutes(sandbox: context, remaining: remaining)
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
