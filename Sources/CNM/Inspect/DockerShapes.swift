import Netlink

/// Docker's `Ports`: `{"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]}`.
public struct PortMapEntry: Encodable, Equatable {
    public var hostIP: String
    public var hostPort: String
    enum CodingKeys: String, CodingKey { case hostIP = "HostIp", hostPort = "HostPort" }

    static func map(_ bindings: [PortBinding], exposed: [String] = []) -> [String: [PortMapEntry]] {
        var ports: [String: [PortMapEntry]] = [:]
        for key in exposed { ports[key] = [] }
        for binding in bindings.sorted() {
            ports[binding.containerKey, default: []].append(PortMapEntry(hostIP: binding.hostIP.description, hostPort: String(binding.hostPort)))
        }
        return ports
    }
}

/// `network inspect` in Docker's field names and order.
public struct NetworkInspect: Encodable {
    public var name: String
    public var id: String
    public var created: String
    public var scope: String
    public var driver: String
    public var enableIPv6: Bool
    public var ipam: IPAM
    public var `internal`: Bool
    public var attachable: Bool
    public var ingress = false
    public var configOnly = false
    public var containers: [String: Container]
    public var options: [String: String]
    public var labels: [String: String]

    public struct IPAM: Encodable {
        public var driver: String
        public var options: [String: String]
        public var config: [Config]
        enum CodingKeys: String, CodingKey { case driver = "Driver", options = "Options", config = "Config" }
    }

    public struct Config: Encodable {
        public var subnet: String
        public var ipRange: String?
        public var gateway: String?
        public var auxiliaryAddresses: [String: String]?
        enum CodingKeys: String, CodingKey {
            case subnet = "Subnet", ipRange = "IPRange", gateway = "Gateway", auxiliaryAddresses = "AuxiliaryAddresses"
        }
    }

    public struct Container: Encodable {
        public var name: String
        public var endpointID: String
        public var macAddress: String
        public var ipv4Address: String
        public var ipv6Address: String
        public var ports: [String: [PortMapEntry]]
        /// The names the endpoint answers to on a network with names (Docker's DNSNames).
        public var dnsNames: [String]?
        enum CodingKeys: String, CodingKey {
            case name = "Name", endpointID = "EndpointID", macAddress = "MacAddress"
            case ipv4Address = "IPv4Address", ipv6Address = "IPv6Address", ports = "Ports", dnsNames = "DNSNames"
        }
    }

    enum CodingKeys: String, CodingKey {
        case name = "Name", id = "Id", created = "Created", scope = "Scope", driver = "Driver"
        case enableIPv6 = "EnableIPv6", ipam = "IPAM", `internal` = "Internal", attachable = "Attachable"
        case ingress = "Ingress", configOnly = "ConfigOnly", containers = "Containers"
        case options = "Options", labels = "Labels", peers = "Peers"
    }

    /// A host with endpoints on a network that spans hosts: its name and underlay address.
    public struct Peer: Encodable {
        public var name: String
        public var ip: String
        public init(name: String, ip: String) {
            self.name = name
            self.ip = ip
        }
        enum CodingKeys: String, CodingKey { case name = "Name", ip = "IP" }
    }

    /// Only for networks of global scope, as Docker shows them.
    public var peers: [Peer]?

    public init(_ network: NetworkRecord, endpoints: [EndpointRecord]) {
        name = network.name
        id = network.id
        created = network.created
        scope = network.scope
        driver = network.driver
        enableIPv6 = network.enableIPv6
        ipam = IPAM(driver: network.ipamDriver, options: network.ipamOptions, config: network.pools.map { pool in
            Config(subnet: pool.subnet.description, ipRange: pool.ipRange?.description, gateway: pool.gateway?.description,
                   auxiliaryAddresses: pool.auxiliaryAddresses.isEmpty ? nil : pool.auxiliaryAddresses.mapValues(\.description))
        })
        `internal` = network.internal
        attachable = network.attachable
        containers = Dictionary(uniqueKeysWithValues: endpoints.map { endpoint in
            (endpoint.sandboxID, Container(name: endpoint.sandboxName, endpointID: endpoint.id,
                                           macAddress: endpoint.mac?.description ?? "",
                                           ipv4Address: endpoint.ipv4?.description ?? "",
                                           ipv6Address: endpoint.ipv6?.description ?? "",
                                           ports: PortMapEntry.map(endpoint.bindings, exposed: endpoint.exposedPorts ?? []),
                                           dnsNames: endpoint.dnsNames))
        })
        options = network.options
        labels = network.labels
    }
}

/// `sandbox inspect`: the namespace and its attachments, in Docker's NetworkSettings shape.
public struct SandboxInspect: Encodable {
    public var name: String
    public var id: String
    public var created: String
    public var sandboxKey: String
    public var ports: [String: [PortMapEntry]]
    public var networks: [String: Endpoint]

    public struct Endpoint: Encodable {
        public var networkID: String
        public var endpointID: String
        public var gateway: String
        public var ipAddress: String
        public var ipPrefixLen: Int
        public var ipv6Gateway: String
        public var globalIPv6Address: String
        public var globalIPv6PrefixLen: Int
        public var macAddress: String
        public var aliases: [String]
        enum CodingKeys: String, CodingKey {
            case networkID = "NetworkID", endpointID = "EndpointID", gateway = "Gateway", ipAddress = "IPAddress"
            case ipPrefixLen = "IPPrefixLen", ipv6Gateway = "IPv6Gateway", globalIPv6Address = "GlobalIPv6Address"
            case globalIPv6PrefixLen = "GlobalIPv6PrefixLen", macAddress = "MacAddress", aliases = "Aliases"
        }
    }

    enum CodingKeys: String, CodingKey {
        case name = "Name", id = "Id", created = "Created", sandboxKey = "SandboxKey", ports = "Ports", networks = "Networks"
    }

    public init(_ sandbox: SandboxRecord, endpoints: [EndpointRecord], networks: [NetworkRecord]) {
        name = sandbox.name
        id = sandbox.id
        created = sandbox.created
        sandboxKey = sandbox.namespaceFile
        ports = PortMapEntry.map(endpoints.flatMap(\.bindings), exposed: endpoints.flatMap { $0.exposedPorts ?? [] })
        let byID = Dictionary(uniqueKeysWithValues: networks.map { ($0.id, $0) })
        self.networks = Dictionary(uniqueKeysWithValues: endpoints.compactMap { endpoint in
            guard let network = byID[endpoint.networkID] else { return nil }
            return (network.name, Endpoint(
                networkID: network.id, endpointID: endpoint.id,
                gateway: endpoint.ipv4 == nil ? "" : network.pool(ipv4: true)?.gateway?.description ?? "",
                ipAddress: endpoint.ipv4?.address.description ?? "", ipPrefixLen: endpoint.ipv4?.prefixLength ?? 0,
                ipv6Gateway: endpoint.ipv6 == nil ? "" : network.pool(ipv4: false)?.gateway?.description ?? "",
                globalIPv6Address: endpoint.ipv6?.address.description ?? "",
                globalIPv6PrefixLen: endpoint.ipv6?.prefixLength ?? 0,
                macAddress: endpoint.mac?.description ?? "", aliases: endpoint.aliases))
        })
    }
}
