import Glibc
import Netlink
import Yams

/// A lab's topology, read from its YAML file: L2 segments joined by routers, hosts on the
/// segments, etcd, overlay networks and containers on the hosts.
///
///     name: demo
///     etcd: { members: 1, segment: seg1, tls: true }
///     segments: [{ name: seg1, subnet: 198.18.1.0/24 }, { name: seg2, subnet: 198.18.2.0/24 }]
///     routers:  [{ name: r1, segments: [seg1, seg2] }]
///     hosts:    [{ name: h1, segment: seg1 }, { name: h2, segment: seg2 }]
///     networks: [{ name: red, subnets: [198.18.100.0/24] }]
///     containers: [{ name: a1, host: h1, networks: [red] }]
///
/// Everything is checked before anything is made: unknown keys, names (they become
/// namespace and interface names), references between sections, addresses (all within
/// 198.18.0.0/15), and that every host can reach every other and etcd through routers.
public struct LabTopology: Sendable, Equatable {
    public struct Etcd: Sendable, Equatable {
        public var members: Int
        public var segment: String
        public var tls: Bool
    }

    public struct Segment: Sendable, Equatable {
        public var name: String
        public var subnet: IPNetwork
        public var mtu: UInt32
    }

    public struct Router: Sendable, Equatable {
        public var name: String
        public var segments: [String]
    }

    public struct Host: Sendable, Equatable {
        public var name: String
        public var segment: String
    }

    public struct Network: Sendable, Equatable {
        public var name: String
        public var subnets: [IPNetwork]
        public var `internal`: Bool
    }

    public struct Container: Sendable, Equatable {
        public var name: String
        public var host: String
        public var networks: [String]
        /// nil: a sandbox (`netctl sandbox create` + `network connect`); otherwise an image
        /// for `netctl run -d` (an OCI layout or docker-save archive, or `busybox`).
        public var image: String?
    }

    public var name: String
    public var etcd: Etcd
    public var segments: [Segment]
    public var routers: [Router]
    public var hosts: [Host]
    public var networks: [Network]
    public var containers: [Container]

    /// A topology file is small; anything larger is refused before it is parsed.
    public static let maximumFileSize = 1 << 20

    /// Every lab address lies here (RFC 2544's benchmarking range).
    public static let addressRange = IPNetwork(cidr: "198.18.0.0/15")!

    /// The hosts' default address pool (`NETCTL_DEFAULT_ADDRESS_POOLS`): networks the
    /// hosts make without a subnet, such as the overlay's gateway bridge, come from here,
    /// so the lab's own subnets stay out of it.
    public static let hostPool = IPNetwork(cidr: "198.19.0.0/16")!

    /// Reads and checks a topology file.
    public static func load(path: String) throws -> LabTopology {
        try parse(try LabFiles.read(path, limit: maximumFileSize), file: path)
    }

    /// Parses and checks topology text; `file` names it in errors.
    public static func parse(_ text: String, file: String) throws -> LabTopology {
        let shown = file.split(separator: "/").last.map(String.init) ?? file
        return try TopologyReader(file: shown).read(text)
    }

    /// The etcd members' node names: etcd1, etcd2, etcd3.
    public var etcdMemberNames: [String] { (1...etcd.members).map { "etcd\($0)" } }
}

/// Reads the YAML tree node by node, so every error can name its line.
private struct TopologyReader {
    let file: String

    func fail(_ node: Node?, _ message: String) -> LabError {
        LabError.file(file, line: node?.mark?.line, message)
    }

