import Netlink

/// What a topology becomes in the kernel, worked out before anything is made: a switch
/// namespace per segment holding a bridge, and per router, host and etcd member a
/// namespace with one leg (a veth) per segment it is on, its address and its routes.
///
///     demo-s-seg1 [br0: h1 h2 r1 etcd1]      demo-s-seg2 [br0: h3 r1]
///     demo-h1: seg1 198.18.1.11/24, route 198.18.2.0/24 via 198.18.1.1
///     demo-r1: seg1 198.18.1.1/24, seg2 198.18.2.1/24, ip_forward=1
public struct LabPlan: Sendable {
    public enum Role: String, Sendable { case router, host, etcd }

    /// A node's attachment to a segment.
    public struct Leg: Sendable {
        public var segment: String
        /// The node's interface, named after the segment.
        public var interface: String
        /// Its peer in the switch namespace, named after the node, a port of br0.
        public var port: String
        public var address: IPNetwork
        public var mtu: UInt32
    }

    public struct Node: Sendable {
        public var name: String
        public var role: Role
        public var namespace: String
        public var legs: [Leg]
        /// `ip route add DESTINATION via GATEWAY`, one per segment not attached.
        public var routes: [(destination: IPNetwork, gateway: IPAddress)]
        /// The address other nodes reach it at: its first leg's.
        public var address: IPAddress { legs[0].address.address }
    }

    public struct Switch: Sendable {
        public var segment: String
        public var namespace: String
    }

    public var name: String
    public var switches: [Switch]
    public var nodes: [Node]

    /// The bridge in every switch namespace.
    public static let bridgeName = "br0"

    public init(_ topology: LabTopology) {
        name = topology.name
        switches = topology.segments.map { Switch(segment: $0.name, namespace: "\(topology.name)-s-\($0.name)") }

        // Routers take .1, .2, … of each segment they join; hosts, then etcd members, .11 on.
        var nextRouter: [String: UInt128] = [:], nextHost: [String: UInt128] = [:]
        let segments = Dictionary(uniqueKeysWithValues: topology.segments.map { ($0.name, $0) })
        func leg(_ node: String, _ segmentName: String, router: Bool) -> Leg {
            let segment = segments[segmentName]!
            let offset: UInt128
            if router {
                offset = nextRouter[segmentName, default: 1]
                nextRouter[segmentName] = offset + 1
            } else {
                offset = nextHost[segmentName, default: 11]
                nextHost[segmentName] = offset + 1
            }
            let address = segment.subnet.first.advanced(by: offset)!
            return Leg(segment: segmentName, interface: segmentName, port: node,
                       address: segment.subnet.with(address: address), mtu: segment.mtu)
        }
        var nodes: [Node] = []
        for router in topology.routers {
            nodes.append(Node(name: router.name, role: .router, namespace: "\(topology.name)-\(router.name)",
                              legs: router.segments.map { leg(router.name, $0, router: true) }, routes: []))
        }
        for host in topology.hosts {
            nodes.append(Node(name: host.name, role: .host, namespace: "\(topology.name)-\(host.name)",
                              legs: [leg(host.name, host.segment, router: false)], routes: []))
        }
        for member in topology.etcdMemberNames {
            nodes.append(Node(name: member, role: .etcd, namespace: "\(topology.name)-\(member)",
                              legs: [leg(member, topology.etcd.segment, router: false)], routes: []))
        }

        // Routes: to each segment a node is not on, via the first router of the shortest path.
        let routing = LabRouting(topology)
        let routerAddress = { (router: String, segment: String) in
            nodes.first { $0.name == router }!.legs.first { $0.segment == segment }!.address.address
        }
        for index in nodes.indices {
            let attached = Set(nodes[index].legs.map(\.segment))
            for target in topology.segments where !attached.contains(target.name) {
                let best = nodes[index].legs.compactMap { leg -> (Int, String, String)? in
                    guard let distance = routing.distances[leg.segment]?[target.name],
                          let hop = routing.firstHop[leg.segment]?[target.name], hop != nodes[index].name else { return nil }
                    return (distance, leg.segment, hop)
                }.min { $0.0 < $1.0 }
                if let (_, segment, hop) = best {
                    nodes[index].routes.append((target.subnet, routerAddress(hop, segment)))
                }
            }
        }
        self.nodes = nodes
    }

    public func node(_ name: String) -> Node? { nodes.first { $0.name == name } }

    public var hosts: [Node] { nodes.filter { $0.role == .host } }
    public var etcdMembers: [Node] { nodes.filter { $0.role == .etcd } }

    /// Every namespace the underlay consists of.
    public var namespaces: [String] { switches.map(\.namespace) + nodes.map(\.namespace) }

    /// What every namespace of a lab called `name` starts with, the underlay's and the
    /// sandboxes' alike: `lab down NAME` finds what a killed `lab up` left by it.
    public static func namespacePrefix(_ name: String) -> String { "\(name)-" }

    /// The namespace of a sandbox the lab makes for a container.
    public static func sandboxName(lab: String, container: String) -> String { "\(lab)-c-\(container)" }
}

/// Segments as a graph whose edges are routers: how many router hops from one segment to
/// another, and which router on the first takes the first hop.
struct LabRouting {
    var distances: [String: [String: Int]] = [:]
    var firstHop: [String: [String: String]] = [:]

    init(_ topology: LabTopology) {
        for source in topology.segments.map(\.name) {
            var distance = [source: 0]
            var hop: [String: String] = [:]
            var frontier = [source]
            while !frontier.isEmpty {
                var next: [String] = []
                for segment in frontier {
                    for router in topology.routers where router.segments.contains(segment) {
                        for other in router.segments where distance[other] == nil {
                            distance[other] = distance[segment]! + 1
                            hop[other] = segment == source ? router.name : hop[segment]
                            next.append(other)
                        }
                    }
                }
                frontier = next
            }
            distances[source] = distance
            firstHop[source] = hop
        }
    }
}
