import CNetlink

extension NetlinkSession {
    // MARK: Requests

    /// `ip link add …` in one request, including a veth's peer placement and the master.
    public func linkAdd(_ spec: LinkSpec) throws {
        let request = batch()
        try addLinkAdd(spec, to: request)
        try execute(request)
    }

    /// Appends `ip link add …` to a batch, so that more requests share its round trip.
    public func addLinkAdd(_ spec: LinkSpec, to request: RequestBatch) throws {
        var header = ifinfomsg()
        header.ifi_family = UInt8(AF_UNSPEC)
        if spec.up { header.ifi_flags = UInt32(IFF_UP); header.ifi_change = UInt32(IFF_UP) }
        let parent = try resolvedParent(spec.kind)
        let underlay = try resolvedUnderlay(spec.kind)
        request.add(Int(RTM_NEWLINK), flags: NLM_F_CREATE | NLM_F_EXCL, header: header,
                    operation: "link add", object: spec.name) { message in
            message.put(Int(IFLA_IFNAME), spec.name)
            if let mtu = spec.mtu { message.put(Int(IFLA_MTU), mtu) }
            if let mac = spec.mac { message.put(Int(IFLA_ADDRESS), mac) }
            if let master = spec.master { message.put(Int(IFLA_MASTER), UInt32(master)) }
            if let namespace = spec.namespace { message.put(Int(IFLA_NET_NS_FD), UInt32(namespace.descriptor)) }
            if let parent { message.put(Int(IFLA_LINK), UInt32(parent)) }
            message.nest(Int(IFLA_LINKINFO)) {
                message.put(Int(IFLA_INFO_KIND), spec.kind.name)
                Self.putKindData(spec.kind, underlay: underlay, message)
            }
        }
    }

    /// `ip link set REF [up|down] [mtu N] [address MAC] [master BR|nomaster] [name NEW]
    /// [alias TEXT] [netns NS]`; only what is given changes.
    public func linkSet(_ link: LinkReference, up: Bool? = nil, mtu: UInt32? = nil, mac: MACAddress? = nil,
                        master: Int32? = nil, name: String? = nil, alias: String? = nil,
                        namespace: NetworkNamespace? = nil) throws {
        let request = batch()
        addLinkSet(link, up: up, mtu: mtu, mac: mac, master: master, name: name, alias: alias,
                   namespace: namespace, to: request)
        try execute(request)
    }

    public func addLinkSet(_ link: LinkReference, up: Bool? = nil, mtu: UInt32? = nil, mac: MACAddress? = nil,
                           master: Int32? = nil, name: String? = nil, alias: String? = nil,
                           namespace: NetworkNamespace? = nil, to request: RequestBatch) {
        var header = Self.linkHeader(link)
        if let up {
            header.ifi_change = UInt32(IFF_UP)
            header.ifi_flags = up ? UInt32(IFF_UP) : 0
        }
        request.add(Int(RTM_NEWLINK), header: header, operation: "link set", object: link.description) { message in
            if case .name(let current) = link { message.put(Int(IFLA_IFNAME), current) }
            if let name {
                // Renaming by name needs the new name in IFLA_IFNAME and an index to find the link.
                message.put(Int(IFLA_IFNAME), name)
            }
            if let mtu { message.put(Int(IFLA_MTU), mtu) }
            if let mac { message.put(Int(IFLA_ADDRESS), mac) }
            if let master { message.put(Int(IFLA_MASTER), UInt32(master)) }
            if let alias { message.put(Int(IFLA_IFALIAS), alias) }
            if let namespace { message.put(Int(IFLA_NET_NS_FD), UInt32(namespace.descriptor)) }
        }
    }

    /// `ip link set REF type bridge_slave hairpin on|off`: whether the bridge may send a frame
    /// back out of the port it came in on. A container reaching its own published port
    /// needs it where bridged traffic passes netfilter (br_netfilter): the DNATed frame
    /// goes back to the port it came from.
    public func addBridgePortSet(_ link: LinkReference, hairpin: Bool, to request: RequestBatch) {
        request.add(Int(RTM_NEWLINK), header: Self.linkHeader(link), operation: "bridge port set", object: link.description) { message in
            if case .name(let current) = link { message.put(Int(IFLA_IFNAME), current) }
            message.nest(Int(IFLA_LINKINFO)) {
                message.put(Int(IFLA_INFO_SLAVE_KIND), "bridge")
                message.nest(Int(IFLA_INFO_SLAVE_DATA)) {
                    message.put(Int(IFLA_BRPORT_MODE), UInt8(hairpin ? 1 : 0))
                }
            }
        }
    }