    func read(_ text: String) throws -> LabTopology {
        let root: Node
        do {
            guard let parsed = try Yams.compose(yaml: text) else { throw fail(nil, "empty file (expected a mapping with name, segments, hosts…)") }
            root = parsed
        } catch let error as YamlError {
            throw yamlError(error)
        }
        let top = try mapping(root, "the file", allowed: ["name", "etcd", "segments", "routers", "hosts", "networks", "containers"],
                              required: ["name", "segments", "hosts"])

        // name
        let nameNode = top["name"]!
        let name = try string(nameNode, "name")
        guard name.utf8.count <= 8, isName(name) else {
            throw fail(nameNode, "lab name \"\(name)\" is not 1 to 8 letters or digits starting with a letter")
        }

        // segments
        var segments: [LabTopology.Segment] = []
        var segmentNodes: [String: Node] = [:]
        for item in try sequence(top["segments"]!, "segments") {
            let fields = try mapping(item, "segment", allowed: ["name", "subnet", "mtu"], required: ["name", "subnet"])
            let segmentName = try nodeName(fields["name"]!, "segment")
            let what = "segment \"\(segmentName)\""
            guard segmentNodes[segmentName] == nil else { throw fail(item, "\(what) is defined twice") }
            let subnet = try labSubnet(fields["subnet"]!, what)
            guard subnet.prefixLength <= 28 else {
                throw fail(fields["subnet"], "\(what): subnet \(subnet) is too small (expected a prefix of /28 or shorter: routers take .1, hosts .11 on)")
            }
            var mtu: UInt32 = 1500
            if let node = fields["mtu"] {
                let value = try integer(node, "\(what): mtu")
                guard (1280...9000).contains(value) else { throw fail(node, "\(what): mtu \(value) is out of range (expected 1280 to 9000)") }
                mtu = UInt32(value)
            }
            for other in segments where other.subnet.overlaps(subnet) {
                throw fail(fields["subnet"], "\(what): subnet \(subnet) overlaps segment \"\(other.name)\" (\(other.subnet))")
            }
            segmentNodes[segmentName] = item
            segments.append(.init(name: segmentName, subnet: subnet, mtu: mtu))
        }
        guard !segments.isEmpty else { throw fail(top["segments"], "segments: none defined (expected at least one)") }
        let segmentNames = segments.map(\.name)
        func segmentReference(_ node: Node, _ what: String) throws -> String {
            let value = try string(node, what)
            guard segmentNames.contains(value) else {
                throw fail(node, "\(what): segment \"\(value)\" is not defined (expected one of \(segmentNames.joined(separator: ", ")))")
            }
            return value
        }

        var nodeLines: [String: Node] = [:]
        func claim(_ nodeName: String, _ node: Node, _ what: String) throws {
            if nodeLines[nodeName] != nil {
                throw fail(node, "\(what): the name \"\(nodeName)\" is already taken (line \(nodeLines[nodeName]!.mark?.line ?? 0))")
            }
            nodeLines[nodeName] = node
        }

        // routers
        var routers: [LabTopology.Router] = []
        if let list = top["routers"] {
            for item in try sequence(list, "routers") {
                let fields = try mapping(item, "router", allowed: ["name", "segments"], required: ["name", "segments"])
                let routerName = try nodeName(fields["name"]!, "router")
                let what = "router \"\(routerName)\""
                try claim(routerName, item, what)
                var joined: [String] = []
                for node in try sequence(fields["segments"]!, "\(what): segments") {
                    let segment = try segmentReference(node, what)
                    guard !joined.contains(segment) else { throw fail(node, "\(what): segment \"\(segment)\" is listed twice") }
                    joined.append(segment)
                }
                guard joined.count >= 2 else { throw fail(fields["segments"], "\(what): joins \(joined.count) segment(s) (expected at least 2)") }
                routers.append(.init(name: routerName, segments: joined))
            }
        }

        // hosts
        var hosts: [LabTopology.Host] = []
        for item in try sequence(top["hosts"]!, "hosts") {
            let fields = try mapping(item, "host", allowed: ["name", "segment"], required: ["name", "segment"])
            let hostName = try nodeName(fields["name"]!, "host")
            let what = "host \"\(hostName)\""
            try claim(hostName, item, what)
            hosts.append(.init(name: hostName, segment: try segmentReference(fields["segment"]!, what)))
        }
        guard !hosts.isEmpty else { throw fail(top["hosts"], "hosts: none defined (expected at least one)") }

        // etcd: one member on the first host's segment, with TLS, unless the file says otherwise
        var etcd = LabTopology.Etcd(members: 1, segment: hosts[0].segment, tls: true)
        if let node = top["etcd"] {
            let fields = try mapping(node, "etcd", allowed: ["members", "segment", "tls"], required: [])
            if let members = fields["members"] {
                etcd.members = try integer(members, "etcd: members")
                guard etcd.members == 1 || etcd.members == 3 else {
                    throw fail(members, "etcd: members \(etcd.members) (expected 1 or 3)")
                }
            }
            if let segment = fields["segment"] { etcd.segment = try segmentReference(segment, "etcd") }
            if let tls = fields["tls"] { etcd.tls = try boolean(tls, "etcd: tls") }
        }
        for member in 1...etcd.members {
            let memberName = "etcd\(member)"
            if let taken = nodeLines[memberName] {
                throw fail(taken, "the name \"\(memberName)\" is taken by the lab's etcd member (expected another name)")
            }
        }

        // networks
        var networks: [LabTopology.Network] = []
        var networkNodes: [String: Node] = [:]
        if let list = top["networks"] {
            for item in try sequence(list, "networks") {
                let fields = try mapping(item, "network", allowed: ["name", "subnets", "internal"], required: ["name", "subnets"])
                let networkName = try nodeName(fields["name"]!, "network")
                let what = "network \"\(networkName)\""
                guard networkNodes[networkName] == nil else { throw fail(item, "\(what) is defined twice") }
                var subnets: [IPNetwork] = []
                for node in try sequence(fields["subnets"]!, "\(what): subnets") {
                    let subnet = try labSubnet(node, what)
                    for segment in segments where segment.subnet.overlaps(subnet) {
                        throw fail(node, "\(what): subnet \(subnet) overlaps segment \"\(segment.name)\" (\(segment.subnet))")
                    }
                    for other in networks { for used in other.subnets where used.overlaps(subnet) {
                        throw fail(node, "\(what): subnet \(subnet) overlaps network \"\(other.name)\" (\(used))")
                    } }
                    for used in subnets where used.overlaps(subnet) {
                        throw fail(node, "\(what): subnet \(subnet) overlaps its own \(used)")
                    }
                    subnets.append(subnet)
                }
                guard !subnets.isEmpty else { throw fail(fields["subnets"], "\(what): no subnets (expected at least one)") }
                let isInternal = try fields["internal"].map { try boolean($0, "\(what): internal") } ?? false
                networkNodes[networkName] = item
                networks.append(.init(name: networkName, subnets: subnets, internal: isInternal))
            }
        }

        // containers
        var containers: [LabTopology.Container] = []
        var containerNodes: [String: Node] = [:]
        if let list = top["containers"] {
            for item in try sequence(list, "containers") {
                let fields = try mapping(item, "container", allowed: ["name", "host", "networks", "image"], required: ["name", "host"])
                let containerName = try nodeName(fields["name"]!, "container")
                let what = "container \"\(containerName)\""
                guard containerNodes[containerName] == nil else { throw fail(item, "\(what) is defined twice") }
                let hostNode = fields["host"]!
                let host = try string(hostNode, "\(what): host")
                guard hosts.contains(where: { $0.name == host }) else {
                    throw fail(hostNode, "\(what): host \"\(host)\" is not defined (expected one of \(hosts.map(\.name).joined(separator: ", ")))")
                }
                var attached: [String] = []
                if let list = fields["networks"] {
                    for node in try sequence(list, "\(what): networks") {
                        let network = try string(node, "\(what): network")
                        guard networkNodes[network] != nil else {
                            let known = networks.map(\.name)
                            throw fail(node, "\(what): network \"\(network)\" is not defined (expected \(known.isEmpty ? "a network under networks:" : "one of " + known.joined(separator: ", ")))")
                        }
                        guard !attached.contains(network) else { throw fail(node, "\(what): network \"\(network)\" is listed twice") }
                        attached.append(network)
                    }
                }
                let image = try fields["image"].map { try string($0, "\(what): image") }
                containerNodes[containerName] = item
                containers.append(.init(name: containerName, host: host, networks: attached, image: image))
            }
        }

        let topology = LabTopology(name: name, etcd: etcd, segments: segments, routers: routers, hosts: hosts,
                                   networks: networks, containers: containers)
        try checkRoom(topology, segmentNodes)
        try checkReach(topology, nodeLines)
        return topology
    }

