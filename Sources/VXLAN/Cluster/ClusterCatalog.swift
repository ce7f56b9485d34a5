import CNM
import FoundationEssentials
import Netlink

/// The cluster's records in etcd, under `/netctl/v1/`:
///
///     networks/ID         a global network (NetworkRecord, its VNIs under Options)
///     names/NAME          ID: a name is taken once, cluster-wide
///     vnis/VNI            ID: a VNI is taken once
///     index               bumped by every network change: creates and removals compare it
///     ipam/ID/ADDRESS     "ENDPOINT NODE": an address is handed out once
///     users/ID            bumped by every address claim: a removal compares it
///     peers/ID/ENDPOINT   PeerRecord: what every other host programs for the endpoint
///     hosts/NODE          HostRecord, held by the node's agent lease
///
/// There is no lock: every change is one transaction that compares the revisions it read,
/// and a change that lost a race reads again and retries.
public final class ClusterCatalog: @unchecked Sendable {
    public let client: EtcdClient
    public static let prefix = "/netctl/v1/"

    public init(client: EtcdClient) { self.client = client }

    enum Key {
        static let networks = prefix + "networks/"
        static let hosts = prefix + "hosts/"
        static let index = prefix + "index"
        static func network(_ id: String) -> String { networks + id }
        static func name(_ name: String) -> String { prefix + "names/" + name }
        static func vni(_ vni: UInt32) -> String { prefix + "vnis/\(vni)" }
        static func addresses(_ network: String) -> String { prefix + "ipam/\(network)/" }
        static func address(_ address: IPAddress, network: String) -> String { addresses(network) + address.description }
        static func users(_ network: String) -> String { prefix + "users/\(network)" }
        static func peers(_ network: String) -> String { prefix + "peers/\(network)/" }
        static let allPeers = prefix + "peers/"
        static func peer(_ endpoint: String, network: String) -> String { peers(network) + endpoint }
        static func host(_ node: String) -> String { hosts + node }
    }

    /// How often a transaction that lost a race is retried before giving up.
    static let attempts = 64

    // MARK: Networks

    public func networks() throws -> [NetworkRecord] {
        try client.range(prefix: Key.networks).items.map { try decode(NetworkRecord.self, $0) }
    }

    /// Records `network`, taking its name, its subnets and a VNI per subnet (those it asks
    /// for in `vxlanid_list`, else the lowest free from 4096, as Docker's allocator).
    public func register(_ network: inout NetworkRecord, requestedVNIs: [UInt32]) throws {
        for _ in 0..<Self.attempts {
            let index = try client.get(Key.index)
            let existing = try networks()
            if let clash = existing.first(where: { $0.name == network.name }) {
                throw CNMError("network \"\(network.name)\" already exists in the cluster (id \(clash.shortID))")
            }
            for pool in network.pools {
                for other in existing {
                    if let subnet = other.pools.first(where: { $0.subnet.overlaps(pool.subnet) }) {
                        throw CNMError("network \"\(network.name)\": subnet \(pool.subnet) overlaps network \"\(other.name)\" (\(subnet.subnet)) in the cluster")
                    }
                }
            }
            var taken: [UInt32: String] = [:]
            for other in existing { for vni in OverlayOptions.vnis(of: other) { taken[vni] = other.name } }
            var vnis: [UInt32] = []
            for vni in requestedVNIs {
                if let holder = taken[vni] { throw CNMError("network \"\(network.name)\": VNI \(vni) is taken by network \"\(holder)\"") }
                vnis.append(vni)
            }
            var candidate: UInt32 = OverlayOptions.firstAllocatedVNI
            while vnis.count < network.pools.count {
                if taken[candidate] == nil && !vnis.contains(candidate) { vnis.append(candidate) }
                candidate += 1
                guard candidate <= OverlayOptions.vniRange.upperBound else { throw CNMError("no free VNI left in the cluster") }
            }
            network.options[OverlayOptions.vxlanIDList] = vnis.map(String.init).joined(separator: ",")

            var compares: [EtcdClient.Compare] = [
                .modRevision(Key.index, equals: index?.modRevision ?? 0),
                .createRevision(Key.name(network.name), equals: 0),
            ]
            var operations: [EtcdClient.Operation] = [
                .put(Key.network(network.id), try encode(network), lease: nil),
                .put(Key.name(network.name), Array(network.id.utf8), lease: nil),
                .put(Key.index, Array("\(existing.count + 1)".utf8), lease: nil),
            ]
            for vni in vnis {
                compares.append(.createRevision(Key.vni(vni), equals: 0))
                operations.append(.put(Key.vni(vni), Array(network.id.utf8), lease: nil))
            }
            if try client.transaction(if: compares, then: operations).succeeded { return }
        }
        throw CNMError("network \"\(network.name)\": the cluster store kept changing under \(Self.attempts) attempts; try again")
    }

