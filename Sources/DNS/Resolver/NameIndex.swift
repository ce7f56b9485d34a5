import Glibc

/// What the resolver answers from, built whole from the tables on every sync (a few
/// thousand records take well under a millisecond): per network, its names (each also as
/// `name.NETWORK`) and its addresses, and per sandbox, the networks it is on.
///
/// A sandbox sees only the networks it is on, as in Docker: the networks whose local
/// table has a record of it.
public struct NameIndex: Sendable {
    struct Network: Sendable {
        var id: String
        var name: String
        /// Lowercase dotted name → the addresses it answers with.
        var names: [[UInt8]: Addresses] = [:]
        /// 4 or 16 address bytes → the canonical name of its record.
        var reverse: [[UInt8]: [UInt8]] = [:]
    }

    struct Addresses: Sendable {
        var ipv4: [[UInt8]] = []
        var ipv6: [[UInt8]] = []
    }

    private(set) var networks: [Network] = []
    /// Sandbox name → indices into `networks`.
    private(set) var sandboxNetworks: [String: [Int]] = [:]

    public init() {}

    /// `local` and `remote` hold one table per network id (either may lack an id).
    public init(local: [String: NetworkTable], remote: [String: NetworkTable]) {
        for id in Set(local.keys).union(remote.keys).sorted() {
            var network = Network(id: id, name: (local[id] ?? remote[id])!.name.lowercasedASCII)
            let suffix = Array(".\(network.name)".utf8)
            let records = (local[id]?.records ?? []).map { ($0, true) } + (remote[id]?.records ?? []).map { ($0, false) }
            for (record, isLocal) in records {
                if let sandbox = record.sandbox, isLocal {
                    sandboxNetworks[sandbox, default: []].append(networks.count)
                }
                let ipv4 = record.ipv4.flatMap(IPText.ipv4Bytes), ipv6 = record.ipv6.flatMap(IPText.ipv6Bytes)
                let names = record.names.map { Array($0.lowercasedASCII.utf8) }.filter(Self.isValid)
                guard let canonical = names.first else { continue }
                for name in names {
                    for key in [name, name + suffix] where Self.isValid(key) {
                        var addresses = network.names[key] ?? Addresses()
                        if let ipv4, !addresses.ipv4.contains(ipv4) { addresses.ipv4.append(ipv4) }
                        if let ipv6, !addresses.ipv6.contains(ipv6) { addresses.ipv6.append(ipv6) }
                        network.names[key] = addresses
                    }
                }
                for address in [ipv4, ipv6].compactMap({ $0 }) where network.reverse[address] == nil {
                    network.reverse[address] = canonical
                }
            }
            networks.append(network)
        }
        for (sandbox, list) in sandboxNetworks { sandboxNetworks[sandbox] = Array(Set(list)).sorted() }
    }

    /// The answer to a name on `sandbox`'s networks: nil when no network of it has the name
    /// (the query goes upstream), else its addresses of `type` (possibly none).
    public func addresses(of name: [UInt8], type: UInt16, sandbox: String) -> [[UInt8]]? {
        guard let list = sandboxNetworks[sandbox] else { return nil }
        var found = false
        var result: [[UInt8]] = []
        for index in list {
            guard let addresses = networks[index].names[name] else { continue }
            found = true
            let family = type == DNSType.a ? addresses.ipv4 : type == DNSType.aaaa ? addresses.ipv6 : []
            for address in family where !result.contains(address) { result.append(address) }
        }
        return found ? result : nil
    }

    /// The canonical name for a PTR query on `sandbox`'s networks, nil when the query is
    /// not a reverse name or no network of the sandbox has that address.
    public func pointer(for name: [UInt8], sandbox: String) -> [UInt8]? {
        guard let list = sandboxNetworks[sandbox], let address = IPText.reverseAddress(name) else { return nil }
        for index in list { if let target = networks[index].reverse[address] { return target } }
        return nil
    }

    /// Whether `sandbox` is on any network with names.
    public func serves(_ sandbox: String) -> Bool { sandboxNetworks[sandbox] != nil }

    public var recordCount: Int { networks.reduce(0) { $0 + $1.names.count } }

    /// A name the wire can carry: labels 1…63 bytes, at most 255 bytes in all.
    static func isValid(_ name: [UInt8]) -> Bool {
        guard !name.isEmpty, name.count <= 253 else { return false }
        return name.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false).allSatisfy { !$0.isEmpty && $0.count <= 63 }
    }
}

extension String {
    var lowercasedASCII: String { String(decoding: utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }, as: UTF8.self) }
}

/// Addresses as text and as bytes, without Foundation (inet_pton does the parsing).
public enum IPText {
    public static func ipv4Bytes(_ text: String) -> [UInt8]? {
        var address = in_addr()
        guard inet_pton(AF_INET, text, &address) == 1 else { return nil }
        return withUnsafeBytes(of: address) { Array($0) }
    }

    public static func ipv6Bytes(_ text: String) -> [UInt8]? {
        var address = in6_addr()
        guard inet_pton(AF_INET6, text, &address) == 1 else { return nil }
        return withUnsafeBytes(of: address) { Array($0) }
    }

    /// The address a reverse name stands for: "4.3.2.1.in-addr.arpa" → 1.2.3.4, and the 32
    /// nibbles of ip6.arpa. Nil for anything else (a partial name, a bad digit).
    public static func reverseAddress(_ name: [UInt8]) -> [UInt8]? {
        let v4Suffix = Array(".in-addr.arpa".utf8), v6Suffix = Array(".ip6.arpa".utf8)
        if name.count > v4Suffix.count, Array(name.suffix(v4Suffix.count)) == v4Suffix {
            let parts = name.dropLast(v4Suffix.count).split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
            guard parts.count == 4 else { return nil }
            var bytes: [UInt8] = []
            for part in parts.reversed() {
                guard (1...3).contains(part.count), part.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
                let value = part.reduce(0) { $0 * 10 + Int($1 - 0x30) }
                guard value <= 255, part.count == 1 || part.first != 0x30 else { return nil }
                bytes.append(UInt8(value))
            }
            return bytes
        }
        if name.count == 64 + v6Suffix.count - 1, Array(name.suffix(v6Suffix.count)) == v6Suffix {
            var nibbles: [UInt8] = []
            for (index, byte) in name.prefix(63).enumerated() {
                if index % 2 == 1 { guard byte == UInt8(ascii: ".") else { return nil }; continue }
                switch byte {
                case 0x30...0x39: nibbles.append(byte - 0x30)
                case 0x61...0x66: nibbles.append(byte - 0x61 + 10)
                default: return nil
                }
            }
            nibbles.reverse()
            return stride(from: 0, to: 32, by: 2).map { nibbles[$0] << 4 | nibbles[$0 + 1] }
        }
        return nil
    }

    /// An address as text (inet_ntop).
    public static func text(_ bytes: [UInt8]) -> String {
        var buffer = [CChar](repeating: 0, count: 64)
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        _ = bytes.withUnsafeBytes { inet_ntop(family, $0.baseAddress, &buffer, 64) }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
