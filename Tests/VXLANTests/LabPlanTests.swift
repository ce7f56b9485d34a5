import Netlink
import Testing
@testable import VXLAN

/// What a topology becomes, worked out before anything is made: addresses, routes over
/// several routers, namespace and interface names.
@Suite struct LabPlanTests {
    static let quorum = """
        name: q
        etcd: { members: 3, segment: core }
        segments:
          - { name: core, subnet: 198.18.10.0/24 }
          - { name: edge1, subnet: 198.18.11.0/24 }
          - { name: edge2, subnet: 198.18.12.0/28 }
        routers:
          - { name: r1, segments: [core, edge1] }
          - { name: r2, segments: [core, edge2] }
        hosts:
          - { name: h1, segment: edge1 }
          - { name: h2, segment: edge2 }
          - { name: h3, segment: core }
        """

    @Test func addressesRoutersFromOneHostsAndEtcdFromEleven() throws {
        let plan = LabPlan(try LabTopology.parse(Self.quorum, file: "q.yaml"))
        #expect(plan.node("r1")?.legs.map(\.address.description) == ["198.18.10.1/24", "198.18.11.1/24"])
        #expect(plan.node("r2")?.legs.map(\.address.description) == ["198.18.10.2/24", "198.18.12.1/28"])
        #expect(plan.node("h3")?.address.description == "198.18.10.11")
        #expect(plan.etcdMembers.map(\.address.description) == ["198.18.10.12", "198.18.10.13", "198.18.10.14"])
        #expect(plan.node("h2")?.namespace == "q-h2")
        #expect(plan.switches.map(\.namespace) == ["q-s-core", "q-s-edge1", "q-s-edge2"])
        #expect(plan.node("r2")?.legs.map(\.interface) == ["core", "edge2"])
    }

    @Test func routesTakeTheFirstRouterOfTheShortestPath() throws {
        let plan = LabPlan(try LabTopology.parse(Self.quorum, file: "q.yaml"))
        let routes = { (node: String) in
            Dictionary(uniqueKeysWithValues: plan.node(node)!.routes.map { ($0.destination.description, $0.gateway.description) })
        }
        // h1 (edge1) reaches edge2 through r1, then r2.
        #expect(routes("h1") == ["198.18.10.0/24": "198.18.11.1", "198.18.12.0/28": "198.18.11.1"])
        #expect(routes("h3") == ["198.18.11.0/24": "198.18.10.1", "198.18.12.0/28": "198.18.10.2"])
        // A router reaches what it is not on through the other router, never itself.
        #expect(routes("r1") == ["198.18.12.0/28": "198.18.10.2"])
        #expect(routes("r2") == ["198.18.11.0/24": "198.18.10.1"])
    }

    @Test func defaultsAndNames() throws {
        let topology = try LabTopology.parse("""
            name: d1
            segments: [{ name: s1, subnet: 198.18.5.0/24 }]
            hosts: [{ name: h1, segment: s1 }]
            """, file: "d.yaml")
        #expect(topology.etcd == LabTopology.Etcd(members: 1, segment: "s1", tls: true))
        #expect(topology.etcdMemberNames == ["etcd1"])
        #expect(throws: LabError.self) {
            try LabTopology.parse("name: d1\nsegments: [{ name: s1, subnet: 198.18.5.0/24 }]\nhosts: [{ name: etcd1, segment: s1 }]\n", file: "d.yaml")
        }
    }

    @Test(arguments: [
        ("name: toolongname\nsegments: [{ name: s1, subnet: 198.18.5.0/24 }]\nhosts: [{ name: h1, segment: s1 }]", "d.yaml:1: lab name \"toolongname\" is not 1 to 8 letters or digits starting with a letter"),
        ("name: d1\nsegments: [{ name: s1, subnet: 198.19.5.0/24 }]\nhosts: [{ name: h1, segment: s1 }]",
         "d.yaml:2: segment \"s1\": subnet 198.19.5.0/24 overlaps 198.19.0.0/16, the hosts' default address pool"),
        ("name: d1\nsegments: [{ name: s1, subnet: 198.18.5.1/24 }]\nhosts: [{ name: h1, segment: s1 }]",
         "d.yaml:2: segment \"s1\": subnet 198.18.5.1/24 has host bits set (expected 198.18.5.0/24)"),
        ("name: d1\nsegments: [{ name: s1, subnet: 198.18.5.0/24 }]\nhosts: [{ name: h1, segment: s1 }]\nrouters: [{ name: r1, segments: [s1] }]",
         "d.yaml:4: router \"r1\": joins 1 segment(s) (expected at least 2)"),
        ("name: d1\nsegments: [{ name: s1, subnet: 198.18.5.0/24 }]\nhosts: [{ name: h1, segment: s1 }, { name: h1, segment: s1 }]",
         "d.yaml:3: host \"h1\": the name \"h1\" is already taken (line 3)"),
        ("name: d1\nsegments: [{ name: s1, subnet: 198.18.5.0/24 }]\nhosts: [{ name: h1, segment: s1 }]\nnetworks: [{ name: n, subnets: ["
         + (0..<20).map { "198.18.\(100 + $0 / 256).\($0 % 256)/32" }.joined(separator: ",") + "] }]",
         "d.yaml:4: network \"n\": subnets: 20 entries (expected at most 16)"),
    ])
    func refusedNamingTheLine(_ text: String, _ message: String) {
        #expect(throws: LabError.self) { try LabTopology.parse(text, file: "d.yaml") }
        do {
            _ = try LabTopology.parse(text, file: "d.yaml")
        } catch {
            #expect("\(error)".hasPrefix(message), "\(error)")
        }
    }
}
