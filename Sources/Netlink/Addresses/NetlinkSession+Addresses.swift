import CNetlink

/// An address on an interface, as `ip addr show` lists it.
public struct InterfaceAddress: Sendable, Equatable {
    public var interfaceIndex: Int32
    /// The address with its prefix: `198.18.0.1/24`.
    public var network: IPNetwork
    public var flags: UInt32
    public var scope: UInt8

    public var isTentative: Bool { flags & UInt32(IFA_F_TENTATIVE) != 0 }
}

extension NetlinkSession {
    /// `ip addr add ADDRESS/PREFIX dev IF [nodad]`. IPv4 gets its broadcast address, as
    /// `brd +` would; `noDAD` makes an IPv6 address usable at once.
    public func addressAdd(_ address: IPNetwork, interface: Int32, noDAD: Bool = true) throws {
        let request = batch()
        addAddressAdd(address, interface: interface, noDAD: noDAD, to: request)
        try execute(request)
    }

    public func addAddressAdd(_ address: IPNetwork, interface: Int32, noDAD: Bool = true, to request: RequestBatch) {
        let flags: UInt32 = (!address.isIPv4 && noDAD) ? UInt32(IFA_F_NODAD) : 0
        request.add(Int(RTM_NEWADDR), flags: NLM_F_CREATE | NLM_F_EXCL,
                    header: Self.addressHeader(address, interface: interface, flags: flags),
                    operation: "address add", object: "\(address) dev \(interface)") { message in
            message.put(Int(IFA_LOCAL), address.address)
            message.put(Int(IFA_ADDRESS), address.address)
            if address.isIPv4, address.prefixLength < 31 {
                message.put(Int(IFA_BROADCAST), address.masked.last)
            }
            if flags != 0 { message.put(Int(IFA_FLAGS), flags) }
        }
    }

    /// `ip addr del ADDRESS/PREFIX dev IF`.
    public func addressDelete(_ address: IPNetwork, interface: Int32) throws {
        try execute(Int(RTM_DELADDR), header: Self.addressHeader(address, interface: interface, flags: 0),
                    operation: "address delete", object: "\(address) dev \(interface)") { message in
            message.put(Int(IFA_LOCAL), address.address)
            message.put(Int(IFA_ADDRESS), address.address)
        }
    }

    /// `ip addr show [dev IF]`, either family or one.
    public func addresses(interface: Int32? = nil, family: Int32 = AF_UNSPEC) throws -> [InterfaceAddress] {
        var header = ifaddrmsg()
        header.ifa_family = UInt8(family)
        return try dump(Int(RTM_GETADDR), header: header, operation: "address list") { message in
            guard message.type == Int(RTM_NEWADDR) else { return nil }
            let header = message.payload(as: ifaddrmsg.self)
            guard interface == nil || Int32(bitPattern: header.ifa_index) == interface else { return nil }
            let table = message.attributes(after: ifaddrmsg.self, max: Int(NC_IFA_MAX))
            // A prefix longer than its address is no address (as for routes: it trapped).
            guard let address = (table[Int(IFA_LOCAL)] ?? table[Int(IFA_ADDRESS)])?.address,
                  Int(header.ifa_prefixlen) <= address.bitWidth else { return nil }
            return InterfaceAddress(interfaceIndex: Int32(bitPattern: header.ifa_index),
                                    network: IPNetwork(address: address, prefixLength: Int(header.ifa_prefixlen)),
                                    flags: table[Int(IFA_FLAGS)]?.u32 ?? UInt32(header.ifa_flags),
                                    scope: header.ifa_scope)
        }
    }

    private static func addressHeader(_ address: IPNetwork, interface: Int32, flags: UInt32) -> ifaddrmsg {
        var header = ifaddrmsg()
        header.ifa_family = UInt8(address.family)
        header.ifa_prefixlen = UInt8(address.prefixLength)
        header.ifa_flags = UInt8(truncatingIfNeeded: flags)
        header.ifa_scope = UInt8(RT_SCOPE_UNIVERSE.rawValue)
        header.ifa_index = UInt32(interface)
        return header
    }
}
