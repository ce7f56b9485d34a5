import Netlink

/// `netctl network create` as the controller receives it: text as the user typed it, so
/// every error can quote the bad value.
public struct NetworkCreateRequest: Sendable {
    public var name: String
    public var driver: String = "bridge"
    public var subnets: [String] = []
    public var gateways: [String] = []
    public var ipRanges: [String] = []
    /// `HOST=ADDRESS` pairs.
    public var auxiliaryAddresses: [String] = []
    public var enableIPv6 = false
    public var `internal` = false
    public var attachable = false
    public var options: [String: String] = [:]
    public var labels: [String: String] = [:]

    public init(name: String) { self.name = name }
}

/// `netctl network connect`.
public struct ConnectRequest: Sendable {
    public var network: String
    public var sandbox: String
    public var ipv4: String?
    public var ipv6: String?
    public var aliases: [String] = []
    /// `-p` specs as typed.
    public var publish: [String] = []
    /// `-P`: publish every exposed port on a port of the kernel's local range.
    public var publishAll = false
    /// `--expose` specs as typed.
    public var expose: [String] = []
    /// The names the endpoint answers to on networks with names, besides `aliases`: the
    /// container's name, `--hostname` and short id, as the runtime gives them. Empty for a
    /// bare sandbox, which answers to its own name.
    public var names: [String] = []
    /// `--dns`: where the sandbox's resolver sends what it cannot answer; empty means the
    /// host's resolvers.
    public var upstreamResolvers: [String] = []
    /// The interface's name inside the sandbox (CNI_IFNAME); nil: the next free ethN.
    public var interfaceName: String?
    /// The interface's MAC address as typed; nil: derived from its IPv4 address.
    public var mac: String?

    public init(network: String, sandbox: String) {
        self.network = network
        self.sandbox = sandbox
    }
}

/// Names of networks, sandboxes and containers: as Docker's, a letter or digit then
/// letters, digits, `_`, `.` and `-`.
public func validateName(_ name: String, of kind: String) throws {
    guard isDockerName(name, maximumLength: 64) else {
        throw CNMError("invalid \(kind) name \"\(name)\": expected 1 to 64 of [a-zA-Z0-9_.-], starting with a letter or digit")
    }
}

/// 1 to `maximumLength` bytes of [a-zA-Z0-9_.-], the first a letter or digit: Docker's
/// rule for names, and for aliases (DNS names, up to 253).
func isDockerName(_ name: String, maximumLength: Int) -> Bool {
    let allowed = name.utf8.enumerated().allSatisfy { index, byte in
        let alphanumeric = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
        return alphanumeric || (index > 0 && (byte == 0x5f || byte == 0x2e || byte == 0x2d))
    }
    return !name.isEmpty && name.utf8.count <= maximumLength && allowed
}
