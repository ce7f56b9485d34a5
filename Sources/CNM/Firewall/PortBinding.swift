import Netlink

/// The transport protocols a port can be published for.
public enum TransportProtocol: String, Codable, Sendable, CaseIterable, Comparable {
    case tcp, udp, sctp

    /// The IP protocol number, as nftables matches `meta l4proto`.
    var number: UInt8 {
        switch self {
        case .tcp: 6
        case .udp: 17
        case .sctp: 132
        }
    }

    /// `SPEC[/PROTO]` into SPEC and its protocol (tcp when none is given), for `-p` and
    /// `--expose` alike.
    static func split(_ spec: String) throws -> (Substring, TransportProtocol) {
        guard let slash = spec.lastIndex(of: "/") else { return (Substring(spec), .tcp) }
        let text = spec[spec.index(after: slash)...]
        guard let value = TransportProtocol(rawValue: text.lowercased()) else {
            throw CNMError("invalid protocol \"\(text)\" in \"\(spec)\": expected tcp, udp or sctp")
        }
        return (spec[..<slash], value)
    }

    public static func < (a: Self, b: Self) -> Bool { a.number < b.number }
}

/// One published port as recorded on its endpoint: traffic to HOST_IP:HOST_PORT goes to the
/// endpoint's address of the same family, port CONTAINER_PORT. An unspecified host IP
/// (0.0.0.0 or ::) means every address of the host.
public struct PortBinding: Codable, Sendable, Hashable, Comparable {
    public var proto: TransportProtocol
    public var containerPort: UInt16
    public var hostIP: IPAddress
    public var hostPort: UInt16

    public init(proto: TransportProtocol, containerPort: UInt16, hostIP: IPAddress, hostPort: UInt16) {
        self.proto = proto
        self.containerPort = containerPort
        self.hostIP = hostIP
        self.hostPort = hostPort
    }

    /// `80/tcp`, the key Docker uses in `Ports`.
    public var containerKey: String { "\(containerPort)/\(proto.rawValue)" }

    /// `0.0.0.0:8080` or `[::]:8080`, as `docker port` prints it.
    public var hostEndpoint: String { hostIP.isIPv4 ? "\(hostIP):\(hostPort)" : "[\(hostIP)]:\(hostPort)" }

    var isWildcard: Bool { hostIP.isUnspecified }

    /// Two bindings cannot both hold the same port and protocol on overlapping addresses.
    func collides(with other: PortBinding) -> Bool {
        proto == other.proto && hostPort == other.hostPort && hostIP.isIPv4 == other.hostIP.isIPv4
            && (hostIP == other.hostIP || isWildcard || other.isWildcard)
    }

    public static func < (a: Self, b: Self) -> Bool {
        (a.containerPort, a.proto, a.hostIP.isIPv4 ? 0 : 1, a.hostPort) < (b.containerPort, b.proto, b.hostIP.isIPv4 ? 0 : 1, b.hostPort)
    }
}

/// Consecutive bindings as one record: host ports HOST…HOST+COUNT-1 of one address and
/// protocol to container ports CONTAINER…CONTAINER+COUNT-1.
public struct PublishedRange: Codable, Sendable, Hashable {
    public var proto: TransportProtocol
    public var hostIP: IPAddress
    public var hostPort: UInt16
    public var containerPort: UInt16
    public var count: Int

    public var bindings: [PortBinding] {
        (0..<count).map { PortBinding(proto: proto, containerPort: containerPort + UInt16($0), hostIP: hostIP, hostPort: hostPort + UInt16($0)) }
    }

    /// The fewest runs that hold exactly these bindings.
    public static func runs(of bindings: [PortBinding]) -> [PublishedRange] {
        let ordered = bindings.sorted { ($0.proto, $0.hostIP, $0.hostPort) < ($1.proto, $1.hostIP, $1.hostPort) }
        var runs: [PublishedRange] = []
        for binding in ordered {
            if var last = runs.last, last.proto == binding.proto, last.hostIP == binding.hostIP,
               Int(last.hostPort) + last.count == Int(binding.hostPort), Int(last.containerPort) + last.count == Int(binding.containerPort) {
                last.count += 1
                runs[runs.count - 1] = last
            } else {
                runs.append(PublishedRange(proto: binding.proto, hostIP: binding.hostIP, hostPort: binding.hostPort,
                                           containerPort: binding.containerPort, count: 1))
            }
        }
        return runs
    }
}

