import CNetlink

/// An ARP/NDP entry: `ip neigh add IP lladdr MAC dev IF nud permanent`.
public struct Neighbour: Sendable, Equatable {
    public var address: IPAddress
    public var mac: MACAddress?
    public var interfaceIndex: Int32
    public var state: UInt16

    public static let permanent = UInt16(NUD_PERMANENT)

    public init(address: IPAddress, mac: MACAddress?, interfaceIndex: Int32, state: UInt16 = Neighbour.permanent) {
        self.address = address
        self.mac = mac
        self.interfaceIndex = interfaceIndex
        self.state = state
    }
}

/// A bridge forwarding entry: `bridge fdb add MAC dev PORT [dst IP] [vni N] [self|master] permanent`.
/// On a VXLAN device (`self`), `destination` is the remote VTEP.
public struct FDBEntry: Sendable, Equatable {
    public var mac: MACAddress
    public var interfaceIndex: Int32
    public var destination: IPAddress?
    public var vni: UInt32?
    /// NTF_SELF: the entry lives in the device itself (VXLAN); otherwise in its master bridge.
    public var onDevice: Bool
    public var state: UInt16

    public init(mac: MACAddress, interfaceIndex: Int32, destination: IPAddress? = nil, vni: UInt32? = nil,
                onDevice: Bool = true, state: UInt16 = UInt16(NUD_PERMANENT | NUD_NOARP)) {
        self.mac = mac
        self.interfaceIndex = interfaceIndex
        self.destination = destination
        self.vni = vni
        self.onDevice = onDevice
        self.state = state
    }
}

extension NetlinkSession {
    /// `ip neigh replace IP lladdr MAC dev IF nud permanent`.
    public func neighbourAdd(_ neighbour: Neighbour) throws {
        let request = batch()
        addNeighbourAdd(neighbour, to: request)
        try execute(request)
    }

    /// Appends `ip neigh replace …` to a batch, so that many entries share a round trip.
    public func addNeighbourAdd(_ neighbour: Neighbour, to request: RequestBatch) {
        request.add(Int(RTM_NEWNEIGH), flags: NLM_F_CREATE | NLM_F_REPLACE, header: Self.neighbourHeader(neighbour),
                    operation: "neighbour add", object: "\(neighbour.address) dev \(neighbour.interfaceIndex)") { message in
            message.put(Int(NDA_DST), neighbour.address)
            if let mac = neighbour.mac { message.put(Int(NDA_LLADDR), mac) }
        }
    }

    /// `ip neigh del IP dev IF`.
    public func neighbourDelete(_ neighbour: Neighbour) throws {
        let request = batch()
        addNeighbourDelete(neighbour, to: request)
        try execute(request)
    }

    /// Appends `ip neigh del IP dev IF`; `tolerating` ENOENT makes it a no-op for an entry
    /// already gone.
    public func addNeighbourDelete(_ neighbour: Neighbour, tolerating: Set<Int32> = [], to request: RequestBatch) {
        request.add(Int(RTM_DELNEIGH), header: Self.neighbourHeader(neighbour),
                    operation: "neighbour delete", object: "\(neighbour.address) dev \(neighbour.interfaceIndex)",
                    tolerating: tolerating) { message in
            message.put(Int(NDA_DST), neighbour.address)
        }
    }

    /// `ip neigh show [dev IF]`.
    public func neighbours(interface: Int32? = nil, family: Int32 = AF_UNSPEC) throws -> [Neighbour] {
        var header = ndmsg()
        header.ndm_family = UInt8(family)
        return try dump(Int(RTM_GETNEIGH), header: header, operation: "neighbour list") { message in
            guard message.type == Int(RTM_NEWNEIGH) else { return nil }
            let header = message.payload(as: ndmsg.self)
            guard header.ndm_family == UInt8(AF_INET) || header.ndm_family == UInt8(AF_INET6),
                  interface == nil || header.ndm_ifindex == interface else { return nil }
            let table = message.attributes(after: ndmsg.self, max: Int(NC_NDA_MAX))
            guard let address = table[Int(NDA_DST)]?.address else { return nil }
            return Neighbour(address: address, mac: table[Int(NDA_LLADDR)]?.mac,
                             interfaceIndex: header.ndm_ifindex, state: header.ndm_state)
        }
    }