    /// Removes a network's records, refusing while any host has an endpoint on it.
    public func unregister(_ network: NetworkRecord) throws {
        for _ in 0..<Self.attempts {
            let index = try client.get(Key.index)
            let users = try client.get(Key.users(network.id))
            let claims = try client.range(prefix: Key.addresses(network.id)).items
            guard claims.isEmpty else {
                let peers = try self.peers(of: network.id)
                let names = peers.map { "\"\($0.name)\" on \($0.node)" }.sorted()
                throw CNMError("network \"\(network.name)\" is in use by \(claims.count) endpoint\(claims.count == 1 ? "" : "s") in the cluster\(names.isEmpty ? "" : ": " + names.joined(separator: ", "))")
            }
            var operations: [EtcdClient.Operation] = [
                .delete(Key.network(network.id)), .delete(Key.name(network.name)), .delete(Key.users(network.id)),
                .deletePrefix(Key.peers(network.id)),
                .put(Key.index, Array(String(max(0, (Int(String(decoding: index?.value ?? [], as: UTF8.self)) ?? 1) - 1)).utf8), lease: nil),
            ]
            for vni in OverlayOptions.vnis(of: network) { operations.append(.delete(Key.vni(vni))) }
            let compares: [EtcdClient.Compare] = [
                .modRevision(Key.index, equals: index?.modRevision ?? 0),
                .modRevision(Key.users(network.id), equals: users?.modRevision ?? 0),
            ]
            if try client.transaction(if: compares, then: operations).succeeded { return }
        }
        throw CNMError("network \"\(network.name)\": the cluster store kept changing under \(Self.attempts) attempts; try again")
    }

    // MARK: Addresses

    /// Takes an IPv4 address on `network` for `endpoint`: the one asked for, or the lowest
    /// free. Two hosts racing for one address: one transaction wins, the other reads again.
    public func claimAddress(on network: NetworkRecord, for endpoint: String, node: String, requested: IPAddress?) throws -> IPNetwork? {
        let pools = network.pools.filter { $0.subnet.isIPv4 }
        guard !pools.isEmpty else { return nil }
        if let requested, !pools.contains(where: { $0.subnet.contains(requested) }) {
            throw CNMError("network \"\(network.name)\": address \(requested) is not in subnet \(pools.map(\.subnet.description).joined(separator: ", "))")
        }
        for _ in 0..<Self.attempts {
            guard let record = try client.get(Key.network(network.id)) else {
                throw CNMError("network \"\(network.name)\" was removed from the cluster")
            }
            var used: [IPAddress: String] = [:]
            let prefix = Key.addresses(network.id)
            for item in try client.range(prefix: prefix).items {
                if let address = IPAddress(String(item.key.dropFirst(prefix.count))) {
                    let claim = Claim(item.value)
                    used[address] = "endpoint \(claim.endpoint.prefix(12)) on \(claim.node)"
                }
            }
            // The subnet asked for, or the first with a free address, as Docker's IPAM.
            var chosen: IPNetwork?
            var lastError: (any Error)?
            for pool in pools where requested.map(pool.subnet.contains) ?? true {
                do {
                    chosen = try AddressAllocator.allocate(in: pool, used: used, requested: requested, network: network.name)
                    break
                } catch {
                    lastError = error
                }
            }
            guard let address = chosen else { throw lastError ?? CNMError("network \"\(network.name)\": no free address") }
            let claim = Key.address(address.address, network: network.id)
            let won = try client.transaction(
                if: [.createRevision(Key.network(network.id), equals: record.createRevision), .createRevision(claim, equals: 0)],
                then: [.put(claim, Claim(endpoint: endpoint, node: node).bytes, lease: nil), .put(Key.users(network.id), Array(endpoint.utf8), lease: nil)]
            ).succeeded
            if won { return address }
        }
        throw CNMError("network \"\(network.name)\": the cluster store kept changing under \(Self.attempts) attempts; try again")
    }

    /// Gives back the endpoint's addresses (only those it still holds).
    public func releaseAddresses(of endpoint: String, node: String, addresses: [IPAddress], network: String) throws {
        for address in addresses {
            let claim = Key.address(address, network: network)
            _ = try client.transaction(if: [.value(claim, equals: Claim(endpoint: endpoint, node: node).bytes)], then: [.delete(claim)])
        }
    }

