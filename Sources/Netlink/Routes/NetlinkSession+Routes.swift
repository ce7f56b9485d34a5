import CNetlink

/// A route: `ip route add DEST|default [via GW] [dev IF] [table T] [proto P] [scope S] [metric M]`.
public struct Route: Sendable, Equatable {
    /// nil is the default route of `family`.
    public var destination: IPNetwork?
    public var gateway: IPAddress?
    public var interfaceIndex: Int32?
    public var family: Int32
    public var table: UInt32
    public var protocolNumber: UInt8
    public var scope: UInt8
    public var metric: UInt32?

    public static let mainTable = UInt32(RT_TABLE_MAIN.rawValue)

    public init(destination: IPNetwork? = nil, gateway: IPAddress? = nil, interfaceIndex: Int32? = nil,
                family: Int32? = nil, table: UInt32 = Route.mainTable, protocolNumber: UInt8 = UInt8(RTPROT_BOOT),
                scope: UInt8? = nil, metric: UInt32? = nil) {
        self.destination = destination
        self.gateway = gateway
        self.interfaceIndex = interfaceIndex
        self.family = family ?? destination?.family ?? gateway?.family ?? AF_INET
        self.table = table
        self.protocolNumber = protocolNumber
        // Without a gateway a route is on-link, as `ip route add … dev IF` makes it.
        self.scope = scope ?? UInt8(gateway == nil ? RT_SCOPE_LINK.rawValue : RT_SCOPE_UNIVERSE.rawValue)
        self.metric = metric
    }

    public var isDefault: Bool { destination == nil || destination?.prefixLength == 0 }

    var summary: String {
        var text = destination.map(\.description) ?? "default"
        if let gateway { text += " via \(gateway)" }
        if let interfaceIndex { text += " dev \(interfaceIndex)" }
        return text
    }
}

extension NetlinkSession {
    /// `ip route add …`. `tolerateExisting` turns "File exists" into success, for routes that
    /// another attachment may already provide.
    public func routeAdd(_ route: Route, tolerateExisting: Bool = false) throws {
        let request = batch()
        addRouteAdd(route, tolerateExisting: tolerateExisting, to: request)
        try execute(request)
    }

    public func addRouteAdd(_ route: Route, tolerateExisting: Bool = false, to request: RequestBatch) {
        request.add(Int(RTM_NEWROUTE), flags: NLM_F_CREATE | NLM_F_EXCL, header: Self.routeHeader(route),
                    operation: "route add", object: route.summary, tolerating: tolerateExisting ? [EEXIST] : []) { message in
            Self.putRoute(route, message)
        }
    }

    /// `ip route del …`.
    public func routeDelete(_ route: Route) throws {
        try execute(Int(RTM_DELROUTE), header: Self.routeHeader(route), operation: "route delete", object: route.summary) { message in
            Self.putRoute(route, message)
        }
    }

    /// `ip [-6] route show table all`, filtered to `table` when given.
    public func routes(family: Int32 = AF_INET, table: UInt32? = nil) throws -> [Route] {
        var header = rtmsg()
        header.rtm_family = UInt8(family)
        return try dump(Int(RTM_GETROUTE), header: header, operation: "route list") { message in
            guard message.type == Int(RTM_NEWROUTE) else { return nil }
            let header = message.payload(as: rtmsg.self)
            let attributes = message.attributes(after: rtmsg.self, max: Int(NC_RTA_MAX))
            let routeTable = attributes[Int(RTA_TABLE.rawValue)]?.u32 ?? UInt32(header.rtm_table)
            guard table == nil || routeTable == table else { return nil }
            var destination: IPNetwork?
            if let address = attributes[Int(RTA_DST.rawValue)]?.address {
                // A prefix longer than its address is no route (it trapped: found by Fuzz/Sources/FuzzNetlink).
                guard Int(header.rtm_dst_len) <= address.bitWidth else { return nil }
                destination = IPNetwork(address: address, prefixLength: Int(header.rtm_dst_len))
            }
            return Route(destination: destination, gateway: attributes[Int(RTA_GATEWAY.rawValue)]?.address,
                         interfaceIndex: attributes[Int(RTA_OIF.rawValue)].map { Int32(bitPattern: $0.u32) },
                         family: Int32(header.rtm_family), table: routeTable, protocolNumber: header.rtm_protocol,
                         scope: header.rtm_scope, metric: attributes[Int(RTA_PRIORITY.rawValue)]?.u32)
        }
    }

    private static func routeHeader(_ route: Route) -> rtmsg {
        var header = rtmsg()
        header.rtm_family = UInt8(route.family)
        header.rtm_dst_len = UInt8(route.destination?.prefixLength ?? 0)
        header.rtm_table = route.table < 256 ? UInt8(route.table) : UInt8(RT_TABLE_UNSPEC.rawValue)
        header.rtm_protocol = route.protocolNumber
        header.rtm_scope = route.scope
        header.rtm_type = UInt8(RTN_UNICAST)
        return header
    }

    private static func putRoute(_ route: Route, _ message: MessageWriter) {
        if let destination = route.destination, destination.prefixLength > 0 {
            message.put(Int(RTA_DST.rawValue), destination.masked.address)
        }
        if let gateway = route.gateway { message.put(Int(RTA_GATEWAY.rawValue), gateway) }
        if let interface = route.interfaceIndex { message.put(Int(RTA_OIF.rawValue), UInt32(interface)) }
        if route.table >= 256 { message.put(Int(RTA_TABLE.rawValue), route.table) }
        if let metric = route.metric { message.put(Int(RTA_PRIORITY.rawValue), metric) }
    }
}
