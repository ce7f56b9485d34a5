import Netlink

/// A network as CNM keeps it. Everything `network inspect` shows is here, except the
/// attached containers, which come from the endpoint records.
public struct NetworkRecord: Codable, Sendable {
    public var id: String
    public var name: String
    public var driver: String
    public var created: String
    public var scope: String
    public var enableIPv6: Bool
    public var `internal`: Bool
    public var attachable: Bool
    public var ipamDriver: String
    public var ipamOptions: [String: String]
    public var pools: [AddressPoolConfig]
    public var options: [String: String]
    public var labels: [String: String]
    /// The kernel device the driver made or uses: the bridge, or the macvlan parent.
    public var interfaceName: String?
    /// Predefined networks (`host`, `none`) cannot be removed.
    public var predefined: Bool

    public var shortID: String { String(id.prefix(12)) }
    public func pool(ipv4: Bool) -> AddressPoolConfig? { pools.first { $0.subnet.isIPv4 == ipv4 } }
}

/// One subnet of a network: `--subnet`, `--ip-range`, `--gateway`, `--aux-address`.
public struct AddressPoolConfig: Codable, Sendable, Equatable {
    public var subnet: IPNetwork
    public var ipRange: IPNetwork?
    public var gateway: IPAddress?
    public var auxiliaryAddresses: [String: IPAddress]

    public init(subnet: IPNetwork, ipRange: IPNetwork? = nil, gateway: IPAddress? = nil, auxiliaryAddresses: [String: IPAddress] = [:]) {
        self.subnet = subnet
        self.ipRange = ipRange
        self.gateway = gateway
        self.auxiliaryAddresses = auxiliaryAddresses
    }
}

/// One attachment of a sandbox to a network.
public struct EndpointRecord: Codable, Sendable {
    public var id: String
    public var networkID: String
    public var sandboxID: String
    public var sandboxName: String
    public var mac: MACAddress?
    public var ipv4: IPNetwork?
    public var ipv6: IPNetwork?
    /// The host end of a veth; nil for drivers with nothing on the host.
    public var hostInterface: String?
    /// The interface inside the sandbox (`eth0`); nil for host and null networks.
    public var sandboxInterface: String?
    public var aliases: [String]
    /// Every name the endpoint answers to on a network with names (the container's name
    /// first, then its hostname, short id and aliases), lowercased; nil where it has none.
    public var dnsNames: [String]? = nil
    /// Published ports (`-p`, `-P`), whose nftables elements this endpoint owns, kept as
    /// runs of consecutive ports so that 5,000 ports cost a line, not a page.
    public var publishedPorts: [PublishedRange]? = nil
    /// Ports `-P` publishes (`--expose`), as `80/tcp`.
    public var exposedPorts: [String]? = nil

    public var shortID: String { String(id.prefix(12)) }
    public var bindings: [PortBinding] { (publishedPorts ?? []).flatMap(\.bindings) }
    public var addresses: [IPAddress] { [ipv4?.address, ipv6?.address].compactMap { $0 } }
}

/// A network namespace that endpoints join: named, so `ip netns exec NAME` enters it.
public struct SandboxRecord: Codable, Sendable {
    public var id: String
    public var name: String
    public var created: String
    /// Set for a namespace another runtime made (a CNI runtime's), given by the path of its
    /// file: netctl never creates or removes it, and its name is netctl's only.
    public var namespacePath: String? = nil
    /// Who attached that namespace, as they key it (CNI: container id and interface).
    public var attachment: ExternalAttachment? = nil

    /// The namespace's file: the path its runtime gave, or its name under /run/netns.
    public var namespaceFile: String { namespacePath ?? "\(NetworkNamespace.directory)/\(name)" }

    public var shortID: String { String(id.prefix(12)) }
}

/// What identifies a state root: kernel objects are marked with it, so that reconcile in
/// one root never touches what another root made.
struct RootRecord: Codable {
    var id: String
}

enum Keys {
    static let root = "root"
    static let networks = "networks"
    static let sandboxes = "sandboxes"
    static let endpoints = "endpoints"
    static let intents = "intents"
    static func intent(_ id: String) -> String { "intents/\(id)" }
    static func network(_ id: String) -> String { "networks/\(id)" }
    /// Copies of cluster networks this host has endpoints on, kept so that local changes
    /// (a container's removal) never wait on the cluster store.
    static let clusterNetworks = "cluster-networks"
    static func clusterNetwork(_ id: String) -> String { "cluster-networks/\(id)" }
    static func sandbox(_ id: String) -> String { "sandboxes/\(id)" }
    static func endpoints(of network: String) -> String { "endpoints/\(network)" }
    static func endpoint(_ id: String, network: String) -> String { "endpoints/\(network)/\(id)" }
}