    /// `ip link del REF`. Deleting either end of a veth deletes both.
    public func linkDelete(_ link: LinkReference) throws {
        let request = batch()
        addLinkDelete(link, to: request)
        try execute(request)
    }

    public func addLinkDelete(_ link: LinkReference, tolerating: Set<Int32> = [], to request: RequestBatch) {
        request.add(Int(RTM_DELLINK), header: Self.linkHeader(link), operation: "link delete", object: link.description,
                    tolerating: tolerating) { message in
            if case .name(let name) = link { message.put(Int(IFLA_IFNAME), name) }
        }
    }

    /// `ip link show REF`; nil when there is no such link.
    public func link(_ link: LinkReference) throws -> Link? {
        let request = batch()
        request.add(Int(RTM_GETLINK), header: Self.linkHeader(link), operation: "link show", object: link.description) { message in
            if case .name(let name) = link { message.put(Int(IFLA_IFNAME), name) }
            message.put(Int(IFLA_EXT_MASK), UInt32(RTEXT_FILTER_SKIP_STATS))
        }
        do {
            return try single(request, parse: Self.parseLink)
        } catch let error as NetlinkError where error.errno == ENODEV {
            return nil
        }
    }

    /// `ip link show`: every link in the namespace.
    public func links() throws -> [Link] {
        var header = ifinfomsg()
        header.ifi_family = UInt8(AF_UNSPEC)
        return try dump(Int(RTM_GETLINK), header: header, operation: "link list", { message in
            message.put(Int(IFLA_EXT_MASK), UInt32(RTEXT_FILTER_SKIP_STATS))
        }, parse: Self.parseLink)
    }

    /// The index of a link, by name; throws ENODEV naming it when absent.
    public func index(of link: LinkReference) throws -> Int32 {
        if case .index(let index) = link { return index }
        guard let found = try self.link(link) else {
            throw NetlinkError(operation: "link show", object: link.description, errno: ENODEV)
        }
        return found.index
    }

    // MARK: Encoding

    private static func linkHeader(_ link: LinkReference) -> ifinfomsg {
        var header = ifinfomsg()
        header.ifi_family = UInt8(AF_UNSPEC)
        if case .index(let index) = link { header.ifi_index = index }
        return header
    }

    private func resolvedParent(_ kind: LinkKind) throws -> Int32? {
        if case .macvlan(let parent, _) = kind { return try index(of: parent) }
        return nil
    }

    private func resolvedUnderlay(_ kind: LinkKind) throws -> Int32? {
        if case .vxlan(let options) = kind, let underlay = options.underlay { return try index(of: underlay) }
        return nil
    }

    private static func putKindData(_ kind: LinkKind, underlay: Int32?, _ message: MessageWriter) {
        switch kind {
        case .bridge, .dummy:
            break
        case .veth(let peer):
            message.nest(Int(IFLA_INFO_DATA)) {
                message.nest(Int(VETH_INFO_PEER)) {
                    // The peer's attributes follow an ifinfomsg of its own.
                    let raw = mnl_nlmsg_put_extra_header(message.header, MemoryLayout<ifinfomsg>.size)!
                    var header = ifinfomsg()
                    header.ifi_family = UInt8(AF_UNSPEC)
                    raw.storeBytes(of: header, as: ifinfomsg.self)
                    message.put(Int(IFLA_IFNAME), peer.name)
                    if let mtu = peer.mtu { message.put(Int(IFLA_MTU), mtu) }
                    if let mac = peer.mac { message.put(Int(IFLA_ADDRESS), mac) }
                    if let namespace = peer.namespace { message.put(Int(IFLA_NET_NS_FD), UInt32(namespace.descriptor)) }
                }
            }
        case .macvlan(_, let mode):
            message.nest(Int(IFLA_INFO_DATA)) {
                message.put(Int(IFLA_MACVLAN_MODE), mode.kernelValue)
            }
        case .vxlan(let options):
            message.nest(Int(IFLA_INFO_DATA)) {
                message.put(Int(IFLA_VXLAN_ID), options.vni)
                if let local = options.local {
                    message.put(Int(local.isIPv4 ? IFLA_VXLAN_LOCAL : IFLA_VXLAN_LOCAL6), local)
                }
                if let group = options.group {
                    message.put(Int(group.isIPv4 ? IFLA_VXLAN_GROUP : IFLA_VXLAN_GROUP6), group)
                }
                if let underlay { message.put(Int(IFLA_VXLAN_LINK), UInt32(underlay)) }
                message.put(Int(IFLA_VXLAN_PORT), bigEndian: options.port)
                message.put(Int(IFLA_VXLAN_LEARNING), UInt8(options.learning ? 1 : 0))
                message.put(Int(IFLA_VXLAN_PROXY), UInt8(options.proxy ? 1 : 0))
                if let ttl = options.ttl { message.put(Int(IFLA_VXLAN_TTL), ttl) }
            }
        }
    }

