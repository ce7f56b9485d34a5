import DNS
import Netlink

/// The Container Network Model's front: networks, sandboxes and the endpoints between them.
/// Every change takes the store's lock, reads what it needs, changes the kernel through a
/// driver, and records the result; a failure undoes the kernel change before it returns.
public final class NetworkController {
    public let store: any Store
    public let host: HostContext
    public let drivers: DriverSet
    let defaultPools: [DefaultAddressPool]
    /// The resolver that serves names on this root's networks; nil: no names are served
    /// (a controller over a store that is not a state root's).
    public let resolver: ResolverControl?

    /// Opens (and on first use, initialises) the state root. `drivers` are the kinds of
    /// network this controller can make: CNM's own (`DriverSet.builtin`) and any others.
    public init(store: any Store, hostNamespace: String?, defaultPools: [DefaultAddressPool],
                drivers: DriverSet = .builtin, faults: FaultInjector = FaultInjector(),
                resolver: ResolverControl? = nil) throws {
        self.store = store
        self.defaultPools = defaultPools
        self.drivers = drivers
        self.resolver = resolver
        let (rootID, created) = try Self.rootID(of: store)
        host = HostContext(rootID: rootID, namespaceName: hostNamespace, faults: faults)
        // Docker's `bridge` is there from the start; a root with no free default subnet
        // still works, and `run` without --network says why it cannot.
        if created { _ = try? defaultBridge() }
    }

    /// The root's id, and whether this call made the root.
    private static func rootID(of store: any Store) throws -> (String, Bool) {
        if let root = try store.get(RootRecord.self, Keys.root) { return (root.id, false) }
        return try store.locked {
            if let root = try store.get(RootRecord.self, Keys.root) { return (root.id, false) }
            let root = RootRecord(id: Identifier.make())
            // The predefined networks every Docker host has.
            for (name, driver) in [("host", "host"), ("none", "null")] {
                let network = NetworkRecord(
                    id: Identifier.make(), name: name, driver: driver, created: Timestamp.now(), scope: "local",
                    enableIPv6: false, internal: false, attachable: false, ipamDriver: "default", ipamOptions: [:],
                    pools: [], options: [:], labels: [:], interfaceName: nil, predefined: true)
                try store.put(Keys.network(network.id), network)
            }
            try store.put(Keys.root, root)
            return (root.id, true)
        }
    }

    // MARK: Networks

    /// Every network: this root's, and those of global scope from the cluster store.
    public func networks() throws -> [NetworkRecord] {
        try withClusterNetworks(try localNetworks())
    }

    /// `local` and the cluster's networks it does not hold, by name.
    private func withClusterNetworks(_ local: [NetworkRecord]) throws -> [NetworkRecord] {
        let drivers = globalDrivers
        guard !drivers.isEmpty else { return local }
        let known = Set(local.map(\.id))
        let global = try drivers.flatMap { try $0.networks() }.filter { !known.contains($0.id) }
        return (local + global).sorted { $0.name < $1.name }
    }

    /// This root's networks, and the cluster's networks this host has endpoints on (as
    /// recorded when they joined): what local changes need, without asking the cluster.
    public func localNetworks() throws -> [NetworkRecord] {
        let own = try store.all(NetworkRecord.self, under: Keys.networks)
        let joined = try store.all(NetworkRecord.self, under: Keys.clusterNetworks)
        return (own + joined).sorted { $0.name < $1.name }
    }

    /// (A closure, not a key path: a key path is built by the runtime from its mangled
    /// name, which every command would pay for.)
    var globalDrivers: [any GlobalNetworkDriver] { drivers.all.compactMap { $0.global } }

    /// By name, full id or unique id prefix, as Docker resolves them. The cluster store is
    /// asked only for a network this host does not know.
    public func network(_ reference: String) throws -> NetworkRecord {
        let local = try localNetworks()
        do {
            return try resolve(reference, among: local, kind: "network", name: \.name, id: \.id)
        } catch {
            let all = try withClusterNetworks(local)
            guard all.count > local.count else { throw error }
            return try resolve(reference, among: all, kind: "network", name: \.name, id: \.id)
        }
    }

    /// The network's record as this root keeps it: its own, or a cluster network's copy.
    func recordKey(of network: NetworkRecord) -> String {
        network.scope == NetworkScope.global.rawValue ? Keys.clusterNetwork(network.id) : Keys.network(network.id)
    }

    public func endpoints(of network: NetworkRecord) throws -> [EndpointRecord] {
        try store.all(EndpointRecord.self, under: Keys.endpoints(of: network.id))
    }

    public func createNetwork(_ request: NetworkCreateRequest) throws -> NetworkRecord {
        try store.locked { try makeNetwork(request) }
    }