    /// What a killed connect may have left of `node` in the cluster: peers and address
    /// claims of endpoints the node has no record of. Removes them; returns one line each.
    public func removeLeftovers(of node: String, keeping endpoints: Set<String>) throws -> [String] {
        var report: [String] = []
        for item in try client.range(prefix: Key.allPeers).items {
            guard let peer = try? decode(PeerRecord.self, item), peer.node == node, !endpoints.contains(peer.endpointID) else { continue }
            try withdraw(endpoint: peer.endpointID, network: peer.networkID)
            report.append("withdrew endpoint \(peer.endpointID.prefix(12)) (\(peer.ipv4?.description ?? "")) from the cluster: no endpoint record owns it")
        }
        for item in try client.range(prefix: Self.prefix + "ipam/").items {
            let claim = Claim(item.value)
            guard claim.node == node, !endpoints.contains(claim.endpoint) else { continue }
            _ = try client.transaction(if: [.value(item.key, equals: item.value)], then: [.delete(item.key)])
            report.append("freed cluster address \(item.key.split(separator: "/").last ?? ""): no endpoint record owns it")
        }
        return report
    }

    /// An address claim's value: who holds it, and on which node.
    struct Claim {
        var endpoint: String
        var node: String
        init(endpoint: String, node: String) {
            self.endpoint = endpoint
            self.node = node
        }
        init(_ bytes: [UInt8]) {
            let parts = String(decoding: bytes, as: UTF8.self).split(separator: " ", maxSplits: 1).map(String.init)
            endpoint = parts.first ?? ""
            node = parts.count > 1 ? parts[1] : ""
        }
        var bytes: [UInt8] { Array("\(endpoint) \(node)".utf8) }
    }

    // MARK: Peers and hosts

    public func publish(_ peer: PeerRecord) throws {
        _ = try client.put(Key.peer(peer.endpointID, network: peer.networkID), try encode(peer))
    }

    public func withdraw(endpoint: String, network: String) throws {
        try client.delete(Key.peer(endpoint, network: network))
    }

    public func peers(of network: String) throws -> [PeerRecord] {
        try client.range(prefix: Key.peers(network)).items.map { try decode(PeerRecord.self, $0) }
    }

    public func hosts() throws -> [HostRecord] {
        try client.range(prefix: Key.hosts).items.map { try decode(HostRecord.self, $0) }
    }

    /// `cluster node rm`: the node's peers leave every FDB and its addresses are freed.
    public func removeNode(_ node: String) throws -> Int {
        let peers = try client.range(prefix: Key.allPeers).items.map { try decode(PeerRecord.self, $0) }.filter { $0.node == node }
        for peer in peers {
            try withdraw(endpoint: peer.endpointID, network: peer.networkID)
            try releaseAddresses(of: peer.endpointID, node: node, addresses: [peer.ipv4?.address].compactMap { $0 }, network: peer.networkID)
        }
        try client.delete(Key.host(node))
        return peers.count
    }

    // MARK: Encoding

    func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array(try encoder.encode(value))
    }

    func decode<T: Decodable>(_ type: T.Type, _ item: EtcdClient.KeyValue) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(item.value))
        } catch {
            throw CNMError("cluster record \(item.key) is unreadable: \(error)")
        }
    }
}

/// One endpoint as the other hosts need it: where its MAC lives (the VTEP of its host), and
/// the names their resolvers answer for it.
public struct PeerRecord: Codable, Sendable, Equatable {
    public var endpointID: String
    public var networkID: String
    /// The sandbox or container name, for `network inspect`'s Peers and for people.
    public var name: String
    public var ipv4: IPNetwork?
    public var mac: MACAddress
    public var vtep: IPAddress
    public var node: String
    // Optional, so that records written before names crossed hosts still decode (and
    // hosts that predate them ignore these keys).
    public var ipv6: IPNetwork?
    /// The endpoint's DNS names (`EndpointRecord.dnsNames`: the container's name first);
    /// empty where it has none; nil from a host that predates them: it answers to `name`.
    public var dnsNames: [String]?

    public init(endpointID: String, networkID: String, name: String, ipv4: IPNetwork?, mac: MACAddress, vtep: IPAddress, node: String,
                ipv6: IPNetwork? = nil, dnsNames: [String]? = nil) {
        self.endpointID = endpointID
        self.networkID = networkID
        self.name = name
        self.ipv4 = ipv4
        self.mac = mac
        self.vtep = vtep
        self.node = node
        self.ipv6 = ipv6
        self.dnsNames = dnsNames
    }

    /// The names other hosts serve for this endpoint.
    public var names: [String] { dnsNames ?? [name.lowercased()] }
}

/// A host of the cluster, present while its agent holds the lease.
public struct HostRecord: Codable, Sendable, Equatable {
    public var name: String
    public var vtep: IPAddress
    public var agentPID: Int32
    public var started: String

    public init(name: String, vtep: IPAddress, agentPID: Int32, started: String) {
        self.name = name
        self.vtep = vtep
        self.agentPID = agentPID
        self.started = started
    }
}
