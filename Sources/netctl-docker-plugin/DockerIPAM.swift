import CNM
import JSON
import Netlink

/// libnetwork's IPAM protocol backed by netctl: pools are subnets no netctl network (and
/// no other pool) overlaps, and an address handed out is free both among the pool's own
/// addresses and among the endpoints of the netctl network on that subnet, so Docker's
/// containers and netctl's sandboxes on one network never get the same address. The pools
/// are records in the root's store (`docker/pools/…`), changed under its lock.
struct DockerIPAM {
    let controller: NetworkController

    static let localSpace = "netctl-local"
    static let globalSpace = "netctl-global"
    static let gatewayRequest = "com.docker.network.gateway"

    /// One pool Docker asked for.
    struct Pool: Codable {
        var id: String
        var subnet: IPNetwork
        /// `--ip-range`: where addresses are handed out from.
        var range: IPNetwork?
        /// Addresses handed out, and what for (`gateway`, `endpoint`).
        var addresses: [String: String]
    }

    var store: any Store { controller.store }

    static func key(ofPool id: String) -> String {
        "docker/pools/" + String(id.map { $0 == "/" ? "_" : $0 })
    }

    func pools() throws -> [Pool] { try store.all(Pool.self, under: "docker/pools") }

    func pool(_ id: String) throws -> Pool {
        guard id.utf8.count <= 128, !id.contains(".."), let pool = try store.get(Pool.self, Self.key(ofPool: id)) else {
            throw PluginError("pool \"\(id.prefix(128))\" not found: expected a PoolID RequestPool returned")
        }
        return pool
    }

    func requestPool(_ body: Body) throws -> JSON {
        let space = try body.optionalString("AddressSpace", expected: "\(Self.localSpace) or \(Self.globalSpace)") ?? Self.localSpace
        guard space == Self.localSpace || space == Self.globalSpace else {
            throw PluginError("address space \"\(space.prefix(64))\": expected \(Self.localSpace) or \(Self.globalSpace)")
        }
        let ipv6 = body.json["V6"]?.bool ?? false
        let family = ipv6 ? "IPv6" : "IPv4"
        return try store.locked {
            let others = try pools()
            let subnet: IPNetwork
            if let text = try body.optionalString("Pool", expected: "a subnet such as 198.18.0.0/24") {
                guard let parsed = IPNetwork(cidr: text), parsed.isSubnet, parsed.isIPv4 != ipv6 else {
                    throw PluginError("invalid subnet \"\(text.prefix(64))\": expected an \(family) subnet such as \(ipv6 ? "2001:db8::/64" : "198.18.0.0/24")")
                }
                if let clash = try controller.localNetworks().first(where: { $0.pools.contains { $0.subnet.overlaps(parsed) } }) {
                    throw PluginError("subnet \(parsed) overlaps netctl network \"\(clash.name)\" (\(clash.pools.map(\.subnet.description).joined(separator: ", ")))")
                }
                if let clash = others.first(where: { $0.subnet.overlaps(parsed) }) {
                    throw PluginError("subnet \(parsed) overlaps pool \(clash.id) of another Docker network")
                }
                subnet = parsed
            } else {
                subnet = try controller.freeDefaultSubnet(ipv4: !ipv6, avoiding: others.map(\.subnet))
            }
            var range: IPNetwork?
            if let text = try body.optionalString("SubPool", expected: "a subnet such as 198.18.0.128/25") {
                guard let parsed = IPNetwork(cidr: text), parsed.isSubnet, subnet.contains(parsed) else {
                    throw PluginError("invalid ip-range \"\(text.prefix(64))\": expected a subnet inside \(subnet)")
                }
                range = parsed
            }
            let id = "netctl/\(subnet)" + (range.map { "/\($0)" } ?? "")
            try store.put(Self.key(ofPool: id), Pool(id: id, subnet: subnet, range: range, addresses: [:]))
            return ["PoolID": .string(id), "Pool": .string(subnet.description), "Data": [:]]
        }
    }

    func releasePool(_ body: Body) throws -> JSON {
        let id = try body.string("PoolID", expected: "a PoolID RequestPool returned")
        try store.locked {
            _ = try pool(id)
            try store.delete(Self.key(ofPool: id))
        }
        return [:]
    }

    /// The gateway (`RequestAddressType`), a given address, or the lowest free one.
    func requestAddress(_ body: Body) throws -> JSON {
        let id = try body.string("PoolID", expected: "a PoolID RequestPool returned")
        let options = try body.object("Options")
        let isGateway = options["RequestAddressType"]?.string == Self.gatewayRequest
        let requestedText = try body.optionalString("Address", expected: "an IP address")
        return try store.locked {
            var pool = try pool(id)
            var requested: IPAddress?
            if let requestedText {
                guard let address = IPAddress(requestedText), address.isIPv4 == pool.subnet.isIPv4 else {
                    throw PluginError("invalid address \"\(requestedText.prefix(64))\": expected an \(pool.subnet.isIPv4 ? "IPv4" : "IPv6") address in \(pool.subnet)")
                }
                requested = address
            }
            // What the netctl network on this subnet holds, once Docker's network is made.
            let network = try controller.localNetworks().first { $0.pools.contains { $0.subnet == pool.subnet } }
            var used: [IPAddress: String] = [:]
            var config = AddressPoolConfig(subnet: pool.subnet, ipRange: isGateway ? nil : pool.range)
            if let network {
                for endpoint in try controller.endpoints(of: network) {
                    for address in endpoint.addresses { used[address] = endpoint.sandboxName }
                }
                if let own = network.pool(ipv4: pool.subnet.isIPv4) {
                    config.gateway = own.gateway
                    config.auxiliaryAddresses = own.auxiliaryAddresses
                }
            }
            for (text, holder) in pool.addresses {
                if let address = IPAddress(text) { used[address] = holder == "gateway" ? "the gateway" : "a Docker endpoint" }
            }
            let address = try AddressAllocator.allocate(in: config, used: used, requested: requested,
                                                        network: network?.name ?? pool.subnet.description)
            pool.addresses[address.address.description] = isGateway ? "gateway" : "endpoint"
            try store.put(Self.key(ofPool: id), pool)
            return ["Address": .string(address.description), "Data": [:]]
        }
    }

    func releaseAddress(_ body: Body) throws -> JSON {
        let id = try body.string("PoolID", expected: "a PoolID RequestPool returned")
        let text = try body.string("Address", expected: "an IP address")
        try store.locked {
            var pool = try pool(id)
            guard let address = IPAddress(text) else { throw PluginError("invalid address \"\(text.prefix(64))\": expected an IP address") }
            guard pool.addresses.removeValue(forKey: address.description) != nil else {
                throw PluginError("address \(address) is not allocated in pool \(id)")
            }
            try store.put(Self.key(ofPool: id), pool)
        }
        return [:]
    }
}
