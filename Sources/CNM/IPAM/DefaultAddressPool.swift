import Netlink

/// Where networks created without `--subnet` get theirs: `base=198.18.0.0/16,size=24`
/// cuts 198.18.0.0/16 into /24s, as Docker's `--default-address-pool` does.
public struct DefaultAddressPool: Sendable, Equatable, CustomStringConvertible {
    public var base: IPNetwork
    public var size: Int

    public init(base: IPNetwork, size: Int) {
        self.base = base
        self.size = size
    }

    /// Docker's defaults.
    public static let dockerDefaults: [DefaultAddressPool] =
        (17...31).map { DefaultAddressPool(base: IPNetwork(cidr: "172.\($0).0.0/16")!, size: 16) }
        + [DefaultAddressPool(base: IPNetwork(cidr: "192.168.0.0/16")!, size: 20)]

    /// Parses `base=CIDR,size=N`, several separated by spaces or semicolons.
    public static func parseList(_ text: String) throws -> [DefaultAddressPool] {
        try text.split(whereSeparator: { $0 == " " || $0 == ";" }).map { try parse(String($0)) }
    }

    public static func parse(_ text: String) throws -> DefaultAddressPool {
        var base: IPNetwork?, size: Int?
        for field in text.split(separator: ",") {
            let pair = field.split(separator: "=", maxSplits: 1).map(String.init)
            switch (pair.first, pair.count) {
            case ("base", 2): base = IPNetwork(cidr: pair[1])
            case ("size", 2): size = Int(pair[1])
            default: base = nil; size = nil
            }
        }
        guard let base, base.isSubnet, let size, size >= base.prefixLength, size <= base.address.bitWidth else {
            throw CNMError("invalid default address pool \"\(text)\": expected base=SUBNET,size=PREFIX with PREFIX no shorter than the base's")
        }
        return DefaultAddressPool(base: base, size: size)
    }

    public var description: String { "base=\(base),size=\(size)" }

    /// The pool's subnets in order, lazily: a /8 cut into /24s is 65,536 of them.
    func subnets() -> some Sequence<IPNetwork> {
        let step = UInt128(1) << (base.address.bitWidth - size)
        let count = base.size / step
        return (0..<count).lazy.map { IPNetwork(address: base.first.advanced(by: $0 * step)!, prefixLength: size) }
    }
}
