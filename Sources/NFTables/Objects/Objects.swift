/// The address family a table belongs to (`nft add table inet …`).
public enum Family: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case inet = 1, ip = 2, arp = 3, netdev = 5, bridge = 7, ip6 = 10

    public var description: String {
        switch self {
        case .inet: "inet"
        case .ip: "ip"
        case .arp: "arp"
        case .netdev: "netdev"
        case .bridge: "bridge"
        case .ip6: "ip6"
        }
    }
}

/// `table FAMILY NAME`.
public struct Table: Sendable, Hashable, CustomStringConvertible {
    public var family: Family
    public var name: String

    public init(_ family: Family, _ name: String) {
        self.family = family
        self.name = name
    }

    public var description: String { "table \(family) \(name)" }
}

/// Netfilter hooks; the bridge family numbers its hooks the same way.
public enum Hook: UInt32, Sendable {
    case prerouting = 0, input = 1, forward = 2, output = 3, postrouting = 4
}

/// `chain NAME { type TYPE hook HOOK priority PRIORITY; policy POLICY; }`, or a regular
/// chain when `base` is nil.
public struct Chain: Sendable, Hashable {
    public struct Base: Sendable, Hashable {
        public enum Kind: String, Sendable { case filter, nat, route }
        public var kind: Kind
        public var hook: Hook
        public var priority: Int32
        public var policyAccepts: Bool

        public init(_ kind: Kind, hook: Hook, priority: Int32, policyAccepts: Bool = true) {
            self.kind = kind
            self.hook = hook
            self.priority = priority
            self.policyAccepts = policyAccepts
        }
    }

    public var name: String
    public var base: Base?

    public init(_ name: String, base: Base? = nil) {
        self.name = name
        self.base = base
    }

    /// nft's named priorities.
    public enum Priority {
        public static let raw: Int32 = -300
        public static let mangle: Int32 = -150
        public static let dstnat: Int32 = -100
        public static let filter: Int32 = 0
        public static let srcnat: Int32 = 100
        public static let bridgeFilter: Int32 = -200
    }
}

/// What a rule or a verdict map element decides.
public enum Verdict: Sendable, Hashable {
    case accept, drop, `continue`, `return`
    case jump(String), goto(String)

    var code: Int32 {
        switch self {
        case .accept: 1          // NF_ACCEPT
        case .drop: 0            // NF_DROP
        case .continue: -1       // NFT_CONTINUE
        case .return: -5         // NFT_RETURN
        case .jump: -3           // NFT_JUMP
        case .goto: -4           // NFT_GOTO
        }
    }

    var chain: String? {
        switch self {
        case .jump(let chain), .goto(let chain): chain
        default: nil
        }
    }

    init?(code: Int32, chain: String?) {
        switch code {
        case 1: self = .accept
        case 0: self = .drop
        case -1: self = .continue
        case -5: self = .return
        case -3: self = .jump(chain ?? "")
        case -4: self = .goto(chain ?? "")
        default: return nil
        }
    }
}

/// nft's data types, by the numbers nft itself gives them, so that `nft list` prints the
/// sets netctl makes with their proper types.
public enum DataType: UInt32, Sendable {
    case verdict = 1
    case ipv4Address = 7
    case ipv6Address = 8
    case inetProtocol = 12
    case inetService = 13
    case mark = 19
    case ifname = 41

    /// Bytes the value takes in a register.
    public var length: Int {
        switch self {
        case .verdict, .ipv4Address, .mark: 4
        case .ipv6Address, .ifname: 16
        case .inetProtocol: 1
        case .inetService: 2
        }
    }

    var isHostOrder: Bool { self == .ifname || self == .mark }

    /// A concatenation's type: each member's number shifted in after the previous one.
    static func concatenated(_ types: [DataType]) -> UInt32 {
        types.reduce(0) { ($0 << 6) | $1.rawValue }
    }

    /// A single value takes its own length; in a concatenation each member takes whole
    /// 32-bit registers.
    static func length(of types: [DataType]) -> Int {
        types.count == 1 ? types[0].length : types.reduce(0) { $0 + ($1.length + 3) / 4 * 4 }
    }
}

/// `set NAME { type KEY; }` or `map NAME { type KEY : DATA; }` (DATA empty: `: verdict`).
public struct SetDefinition: Sendable, Hashable {
    public enum Data: Sendable, Hashable {
        case values([DataType])
        case verdict
    }

    public var name: String
    public var key: [DataType]
    public var data: Data?
    public var interval: Bool

    public init(_ name: String, key: [DataType], data: Data? = nil, interval: Bool = false) {
        self.name = name
        self.key = key
        self.data = data
        self.interval = interval
    }

    public var keyLength: Int { DataType.length(of: key) }
}

/// One element: the key's bytes as they sit in registers (network order, each member of a
/// concatenation padded to 4 bytes), and for a map the value.
public struct SetElement: Sendable, Hashable {
    public enum Value: Sendable, Hashable {
        case bytes([UInt8])
        case verdict(Verdict)
    }

    public var key: [UInt8]
    public var value: Value?

    public init(key: [UInt8], value: Value? = nil) {
        self.key = key
        self.value = value
    }
}

/// Builds element keys and values member by member.
public struct Concatenation {
    public private(set) var bytes: [UInt8] = []
    private var members = 0

    public init() {}

    /// Appends one member; `pad` rounds it up to a whole register, as inside a concatenation.
    public mutating func append(_ member: [UInt8], pad: Bool = true) {
        bytes += member
        members += 1
        if pad { while bytes.count % 4 != 0 { bytes.append(0) } }
    }

    public static func ifname(_ name: String) -> [UInt8] {
        var bytes = Array(name.utf8.prefix(15))
        bytes += [UInt8](repeating: 0, count: 16 - bytes.count)
        return bytes
    }

    public static func port(_ port: UInt16) -> [UInt8] { [UInt8(port >> 8), UInt8(port & 0xff)] }
}