    // MARK: Decoding

    static func parseLink(_ message: ReceivedMessage) -> Link? {
        guard message.type == Int(RTM_NEWLINK) else { return nil }
        let header = message.payload(as: ifinfomsg.self)
        let table = message.attributes(after: ifinfomsg.self, max: Int(NC_IFLA_MAX))
        var link = Link(index: header.ifi_index, name: table[Int(IFLA_IFNAME)]?.string ?? "",
                        kind: nil, mtu: table[Int(IFLA_MTU)]?.u32 ?? 0, mac: table[Int(IFLA_ADDRESS)]?.mac,
                        isUp: header.ifi_flags & UInt32(IFF_UP) != 0,
                        masterIndex: table[Int(IFLA_MASTER)].map { Int32(bitPattern: $0.u32) },
                        parentIndex: table[Int(IFLA_LINK)].map { Int32(bitPattern: $0.u32) },
                        alias: table[Int(IFLA_IFALIAS)]?.string)
        if let info = table[Int(IFLA_LINKINFO)] {
            let infoTable = AttributeTable(nested: info, max: Int(NC_IFLA_INFO_MAX))
            link.kind = infoTable[Int(IFLA_INFO_KIND)]?.string
            if let data = infoTable[Int(IFLA_INFO_DATA)] {
                switch link.kind {
                case "macvlan":
                    let data = AttributeTable(nested: data, max: Int(NC_IFLA_MACVLAN_MAX))
                    link.macvlanMode = data[Int(IFLA_MACVLAN_MODE)].flatMap { MacvlanMode(kernelValue: $0.u32) }
                case "vxlan":
                    link.vxlan = parseVXLAN(AttributeTable(nested: data, max: Int(NC_IFLA_VXLAN_MAX)))
                default:
                    break
                }
            }
        }
        return link
    }

    private static func parseVXLAN(_ data: AttributeTable) -> VXLANOptions {
        VXLANOptions(
            vni: data[Int(IFLA_VXLAN_ID)]?.u32 ?? 0,
            local: (data[Int(IFLA_VXLAN_LOCAL)] ?? data[Int(IFLA_VXLAN_LOCAL6)])?.address,
            group: (data[Int(IFLA_VXLAN_GROUP)] ?? data[Int(IFLA_VXLAN_GROUP6)])?.address,
            underlay: data[Int(IFLA_VXLAN_LINK)].map { .index(Int32(bitPattern: $0.u32)) },
            port: data[Int(IFLA_VXLAN_PORT)]?.bigEndianU16 ?? 0,
            learning: (data[Int(IFLA_VXLAN_LEARNING)]?.u8 ?? 0) != 0,
            proxy: (data[Int(IFLA_VXLAN_PROXY)]?.u8 ?? 0) != 0,
            ttl: data[Int(IFLA_VXLAN_TTL)]?.u8)
    }

    /// Executes a request whose answer is one message before its ack.
    func single<Item>(_ request: RequestBatch, parse: (ReceivedMessage) -> Item?) throws -> Item? {
        var item: Item?
        try execute(request, answers: { message in if item == nil { item = parse(message) } })
        return item
    }
}