    /// `createNetwork`, holding the lock.
    func makeNetwork(_ request: NetworkCreateRequest) throws -> NetworkRecord {
        try validateName(request.name, of: "network")
        let driver = try drivers.named(request.driver)
        do {
            // A local network never waits on the cluster store: when it is unreachable, only
            // this root's networks are checked for clashes.
            let existing = try driver.scope == .global ? networks() : ((try? networks()) ?? localNetworks())
            if let clash = existing.first(where: { $0.name == request.name }) {
                throw CNMError("network \"\(request.name)\" already exists (id \(clash.shortID))")
            }
            if driver.isSingleton, existing.contains(where: { $0.driver == driver.name }) {
                throw CNMError("only one instance of the \(driver.name) network is allowed")
            }
            var network = NetworkRecord(
                id: Identifier.make(), name: request.name, driver: driver.name, created: Timestamp.now(), scope: driver.scope.rawValue,
                enableIPv6: request.enableIPv6, internal: request.internal, attachable: request.attachable,
                ipamDriver: "default", ipamOptions: [:], pools: [], options: request.options, labels: request.labels,
                interfaceName: nil, predefined: false)
            if driver.takesAddresses {
                network.pools = try addressPools(for: request, existing: existing)
            }
            try driver.prepare(&network, host: host)
            if let global = driver.global {
                // Recorded in the cluster store only; hosts make its devices as endpoints join.
                try global.register(&network, host: host)
                return network
            }
            try driver.createNetwork(network, host: host)
            let rules = firewall.elements(for: network)
            do {
                try prepareHost(for: network)
                try firewall.apply(adding: rules, removing: .init()) { try desiredFirewall(extraNetwork: network) }
            } catch {
                try? driver.deleteNetwork(network, host: host)
                throw CNMError.kernel("network \"\(network.name)\"", error)
            }
            do {
                try store.put(Keys.network(network.id), network)
            } catch {
                try? firewall.apply(adding: .init(), removing: rules) { try desiredFirewall() }
                try? driver.deleteNetwork(network, host: host)
                throw error
            }
            return network
        }
    }

    public func removeNetwork(_ reference: String) throws -> NetworkRecord {
        try store.locked {
            let network = try network(reference)
            guard !network.predefined else {
                throw CNMError("network \"\(network.name)\" is predefined and cannot be removed")
            }
            let endpoints = try endpoints(of: network)
            guard endpoints.isEmpty else {
                let users = endpoints.map { "sandbox \"\($0.sandboxName)\" (endpoint \($0.shortID))" }
                throw CNMError("network \"\(network.name)\" is in use by \(users.count) endpoint\(users.count == 1 ? "" : "s"): \(users.joined(separator: ", "))")
            }
            if let global = try drivers.named(network.driver).global {
                try global.unregister(network, host: host)
                try store.delete(Keys.clusterNetwork(network.id))
                forgetNameTable(of: network)
                return network
            }
            try deleteNetwork(network)
            forgetNameTable(of: network)
            return network
        }
    }

    /// Firewall elements first (nothing has changed if that fails), then the devices, then
    /// the record; the tables go with the last bridge network.
    private func deleteNetwork(_ network: NetworkRecord) throws {
        let firewall = self.firewall
        let rules = firewall.elements(for: network)
        let remaining = firewalled(try localNetworks(), endpoints: try allEndpoints()).filter { $0.id != network.id && firewall.manages($0) }
        do {
            if firewall.manages(network) && remaining.isEmpty {
                try firewall.remove()
            } else {
                try firewall.apply(adding: .init(), removing: rules) { try desiredFirewall(droppingNetwork: network.id) }
            }
        } catch {
            throw CNMError.kernel("network \"\(network.name)\"", error)
        }
        try drivers.named(network.driver).deleteNetwork(network, host: host)
        try store.delete(Keys.network(network.id))
        // The network's endpoint folder, with whatever killed writers left in it.
        _ = try? store.sweep(under: Keys.endpoints(of: network.id))
    }

    /// The resolver's table of a removed network (normally gone with its last endpoint).
    private func forgetNameTable(of network: NetworkRecord) {
        guard let resolver else { return }
        ResolverTables(root: resolver.root).removeNetwork(network.id)
    }

    /// Removes every network nothing is attached to, except the predefined ones.
    public func prune() throws -> [NetworkRecord] {
        try store.locked {
            var removed: [NetworkRecord] = []
            for network in try store.all(NetworkRecord.self, under: Keys.networks).sorted(by: { $0.name < $1.name }) where !network.predefined {
                guard try endpoints(of: network).isEmpty else { continue }
                try deleteNetwork(network)
                removed.append(network)
            }
            return removed
        }
    }

    // MARK: Addressing

