import CNetlink

/// An IPv4 or IPv6 address, kept as integers in host order so that IPAM can count with it.
public enum IPAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
    case v4(UInt32)
    case v6(UInt128)

    /// Parses dotted-quad IPv4 or any RFC 4291 IPv6 text; nil for anything else.
    public init?(_ text: String) {
        if text.contains(":") {
            var raw = in6_addr()
            guard inet_pton(AF_INET6, text, &raw) == 1 else { return nil }
            self = .v6(withUnsafeBytes(of: raw) { IPAddress.bigEndianInteger($0) as UInt128 })
        } else {
            var raw = in_addr()
            guard inet_pton(AF_INET, text, &raw) == 1 else { return nil }
            self = .v4(UInt32(bigEndian: raw.s_addr))
        }
    }

    /// Reads an address from kernel bytes (4 or 16 in network order).
    public init?(bytes: UnsafeRawBufferPointer) {
        switch bytes.count {
        case 4: self = .v4(IPAddress.bigEndianInteger(bytes) as UInt32)
        case 16: self = .v6(IPAddress.bigEndianInteger(bytes) as UInt128)
        default: return nil
        }
    }

    public var isIPv4: Bool { if case .v4 = self { true } else { false } }
    public var family: Int32 { isIPv4 ? AF_INET : AF_INET6 }
    public var bitWidth: Int { isIPv4 ? 32 : 128 }

    /// The address in network byte order, as the kernel wants it.
    public var bytes: [UInt8] {
        switch self {
        case .v4(let value): return (0..<4).map { UInt8(truncatingIfNeeded: value >> (24 - 8 * $0)) }
        case .v6(let value): return (0..<16).map { UInt8(truncatingIfNeeded: value >> (120 - 8 * $0)) }
        }
    }

    /// The address as an integer wide enough for either family.
    public var integer: UInt128 {
        switch self {
        case .v4(let value): UInt128(value)
        case .v6(let value): value
        }
    }

    /// The address of the same family `offset` further on, or nil past the end of the family.
    public func advanced(by offset: UInt128) -> IPAddress? {
        switch self {
        case .v4(let value):
            let next = UInt128(value) + offset
            return next <= UInt128(UInt32.max) ? .v4(UInt32(next)) : nil
        case .v6(let value):
            let (next, overflow) = value.addingReportingOverflow(offset)
            return overflow ? nil : .v6(next)
        }
    }

    public var description: String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let raw = bytes
        _ = raw.withUnsafeBytes { inet_ntop(family, $0.baseAddress, &buffer, socklen_t(buffer.count)) }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public static func < (lhs: IPAddress, rhs: IPAddress) -> Bool {
        switch (lhs, rhs) {
        case (.v4(let a), .v4(let b)): a < b
        case (.v6(let a), .v6(let b)): a < b
        case (.v4, .v6): true
        case (.v6, .v4): false
        }
    }

    private static func bigEndianInteger<T: FixedWidthInteger>(_ bytes: UnsafeRawBufferPointer) -> T {
        bytes.reduce(T.zero) { ($0 << 8) | T($1) }
    }
}