    /// Routers take .1, .2, … of a segment and hosts and etcd members .11 on: all must fit.
    private func checkRoom(_ topology: LabTopology, _ segmentNodes: [String: Node]) throws {
        for segment in topology.segments {
            let routers = topology.routers.filter { $0.segments.contains(segment.name) }.count
            let others = topology.hosts.filter { $0.segment == segment.name }.count
                + (topology.etcd.segment == segment.name ? topology.etcd.members : 0)
            let usable = segment.subnet.size - 2
            guard routers <= 10, others == 0 || UInt128(10 + others) <= usable else {
                throw fail(segmentNodes[segment.name], "segment \"\(segment.name)\": subnet \(segment.subnet) has no room for \(routers) router(s) from .1 and \(others) host(s) from .11")
            }
        }
    }

    /// Every host must reach every other host and etcd over the routed segments. Routers
    /// join segments both ways, so reaching the first host and etcd is enough.
    private func checkReach(_ topology: LabTopology, _ nodeLines: [String: Node]) throws {
        let distances = LabRouting(topology).distances
        let first = topology.hosts[0]
        for host in topology.hosts {
            for (other, segment) in [(first.name, first.segment), ("etcd", topology.etcd.segment)]
            where distances[host.segment]?[segment] == nil {
                throw fail(nodeLines[host.name], "host \"\(host.name)\": segment \"\(host.segment)\" has no route to \(other)'s segment \"\(segment)\" (expected a router joining them)")
            }
        }
    }