    /// The subnets of a new network: as given (checked), or the next free one of the
    /// default pools for each family the network needs.
    func addressPools(for request: NetworkCreateRequest, existing: [NetworkRecord]) throws -> [AddressPoolConfig] {
        let subject = "network \"\(request.name)\""
        var pools: [AddressPoolConfig] = []
        for text in request.subnets {
            guard let subnet = IPNetwork(cidr: text) else {
                throw CNMError("invalid subnet \"\(text)\": expected a CIDR such as 198.18.0.0/24 or 2001:db8::/64")
            }
            guard subnet.isSubnet else {
                throw CNMError("invalid subnet \"\(text)\": host bits are set, expected \(subnet.masked)")
            }
            if let (range, name) = subnet.reservedRange {
                throw CNMError("invalid subnet \"\(text)\": it overlaps the \(name) range \(range), expected a unicast range such as 198.18.0.0/24 or 2001:db8::/64")
            }
            if let clash = pools.first(where: { $0.subnet.overlaps(subnet) }) {
                throw CNMError("\(subject): subnet \(subnet) overlaps subnet \(clash.subnet)")
            }
            pools.append(AddressPoolConfig(subnet: subnet))
        }
        if !request.enableIPv6, pools.contains(where: { !$0.subnet.isIPv4 }) {
            throw CNMError("\(subject): an IPv6 subnet needs --ipv6")
        }

        func pool(containing address: IPAddress, text: String, what: String) throws -> Int {
            guard let index = pools.firstIndex(where: { $0.subnet.contains(address) }) else {
                let subnets = pools.map(\.subnet.description).joined(separator: ", ")
                throw CNMError("\(subject): \(what) \(text) is not in \(pools.isEmpty ? "any subnet (give --subnet)" : "subnet \(subnets)")")
            }
            return index
        }
        for text in request.gateways {
            guard let gateway = IPAddress(text) else { throw CNMError("invalid gateway \"\(text)\": expected an IP address") }
            let index = try pool(containing: gateway, text: text, what: "gateway")
            guard pools[index].gateway == nil else { throw CNMError("\(subject): more than one gateway for subnet \(pools[index].subnet)") }
            pools[index].gateway = gateway
        }
        for text in request.ipRanges {
            guard let range = IPNetwork(cidr: text), range.isSubnet else {
                throw CNMError("invalid ip-range \"\(text)\": expected a CIDR such as 198.18.0.128/25")
            }
            guard let index = pools.firstIndex(where: { $0.subnet.contains(range) }) else {
                let subnets = pools.map(\.subnet.description).joined(separator: ", ")
                throw CNMError("\(subject): ip-range \(text) is not in \(pools.isEmpty ? "any subnet (give --subnet)" : "subnet \(subnets)")")
            }
            guard pools[index].ipRange == nil else { throw CNMError("\(subject): more than one ip-range for subnet \(pools[index].subnet)") }
            pools[index].ipRange = range
        }
        for text in request.auxiliaryAddresses {
            let pair = text.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2, !pair[0].isEmpty, let address = IPAddress(pair[1]) else {
                throw CNMError("invalid aux-address \"\(text)\": expected NAME=IP")
            }
            let index = try pool(containing: address, text: pair[1], what: "aux-address")
            pools[index].auxiliaryAddresses[pair[0]] = address
        }

        // Overlaps with this root's networks, then fill in what was not given.
        let taken = existing.flatMap { network in network.pools.map { ($0.subnet, network.name) } }
        for pool in pools {
            if let clash = taken.first(where: { $0.0.overlaps(pool.subnet) }) {
                throw CNMError("\(subject): subnet \(pool.subnet) overlaps network \"\(clash.1)\" (\(clash.0))")
            }
        }
        var families = [true]
        if request.enableIPv6 { families.append(false) }
        for ipv4 in families where !pools.contains(where: { $0.subnet.isIPv4 == ipv4 }) {
            let avoid = taken.map(\.0) + (try hostRoutes(ipv4: ipv4))
            guard let subnet = AddressAllocator.chooseSubnet(from: defaultPools, ipv4: ipv4, avoiding: avoid) else {
                let family = ipv4 ? "IPv4" : "IPv6"
                throw CNMError("\(subject): no free \(family) subnet in the default address pools (\(defaultPools.filter { $0.base.isIPv4 == ipv4 }.map(\.description).joined(separator: " ")))\(ipv4 ? "" : "; give --subnet with an IPv6 prefix")")
            }
            pools.append(AddressPoolConfig(subnet: subnet))
        }
        for index in pools.indices {
            let subnet = pools[index].subnet
            if pools[index].gateway == nil, let first = subnet.first.advanced(by: 1), subnet.contains(first) {
                pools[index].gateway = first
            }
            if let gateway = pools[index].gateway,
               AddressAllocator.reserved(in: AddressPoolConfig(subnet: subnet)).contains(gateway) {
                throw CNMError("\(subject): gateway \(gateway) is the network or broadcast address of \(subnet)")
            }
        }
        return pools
    }

    /// Subnets the host already routes (other than the default route), which a chosen
    /// subnet must not shadow.
    func hostRoutes(ipv4: Bool) throws -> [IPNetwork] {
        try host.session().routes(family: ipv4 ? 2 : 10, table: Route.mainTable).compactMap { route in
            guard let destination = route.destination, destination.prefixLength > 0,
                  !(destination.isIPv4 == false && destination.address.description.hasPrefix("fe80")) else { return nil }
            return destination
        }
    }

    // MARK: Resolution

    func resolve<T>(_ reference: String, among items: [T], kind: String,
                    name: KeyPath<T, String>, id: KeyPath<T, String>) throws -> T {
        try Reference.resolve(name: reference, idPrefix: reference, among: items, names: { [$0[keyPath: name]] }, id: { $0[keyPath: id] })
            .mapError { CNMError($0.message(kind: kind, reference: reference)) }.get()
    }
}