    /// `bridge fdb append MAC dev IF dst IP [vni N] self permanent`: append, so that one MAC
    /// (00:00:00:00:00:00 for flooding) may lead to several VTEPs.
    public func fdbAdd(_ entry: FDBEntry) throws {
        let request = batch()
        addFDBAdd(entry, to: request)
        try execute(request)
    }

    /// Appends `bridge fdb append …` to a batch, so that many entries share a round trip.
    public func addFDBAdd(_ entry: FDBEntry, to request: RequestBatch) {
        request.add(Int(RTM_NEWNEIGH), flags: NLM_F_CREATE | NLM_F_APPEND, header: Self.fdbHeader(entry),
                    operation: "fdb add", object: "\(entry.mac) dev \(entry.interfaceIndex)") { message in
            Self.putFDB(entry, message)
        }
    }

    /// `bridge fdb del MAC dev IF [dst IP]`: with `dst`, only that remote of the MAC goes.
    public func fdbDelete(_ entry: FDBEntry) throws {
        let request = batch()
        addFDBDelete(entry, to: request)
        try execute(request)
    }

    /// Appends `bridge fdb del …`; `tolerating` ENOENT makes it a no-op for an entry already gone.
    public func addFDBDelete(_ entry: FDBEntry, tolerating: Set<Int32> = [], to request: RequestBatch) {
        request.add(Int(RTM_DELNEIGH), header: Self.fdbHeader(entry),
                    operation: "fdb delete", object: "\(entry.mac) dev \(entry.interfaceIndex)", tolerating: tolerating) { message in
            Self.putFDB(entry, message)
        }
    }

    /// `bridge fdb show [dev IF]`.
    public func fdbEntries(interface: Int32? = nil) throws -> [FDBEntry] {
        var header = ndmsg()
        header.ndm_family = UInt8(AF_BRIDGE)
        return try dump(Int(RTM_GETNEIGH), header: header, operation: "fdb list") { message in
            guard message.type == Int(RTM_NEWNEIGH) else { return nil }
            let header = message.payload(as: ndmsg.self)
            guard header.ndm_family == UInt8(AF_BRIDGE), interface == nil || header.ndm_ifindex == interface else { return nil }
            let table = message.attributes(after: ndmsg.self, max: Int(NC_NDA_MAX))
            guard let mac = table[Int(NDA_LLADDR)]?.mac else { return nil }
            return FDBEntry(mac: mac, interfaceIndex: header.ndm_ifindex, destination: table[Int(NDA_DST)]?.address,
                            vni: table[Int(NDA_VNI)]?.u32, onDevice: header.ndm_flags & UInt8(NTF_SELF) != 0,
                            state: header.ndm_state)
        }
    }

    private static func neighbourHeader(_ neighbour: Neighbour) -> ndmsg {
        var header = ndmsg()
        header.ndm_family = UInt8(neighbour.address.family)
        header.ndm_ifindex = neighbour.interfaceIndex
        header.ndm_state = neighbour.state
        return header
    }

    private static func fdbHeader(_ entry: FDBEntry) -> ndmsg {
        var header = ndmsg()
        header.ndm_family = UInt8(AF_BRIDGE)
        header.ndm_ifindex = entry.interfaceIndex
        header.ndm_state = entry.state
        header.ndm_flags = UInt8(entry.onDevice ? NTF_SELF : NTF_MASTER)
        return header
    }

    private static func putFDB(_ entry: FDBEntry, _ message: MessageWriter) {
        message.put(Int(NDA_LLADDR), entry.mac)
        if let destination = entry.destination { message.put(Int(NDA_DST), destination) }
        if let vni = entry.vni { message.put(Int(NDA_VNI), vni) }
    }
}