    // MARK: Node readers

    private func mapping(_ node: Node, _ what: String, allowed: [String], required: [String]) throws -> [String: Node] {
        guard case .mapping(let mapping) = node else { throw fail(node, "\(what): expected a mapping (key: value)") }
        var fields: [String: Node] = [:]
        for (keyNode, value) in mapping {
            guard case .scalar(let key) = keyNode else { throw fail(keyNode, "\(what): keys must be plain words") }
            guard allowed.contains(key.string) else {
                throw fail(keyNode, "\(what): unknown key \"\(key.string)\" (expected \(allowed.joined(separator: ", ")))")
            }
            guard fields[key.string] == nil else { throw fail(keyNode, "\(what): key \"\(key.string)\" appears twice") }
            if case .alias = value { throw fail(value, "\(what): \(key.string): aliases are not taken (write the value out)") }
            fields[key.string] = value
        }
        for key in required where fields[key] == nil {
            throw fail(node, "\(what): missing \"\(key)\"")
        }
        return fields
    }

    private func sequence(_ node: Node, _ what: String) throws -> [Node] {
        guard case .sequence(let sequence) = node else { throw fail(node, "\(what): expected a list ([a, b] or lines starting with -)") }
        return Array(sequence)
    }

    private func string(_ node: Node, _ what: String) throws -> String {
        guard case .scalar(let scalar) = node else { throw fail(node, "\(what): expected a single value") }
        return scalar.string
    }

    private func integer(_ node: Node, _ what: String) throws -> Int {
        let text = try string(node, what)
        guard let value = Int(text) else { throw fail(node, "\(what): \"\(text)\" is not a whole number") }
        return value
    }

    private func boolean(_ node: Node, _ what: String) throws -> Bool {
        switch try string(node, what) {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        case let text: throw fail(node, "\(what): \"\(text)\" is not true or false")
        }
    }

    /// Names become namespace and interface names (`<lab>-<node>`, a switch port named
    /// after its node, a router's leg named after its segment), so they are short and plain.
    private func nodeName(_ node: Node, _ what: String) throws -> String {
        let value = try string(node, "\(what) name")
        guard value.utf8.count <= 12, isName(value) else {
            throw fail(node, "\(what) name \"\(value)\" is not 1 to 12 letters or digits starting with a letter")
        }
        return value
    }

    private func isName(_ value: String) -> Bool {
        let letters = UInt8(ascii: "a")...UInt8(ascii: "z"), digits = UInt8(ascii: "0")...UInt8(ascii: "9")
        let isLetter = { (byte: UInt8) in letters.contains(byte | 0x20) }
        guard let first = value.utf8.first, isLetter(first) else { return false }
        return value.utf8.allSatisfy { isLetter($0) || digits.contains($0) }
    }

    private func labSubnet(_ node: Node, _ what: String) throws -> IPNetwork {
        let text = try string(node, "\(what): subnet")
        guard let subnet = IPNetwork(cidr: text), subnet.isIPv4 else {
            throw fail(node, "\(what): subnet \"\(text)\" is not an IPv4 CIDR (expected e.g. 198.18.1.0/24)")
        }
        guard subnet.isSubnet else { throw fail(node, "\(what): subnet \(text) has host bits set (expected \(subnet.masked))") }
        guard LabTopology.addressRange.contains(subnet) else {
            throw fail(node, "\(what): subnet \(text) is outside \(LabTopology.addressRange) (labs use only that range)")
        }
        guard !subnet.overlaps(LabTopology.hostPool) else {
            throw fail(node, "\(what): subnet \(text) overlaps \(LabTopology.hostPool), the hosts' default address pool (expected a subnet of 198.18.0.0/16)")
        }
        return subnet
    }

    private func yamlError(_ error: YamlError) -> LabError {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            return LabError.file(file, line: mark.line, "not valid YAML: \(problem)")
        default:
            return LabError.file(file, line: nil, "not valid YAML: \(error)")
        }
    }
}
