/// An address with a prefix length: `198.18.0.0/24`, `2001:db8::1/64`.
///
/// As a subnet, its host bits are zero; as an interface address (`198.18.0.5/24`) they are
/// not. `init(subnet:)` insists on the former, `init(cidr:)` accepts both.
public struct IPNetwork: Hashable, Sendable, CustomStringConvertible {
    public var address: IPAddress
    public var prefixLength: Int

    public init(address: IPAddress, prefixLength: Int) {
        precondition(prefixLength >= 0 && prefixLength <= address.bitWidth)
        self.address = address
        self.prefixLength = prefixLength
    }

    /// `ADDRESS/PREFIX` with any host bits; nil when malformed.
    public init?(cidr text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let address = IPAddress(String(parts[0])),
              let prefix = Int(parts[1]), String(prefix) == parts[1],
              prefix >= 0, prefix <= address.bitWidth else { return nil }
        self.init(address: address, prefixLength: prefix)
    }

    public var family: Int32 { address.family }
    public var isIPv4: Bool { address.isIPv4 }

    /// All-ones in the host part.
    private var hostMask: UInt128 {
        let hostBits = address.bitWidth - prefixLength
        return hostBits == 128 ? .max : (UInt128(1) << hostBits) - 1
    }

    /// The subnet this address lies in: host bits cleared.
    public var masked: IPNetwork {
        let base = address.integer & ~hostMask
        let network: IPAddress = isIPv4 ? .v4(UInt32(base)) : .v6(base)
        return IPNetwork(address: network, prefixLength: prefixLength)
    }

    public var isSubnet: Bool { masked == self }
    public var first: IPAddress { masked.address }
    public var last: IPAddress { first.advanced(by: hostMask)! }

    /// How many addresses the subnet spans, saturating at UInt128.max for ::/0.
    public var size: UInt128 { hostMask == .max ? .max : hostMask + 1 }

    public func contains(_ other: IPAddress) -> Bool {
        other.isIPv4 == isIPv4 && (other.integer & ~hostMask) == first.integer
    }

    public func contains(_ other: IPNetwork) -> Bool {
        other.prefixLength >= prefixLength && contains(other.address)
    }

    public func overlaps(_ other: IPNetwork) -> Bool {
        contains(other.first) || other.contains(first)
    }

    /// The special-purpose range this subnet overlaps, if any, by name: addresses a
    /// network of containers can never use (a bridge cannot hold a multicast gateway, and
    /// loopback and link-local addresses never leave their host or link).
    public var reservedRange: (range: IPNetwork, name: String)? {
        let ranges: [(String, String)] = isIPv4
            ? [("0.0.0.0/8", "\"this network\""), ("127.0.0.0/8", "loopback"),
               ("224.0.0.0/4", "multicast"), ("240.0.0.0/4", "reserved")]
            : [("::/128", "unspecified"), ("::1/128", "loopback"), ("fe80::/10", "link-local"), ("ff00::/8", "multicast")]
        for (cidr, name) in ranges {
            let range = IPNetwork(cidr: cidr)!
            if overlaps(range) { return (range, name) }
        }
        return nil
    }

    /// The address with this prefix, as an interface address: `198.18.0.1/24`.
    public func with(address: IPAddress) -> IPNetwork {
        IPNetwork(address: address, prefixLength: prefixLength)
    }

    public var description: String { "\(address)/\(prefixLength)" }
}
