import CNetlink

/// A link the kernel has, as `ip -d link show` reads it.
public struct Link: Sendable, Equatable {
    public var index: Int32
    public var name: String
    /// IFLA_INFO_KIND: "bridge", "veth", "macvlan", "vxlan"...; nil for physical devices.
    public var kind: String?
    public var mtu: UInt32
    public var mac: MACAddress?
    public var isUp: Bool
    /// The bridge (or other master) this link is a port of.
    public var masterIndex: Int32?
    /// IFLA_LINK: a veth's peer, a macvlan's parent (their index in the peer's namespace).
    public var parentIndex: Int32?
    public var alias: String?
    public var macvlanMode: MacvlanMode?
    public var vxlan: VXLANOptions?
}

/// Which link a request is about: by name (the kernel looks it up) or by index.
public enum LinkReference: Sendable, Hashable, CustomStringConvertible {
    case name(String)
    case index(Int32)

    public var description: String {
        switch self {
        case .name(let name): name
        case .index(let index): "index \(index)"
        }
    }
}

public enum MacvlanMode: String, Sendable, CaseIterable, Codable {
    case `private`, vepa, bridge, passthru, source

    var kernelValue: UInt32 {
        switch self {
        case .private: UInt32(MACVLAN_MODE_PRIVATE.rawValue)
        case .vepa: UInt32(MACVLAN_MODE_VEPA.rawValue)
        case .bridge: UInt32(MACVLAN_MODE_BRIDGE.rawValue)
        case .passthru: UInt32(MACVLAN_MODE_PASSTHRU.rawValue)
        case .source: UInt32(MACVLAN_MODE_SOURCE.rawValue)
        }
    }

    init?(kernelValue: UInt32) {
        guard let mode = MacvlanMode.allCases.first(where: { $0.kernelValue == kernelValue }) else { return nil }
        self = mode
    }
}

/// A VXLAN device's settings: `ip link add NAME type vxlan id VNI local … group|remote …
/// dev UNDERLAY dstport PORT [no]learning [no]proxy ttl N`.
public struct VXLANOptions: Sendable, Equatable {
    public var vni: UInt32
    public var local: IPAddress?
    /// A multicast group, or the single remote VTEP for point-to-point tunnels.
    public var group: IPAddress?
    public var underlay: LinkReference?
    public var port: UInt16
    public var learning: Bool
    public var proxy: Bool
    public var ttl: UInt8?

    public init(vni: UInt32, local: IPAddress? = nil, group: IPAddress? = nil, underlay: LinkReference? = nil,
                port: UInt16 = 4789, learning: Bool = false, proxy: Bool = false, ttl: UInt8? = nil) {
        self.vni = vni
        self.local = local
        self.group = group
        self.underlay = underlay
        self.port = port
        self.learning = learning
        self.proxy = proxy
        self.ttl = ttl
    }
}

/// What a new link is.
public enum LinkKind: Sendable {
    case bridge
    /// Both ends in one request; the peer may be created directly in another namespace.
    case veth(peer: VethPeer)
    case macvlan(parent: LinkReference, mode: MacvlanMode)
    case vxlan(VXLANOptions)
    case dummy

    var name: String {
        switch self {
        case .bridge: "bridge"
        case .veth: "veth"
        case .macvlan: "macvlan"
        case .vxlan: "vxlan"
        case .dummy: "dummy"
        }
    }
}

/// The far end of a veth pair. It is born down: kernels since 6.x answer ENOTCONN when
/// asked to bring the peer up in the creating request (`ip link add … type veth peer … up`
/// fails the same way), so it is brought up by whoever configures its namespace.
public struct VethPeer: Sendable {
    public var name: String
    public var namespace: NetworkNamespace?
    public var mac: MACAddress?
    public var mtu: UInt32?

    public init(name: String, namespace: NetworkNamespace? = nil, mac: MACAddress? = nil, mtu: UInt32? = nil) {
        self.name = name
        self.namespace = namespace
        self.mac = mac
        self.mtu = mtu
    }
}

/// A link to create: `ip link add NAME [netns NS] [address MAC] [mtu N] [master BR] [up] type KIND …`.
public struct LinkSpec: Sendable {
    public var name: String
    public var kind: LinkKind
    public var mtu: UInt32?
    public var mac: MACAddress?
    /// Index of the bridge to enslave the new link to, in the same request.
    public var master: Int32?
    public var up: Bool
    /// Created directly in this namespace rather than moved there later.
    public var namespace: NetworkNamespace?

    public init(name: String, kind: LinkKind, mtu: UInt32? = nil, mac: MACAddress? = nil, master: Int32? = nil,
                up: Bool = false, namespace: NetworkNamespace? = nil) {
        self.name = name
        self.kind = kind
        self.mtu = mtu
        self.mac = mac
        self.master = master
        self.up = up
        self.namespace = namespace
    }
}

/// Interface names are at most IFNAMSIZ-1 bytes.
public let maximumInterfaceNameLength = Int(IFNAMSIZ) - 1
