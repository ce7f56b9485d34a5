import Netlink

/// Hands out subnets to networks and addresses to endpoints. It keeps no state of its own:
/// what is taken is read from the records (under the store's lock), so there is one truth.
public enum AddressAllocator {
    /// The first subnet of the pools of `ipv4`'s family that overlaps nothing in `taken`.
    static func chooseSubnet(from pools: [DefaultAddressPool], ipv4: Bool, avoiding taken: [IPNetwork]) -> IPNetwork? {
        for pool in pools where pool.base.isIPv4 == ipv4 {
            for subnet in pool.subnets() where !taken.contains(where: { $0.overlaps(subnet) }) {
                return subnet
            }
        }
        return nil
    }

    /// Addresses of the pool nobody may have: the subnet's own address and (IPv4) its
    /// broadcast, the gateway, the auxiliary addresses.
    public static func reserved(in pool: AddressPoolConfig) -> Set<IPAddress> {
        var reserved = Set(pool.auxiliaryAddresses.values)
        if let gateway = pool.gateway { reserved.insert(gateway) }
        if pool.subnet.isIPv4 && pool.subnet.prefixLength < 31 {
            reserved.insert(pool.subnet.first)
            reserved.insert(pool.subnet.last)
        } else if !pool.subnet.isIPv4 && pool.subnet.prefixLength < 127 {
            reserved.insert(pool.subnet.first)
        }
        return reserved
    }

    /// An address for a new endpoint, with the subnet's prefix: `requested` if it is free,
    /// else the lowest free one in the ip-range (or the subnet).
    public static func allocate(in pool: AddressPoolConfig, used: [IPAddress: String], requested: IPAddress?,
                         network: String) throws -> IPNetwork {
        let reserved = reserved(in: pool)
        if let requested {
            guard pool.subnet.contains(requested) else {
                throw CNMError("network \"\(network)\": address \(requested) is not in subnet \(pool.subnet)")
            }
            if let holder = used[requested] {
                throw CNMError("network \"\(network)\": address \(requested) is already in use by sandbox \"\(holder)\"")
            }
            guard !reserved.contains(requested) else {
                throw CNMError("network \"\(network)\": address \(requested) is reserved (network, broadcast, gateway or auxiliary address)")
            }
            return pool.subnet.with(address: requested)
        }
        let range = pool.ipRange ?? pool.subnet
        var candidate: IPAddress? = range.first
        var checked: UInt128 = 0
        // Every taken address is skipped at most once, so this ends after used + reserved + 1 steps.
        while let address = candidate, checked < range.size {
            if used[address] == nil && !reserved.contains(address) {
                return pool.subnet.with(address: address)
            }
            candidate = address.advanced(by: 1)
            checked += 1
        }
        throw CNMError("network \"\(network)\": no free \(range.isIPv4 ? "IPv4" : "IPv6") address in \(range)")
    }
}
