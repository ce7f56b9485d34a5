/// A register of the nf_tables virtual machine. `r1`…`r4` are the 16-byte registers;
/// `word(n)` addresses the same space in 4-byte steps (`word(0)` is where `r1` starts).
public struct Register: Sendable, Hashable {
    public let number: UInt32

    public static let verdict = Register(number: 0)
    public static let r1 = Register(number: 1)
    public static let r2 = Register(number: 2)
    public static func word(_ index: UInt32) -> Register { Register(number: 8 + index) }
}

/// The expressions netctl's rules are made of, each as nft's `--debug=netlink` shows it.
public enum Expression: Sendable, Hashable {
    public enum MetaKey: UInt32, Sendable { case protocol_ = 1, mark = 3, iif = 4, oif = 5, iifname = 6, oifname = 7, nfproto = 15, l4proto = 16 }
    public enum PayloadBase: UInt32, Sendable { case link = 0, network = 1, transport = 2 }
    public enum Comparison: UInt32, Sendable { case equal = 0, notEqual = 1, less = 2, lessOrEqual = 3, greater = 4, greaterOrEqual = 5 }
    public enum ConntrackKey: UInt32, Sendable { case state = 0, direction = 1, status = 2, mark = 3 }
    public enum FibResult: UInt32, Sendable { case oif = 1, oifname = 2, addressType = 3 }
    public struct FibFlags: OptionSet, Sendable, Hashable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let sourceAddress = FibFlags(rawValue: 1)
        public static let destinationAddress = FibFlags(rawValue: 2)
        public static let mark = FibFlags(rawValue: 4)
        public static let inputInterface = FibFlags(rawValue: 8)
        public static let outputInterface = FibFlags(rawValue: 16)
    }
    public enum NATKind: UInt32, Sendable { case source = 0, destination = 1 }

    /// `[ meta load KEY => reg ]`
    case meta(MetaKey, into: Register)
    /// `[ meta set KEY with reg ]`
    case setMeta(MetaKey, from: Register)
    /// `[ payload load LENb @ BASE header + OFFSET => reg ]`
    case payload(PayloadBase, offset: UInt32, length: UInt32, into: Register)
    /// `[ cmp OP reg DATA ]`
    case compare(Comparison, Register, [UInt8])
    /// `[ bitwise reg = ( reg & MASK ) ^ XOR ]`
    case bitwise(Register, into: Register, mask: [UInt8], xor: [UInt8])
    /// `[ lookup reg set NAME [dreg R] [0x1] ]`
    case lookup(set: String, key: Register, into: Register? = nil, inverted: Bool = false)
    /// `[ ct load KEY => reg ]`
    case conntrack(ConntrackKey, into: Register)
    /// `[ ct set KEY with reg ]`
    case setConntrack(ConntrackKey, from: Register)
    /// `[ fib FLAGS RESULT => reg ]`
    case fib(FibResult, flags: FibFlags, into: Register)
    /// `[ immediate reg 0 VERDICT ]`
    case verdict(Verdict)
    /// `[ immediate reg 1 DATA ]`: a constant (network order) for what follows, as a NAT target.
    case immediate(Register, [UInt8])
    /// `[ nat dnat ip addr_min reg proto_min reg ]`
    case nat(NATKind, family: Family, address: Register, port: Register?)
    /// `[ masq ]`
    case masquerade
    /// `[ counter ]`
    case counter
    /// `[ notrack ]`: the packet is not followed by conntrack (in a chain of priority raw).
    case notrack

    var kernelName: String {
        switch self {
        case .meta, .setMeta: "meta"
        case .payload: "payload"
        case .compare: "cmp"
        case .bitwise: "bitwise"
        case .lookup: "lookup"
        case .conntrack, .setConntrack: "ct"
        case .fib: "fib"
        case .verdict, .immediate: "immediate"
        case .nat: "nat"
        case .masquerade: "masq"
        case .counter: "counter"
        case .notrack: "notrack"
        }
    }
}

/// A rule: what it matches and does, in order, appended to `chain`.
public struct Rule: Sendable, Hashable {
    public var chain: String
    public var expressions: [Expression]

    public init(_ chain: String, _ expressions: [Expression]) {
        self.chain = chain
        self.expressions = expressions
    }
}

/// The matches netctl's rules are written with, each the expressions nft itself generates
/// for the same statement, so `nft list ruleset` prints them back as nft syntax.
public enum Match {
    /// `meta nfproto ipv4|ipv6`
    public static func nfproto(_ family: Family) -> [Expression] {
        [.meta(.nfproto, into: .r1), .compare(.equal, .r1, [family.rawValue])]
    }

    /// `iifname @SET` / `oifname != @SET`
    public static func interfaceName(input: Bool, in set: String, inverted: Bool = false) -> [Expression] {
        [.meta(input ? .iifname : .oifname, into: .r1), .lookup(set: set, key: .r1, inverted: inverted)]
    }

    /// `iifname . oifname @SET`
    public static func interfacePair(in set: String) -> [Expression] {
        [.meta(.iifname, into: .r1), .meta(.oifname, into: .r2), .lookup(set: set, key: .r1)]
    }

    /// `fib daddr type local` (or saddr)
    public static func addressIsLocal(source: Bool) -> [Expression] {
        [.fib(.addressType, flags: source ? .sourceAddress : .destinationAddress, into: .r1),
         .compare(.equal, .r1, hostOrder(2))]   // RTN_LOCAL
    }

    /// `ct status dnat`
    public static func destinationNATted() -> [Expression] {
        [.conntrack(.status, into: .r1), .bitwise(.r1, into: .r1, mask: hostOrder(0x20), xor: hostOrder(0)),
         .compare(.notEqual, .r1, hostOrder(0))]
    }

    /// `meta mark & BITS != 0`
    public static func markHas(_ bits: UInt32) -> [Expression] {
        [.meta(.mark, into: .r1), .bitwise(.r1, into: .r1, mask: hostOrder(bits), xor: hostOrder(0)),
         .compare(.notEqual, .r1, hostOrder(0))]
    }

    /// `meta mark set meta mark | BITS`
    public static func setMark(_ bits: UInt32) -> [Expression] {
        [.meta(.mark, into: .r1), .bitwise(.r1, into: .r1, mask: hostOrder(~bits), xor: hostOrder(bits)),
         .setMeta(.mark, from: .r1)]
    }

    /// `ct mark & BITS != 0`
    public static func conntrackMarkHas(_ bits: UInt32) -> [Expression] {
        [.conntrack(.mark, into: .r1), .bitwise(.r1, into: .r1, mask: hostOrder(bits), xor: hostOrder(0)),
         .compare(.notEqual, .r1, hostOrder(0))]
    }

    /// `ct mark set ct mark | BITS`
    public static func setConntrackMark(_ bits: UInt32) -> [Expression] {
        [.conntrack(.mark, into: .r1), .bitwise(.r1, into: .r1, mask: hostOrder(~bits), xor: hostOrder(bits)),
         .setConntrack(.mark, from: .r1)]
    }

    /// `ether type != arp` (bridge family)
    public static func notARP() -> [Expression] {
        [.payload(.link, offset: 12, length: 2, into: .r1), .compare(.notEqual, .r1, [0x08, 0x06])]
    }

    public static func hostOrder(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value) { Array($0) } }
}