/// `-p` as Docker reads it: `[HOST_IP:][HOST_PORT[-END]:]CONTAINER_PORT[-END][/PROTO]`, with
/// an IPv6 host IP in brackets. A missing host port means a port chosen from the kernel's
/// local port range; a host range with one container port means the first free one of it.
public struct PortSpec: Sendable, Hashable {
    public var hostIP: IPAddress?
    public var hostPorts: ClosedRange<UInt16>?
    public var containerPorts: ClosedRange<UInt16>
    public var proto: TransportProtocol

    public init(parsing spec: String) throws {
        var rest: Substring
        (rest, proto) = try TransportProtocol.split(spec)

        // The host IP: bracketed (IPv6), or whatever precedes the last two fields.
        var ipText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]"), rest[rest.index(after: close)...].hasPrefix(":") else {
                throw CNMError("invalid publish spec \"\(spec)\": expected [IPv6]:HOST_PORT:CONTAINER_PORT")
            }
            ipText = rest[rest.index(after: rest.startIndex)..<close]
            rest = rest[rest.index(close, offsetBy: 2)...]
            guard rest.contains(":") else {
                throw CNMError("invalid publish spec \"\(spec)\": expected [IPv6]:HOST_PORT:CONTAINER_PORT")
            }
        }
        var fields = rest.split(separator: ":", omittingEmptySubsequences: false)
        if ipText == nil, fields.count > 2 {
            ipText = rest[..<fields[fields.count - 2].startIndex].dropLast()
            fields = Array(fields.suffix(2))
        }
        if let ipText {
            guard let address = IPAddress(String(ipText)) else {
                throw CNMError("invalid host IP \"\(ipText)\" in \"\(spec)\": expected an IPv4 or IPv6 address")
            }
            hostIP = address
        }
        guard fields.count <= 2, let containerText = fields.last, !containerText.isEmpty else {
            throw CNMError("invalid publish spec \"\(spec)\": expected [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]")
        }
        containerPorts = try Self.range(String(containerText), in: spec)
        if fields.count == 2, !fields[0].isEmpty {
            let hosts = try Self.range(String(fields[0]), in: spec)
            if hosts.count != containerPorts.count && containerPorts.count != 1 {
                throw CNMError("invalid publish spec \"\(spec)\": host range \(hosts.lowerBound)-\(hosts.upperBound) has \(hosts.count) ports, container range \(containerPorts.lowerBound)-\(containerPorts.upperBound) has \(containerPorts.count)")
            }
            hostPorts = hosts
        }
    }

    /// `80` or `8000-8010`.
    static func range(_ text: String, in spec: String) throws -> ClosedRange<UInt16> {
        let parts = text.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let ports = try parts.map { part -> UInt16 in
            guard let port = UInt16(part), port >= 1 else {
                throw CNMError("invalid port \"\(part)\" in \"\(spec)\": expected a port from 1 to 65535")
            }
            return port
        }
        if ports.count == 2, ports[0] > ports[1] {
            throw CNMError("invalid port range \"\(text)\" in \"\(spec)\": the start is above the end")
        }
        return ports[0]...(ports.last!)
    }
}

/// `--expose 80`, `--expose 8000-8010/udp`: ports `-P` publishes.
public struct ExposedPorts: Sendable, Hashable {
    public var ports: ClosedRange<UInt16>
    public var proto: TransportProtocol

    public init(parsing spec: String) throws {
        let text: Substring
        (text, proto) = try TransportProtocol.split(spec)
        ports = try PortSpec.range(String(text), in: spec)
    }
}

extension IPAddress {
    var isUnspecified: Bool {
        switch self {
        case .v4(let value): value == 0
        case .v6(let value): value == 0
        }
    }
}
