import Foundation
import Netlink
import TestSupport
import Testing
@testable import VXLAN

/// Two "hosts" (network namespaces) joined by a veth underlay, 198.18.0.1 and 198.18.0.2,
/// and sandboxes to attach to overlays built on them. Every overlay namespace the lab made
/// is removed when the body ends, then the hosts and sandboxes.
private final class Lab {
    let hosts: [TestNamespace]
    let sandboxes: [TestNamespace]
    let vteps = [IPAddress("198.18.0.1")!, IPAddress("198.18.0.2")!]
    static let underlayMTU: UInt32 = 1500
    private(set) var overlays: [OverlayPlan] = []

    private init(hosts: [TestNamespace], sandboxes: [TestNamespace]) throws {
        self.hosts = hosts
        self.sandboxes = sandboxes
        // ip link add ul0 up type veth peer name ul0 netns HOST2; addresses on both ends
        let one = try hosts[0].session(), two = try hosts[1].session()
        try one.linkAdd(LinkSpec(name: "ul0", kind: .veth(peer: VethPeer(name: "ul0", namespace: hosts[1].namespace)),
                                 mtu: Self.underlayMTU, up: true))
        try one.addressAdd(IPNetwork(address: vteps[0], prefixLength: 24), interface: try one.index(of: .name("ul0")))
        let peer = try two.index(of: .name("ul0"))
        try two.linkSet(.index(peer), up: true, mtu: Self.underlayMTU)
        try two.addressAdd(IPNetwork(address: vteps[1], prefixLength: 24), interface: peer)
    }

    static func with(sandboxes: Int, _ body: (Lab) throws -> Void) throws {
        try withTestNamespaces(2 + sandboxes, prefix: "ncdp") { namespaces in
            let lab = try Lab(hosts: Array(namespaces[..<2]), sandboxes: Array(namespaces[2...]))
            defer { lab.removeOverlays() }
            try body(lab)
        }
    }

    /// An overlay network's plan on `host`: subnets as (VNI, subnet, gateway).
    func plan(on host: Int, _ subnets: [(UInt32, String, String)]) -> OverlayPlan {
        OverlayPlan(namespace: uniqueName("ncdpov"), marker: "netctl-test-overlay",
                    subnets: subnets.map { OverlaySubnetPlan(vni: $0.0, subnet: IPNetwork(cidr: $0.1)!, gateway: IPAddress($0.2)!) },
                    mtu: OverlayDataPlane.mtu(underlayMTU: Self.underlayMTU), vtep: vteps[host])
    }

    /// Builds the plan on its host (the one whose VTEP it names).
    @discardableResult
    func ensure(_ plan: OverlayPlan) throws -> OverlayPlan {
        overlays.append(plan)
        try OverlayDataPlane.ensure(plan, host: try hosts[vteps.firstIndex(of: plan.vtep)!].session())
        return plan
    }

    func overlay(on host: Int, _ subnets: [(UInt32, String, String)]) throws -> OverlayPlan {
        try ensure(plan(on: host, subnets))
    }

    /// Attaches sandbox `index` as eth0 with `address`, and returns it as the peer other
    /// hosts program.
    func attach(_ index: Int, to plan: OverlayPlan, address: String, subnet: Int = 0) throws -> OverlayPeer {
        let network = IPNetwork(cidr: address)!
        let mac = MACAddress(derivedFrom: network.address)
        try OverlayDataPlane.attach(OverlayAttachment(hostEnd: "veth\(index)", sandboxInterface: "eth0", mac: mac,
                                                      address: network, subnetIndex: subnet),
                                    plan: plan, sandbox: sandboxes[index].namespace)
        return OverlayPeer(mac: mac, address: network.address, vtep: plan.vtep, subnetIndex: subnet)
    }

    /// One echo from sandbox `index`: its exit status and output (with the reply's ttl).
    func ping(from index: Int, _ peer: OverlayPeer, extra: [String] = []) throws -> CommandResult {
        try sandboxes[index].run(["ping", "-n", "-c", "1", "-W", "2"] + extra + [peer.address.description])
    }

    /// A command inside an overlay namespace.
    func run(in plan: OverlayPlan, _ arguments: [String]) throws -> CommandResult {
        try runCommand(["ip", "netns", "exec", plan.namespace] + arguments)
    }

    private func removeOverlays() {
        for plan in overlays { try? OverlayDataPlane.remove(plan) }
    }
}

private let web = [(UInt32(4242), "198.18.100.0/24", "198.18.100.1")]

@Suite("Overlay data plane", .serialized)
struct DataPlaneTests {
    @Test func mtuLeavesRoomForVXLAN() {
        #expect(OverlayDataPlane.mtu(underlayMTU: 1500) == 1450)
        #expect(OverlayDataPlane.mtu(underlayMTU: 9000) == 8950)
    }

    @Test func sandboxesOnTwoHostsReachEachOtherInOneHop() throws {
        try Lab.with(sandboxes: 2) { lab in
            let one = try lab.overlay(on: 0, web), two = try lab.overlay(on: 1, web)
            let a = try lab.attach(0, to: one, address: "198.18.100.2/24")
            let b = try lab.attach(1, to: two, address: "198.18.100.3/24")

            // No peers programmed: nothing floods, so nothing arrives.
            #expect(try lab.ping(from: 0, b).status != 0)
            #expect(!(try lab.run(in: one, ["bridge", "fdb", "show", "dev", "vxlan0"]).stdout.contains("00:00:00:00:00:00")))
            // The failed ping leaves an unresolved ARP entry that would fail the next echo at
            // once: ip neigh flush dev eth0.
            _ = try lab.sandboxes[0].run(["ip", "neigh", "flush", "dev", "eth0"])

            #expect(try OverlayDataPlane.program(one, peers: [b]) == (added: 1, removed: 0))
            #expect(try OverlayDataPlane.program(two, peers: [a]) == (added: 1, removed: 0))
            let reply = try lab.ping(from: 0, b)
            #expect(reply.status == 0, "\(reply.stdout)\(reply.stderr)")
            #expect(reply.stdout.contains("ttl=64"), "one hop: \(reply.stdout)")
            #expect(try lab.ping(from: 1, a).status == 0)

            // The VTEP's UDP socket is bound in the host namespace, none in the overlay's.
            #expect(try lab.hosts[0].run(["ss", "-Hlun"]).stdout.contains(":4789"))
            #expect(!(try lab.run(in: one, ["ss", "-Hlun"]).stdout.contains(":4789")))

            // What the kernel holds: a VTEP as planned, a port of br0; lo marked.
            let session = try NetlinkSession(in: try NetworkNamespace.open(named: one.namespace))
            let vtep = try #require(try session.link(.name("vxlan0")))
            #expect(vtep.vxlan == VXLANOptions(vni: 4242, local: lab.vteps[0], port: 4789, learning: false, proxy: true,
                                               ttl: vtep.vxlan?.ttl))
            #expect(vtep.masterIndex == (try session.index(of: .name("br0"))))
            #expect(vtep.mtu == 1450)
            #expect(try session.link(.name("lo"))?.alias == "netctl-test-overlay")
            #expect(try lab.run(in: one, ["sysctl", "-n", "net.ipv4.ip_forward"]).stdout.hasPrefix("1"))
        }
    }

    @Test func programLeavesRightEntriesAloneAndRemovesStaleOnes() throws {
        try Lab.with(sandboxes: 2) { lab in
            let one = try lab.overlay(on: 0, web), two = try lab.overlay(on: 1, web)
            let a = try lab.attach(0, to: one, address: "198.18.100.2/24")
            let b = try lab.attach(1, to: two, address: "198.18.100.3/24")
            let gone = OverlayPeer(mac: MACAddress("02:42:c6:12:64:63")!, address: IPAddress("198.18.100.99")!,
                                   vtep: lab.vteps[1], subnetIndex: 0)
            try OverlayDataPlane.program(two, peers: [a])

            #expect(try OverlayDataPlane.program(one, peers: [b, gone]) == (added: 2, removed: 0))
            #expect(try OverlayDataPlane.installedPeers(one) == [b, gone])
            #expect(try OverlayDataPlane.program(one, peers: [b, gone]) == (added: 0, removed: 0))

            #expect(try OverlayDataPlane.program(one, peers: [b]) == (added: 0, removed: 1))
            #expect(try OverlayDataPlane.installedPeers(one) == [b])
            let fdb = try lab.run(in: one, ["bridge", "fdb", "show", "dev", "vxlan0"]).stdout
            #expect(!fdb.contains("02:42:c6:12:64:63"), "\(fdb)")
            // (`link-netnsid 0`: the VTEP's UDP side is in the host namespace.)
            #expect(fdb.contains("\(b.mac) dst 198.18.0.2 link-netnsid 0 self permanent"), "\(fdb)")
            #expect(!(try lab.run(in: one, ["ip", "neigh", "show", "dev", "vxlan0"]).stdout.contains("198.18.100.99")))
            #expect(try lab.ping(from: 0, b).status == 0)

            // A peer whose VTEP moved keeps one destination only: the new one.
            var moved = b
            moved.vtep = IPAddress("198.18.0.9")!
            #expect(try OverlayDataPlane.program(one, peers: [moved]) == (added: 1, removed: 1))
            let after = try lab.run(in: one, ["bridge", "fdb", "show", "dev", "vxlan0"]).stdout
            #expect(after.contains("dst 198.18.0.9") && !after.contains("dst 198.18.0.2"), "\(after)")

            // An all-zeros destination (flooding) put there by hand is taken away.
            _ = try lab.run(in: one, ["bridge", "fdb", "append", "00:00:00:00:00:00", "dev", "vxlan0", "dst", "198.18.0.2"])
            try OverlayDataPlane.program(one, peers: [b])
            #expect(!(try lab.run(in: one, ["bridge", "fdb", "show", "dev", "vxlan0"]).stdout.contains("00:00:00:00:00:00")))
            // The failed ping leaves an unresolved ARP entry that would fail the next echo at
            // once: ip neigh flush dev eth0.
            _ = try lab.sandboxes[0].run(["ip", "neigh", "flush", "dev", "eth0"])
            #expect(try lab.ping(from: 0, b).status == 0)
        }
    }

    @Test func ensureIsIdempotentAndCompletesAPartialNetwork() throws {
        try Lab.with(sandboxes: 0) { lab in
            let plan = try lab.overlay(on: 0, web)
            let session = try NetlinkSession(in: try NetworkNamespace.open(named: plan.namespace))
            let before = try session.links().map(\.index).sorted()
            try lab.ensure(plan)
            #expect(try session.links().map(\.index).sorted() == before)

            // ip link del vxlan0 (a crash, a hand): ensure makes it again, a port of br0.
            try session.linkDelete(.name("vxlan0"))
            try lab.ensure(plan)
            #expect(try session.link(.name("vxlan0"))?.masterIndex == (try session.index(of: .name("br0"))))
            #expect(try lab.hosts[0].run(["ss", "-Hlun"]).stdout.contains(":4789"))
        }
    }

    @Test func twoSubnetsRouteBetweenEachOtherAcrossHosts() throws {
        let subnets: [(UInt32, String, String)] = [(301, "198.18.110.0/24", "198.18.110.1"), (302, "198.18.111.0/24", "198.18.111.1")]
        try Lab.with(sandboxes: 2) { lab in
            let one = try lab.overlay(on: 0, subnets), two = try lab.overlay(on: 1, subnets)
            let a = try lab.attach(0, to: one, address: "198.18.110.2/24", subnet: 0)
            let b = try lab.attach(1, to: two, address: "198.18.111.3/24", subnet: 1)
            try OverlayDataPlane.program(one, peers: [b])
            try OverlayDataPlane.program(two, peers: [a])
            let reply = try lab.ping(from: 0, b)
            #expect(reply.status == 0, "\(reply.stdout)\(reply.stderr)")
            #expect(try lab.ping(from: 1, a).status == 0)
            // The sandbox routes the other subnet via its own gateway; no default route.
            let routes = try lab.sandboxes[0].run(["ip", "route", "show"]).stdout
            #expect(routes.contains("198.18.111.0/24 via 198.18.110.1 dev eth0"), "\(routes)")
            #expect(!routes.contains("default"), "\(routes)")
        }
    }

    @Test func overlaysWithDifferentVNIsAreIsolated() throws {
        let red = [(UInt32(501), "198.18.120.0/24", "198.18.120.1")]
        let blue = [(UInt32(502), "198.18.120.0/24", "198.18.120.1")]
        try Lab.with(sandboxes: 3) { lab in
            let red1 = try lab.overlay(on: 0, red), red2 = try lab.overlay(on: 1, red)
            let blue1 = try lab.overlay(on: 0, blue), blue2 = try lab.overlay(on: 1, blue)
            let a = try lab.attach(0, to: red1, address: "198.18.120.2/24")
            let b = try lab.attach(1, to: red2, address: "198.18.120.3/24")
            let c = try lab.attach(2, to: blue2, address: "198.18.120.4/24")
            // Red on host 1 is even told where blue's sandbox is: its frames still carry red's
            // VNI, which host 2 delivers only into red.
            try OverlayDataPlane.program(red1, peers: [b, c])
            try OverlayDataPlane.program(red2, peers: [a])
            try OverlayDataPlane.program(blue2, peers: [a])
            try OverlayDataPlane.program(blue1, peers: [])
            #expect(try lab.ping(from: 0, b).status == 0)
            #expect(try lab.ping(from: 0, c).status != 0)
            #expect(try lab.ping(from: 2, a).status != 0)
        }
    }

    @Test func fullMTUPassesWithDontFragmentAndOneByteMoreDoesNot() throws {
        try Lab.with(sandboxes: 2) { lab in
            let one = try lab.overlay(on: 0, web), two = try lab.overlay(on: 1, web)
            let a = try lab.attach(0, to: one, address: "198.18.100.2/24")
            let b = try lab.attach(1, to: two, address: "198.18.100.3/24")
            try OverlayDataPlane.program(one, peers: [b])
            try OverlayDataPlane.program(two, peers: [a])
            let payload = Int(one.mtu) - 28 // IPv4 (20) + ICMP (8)
            let full = try lab.ping(from: 0, b, extra: ["-M", "do", "-s", "\(payload)"])
            #expect(full.status == 0, "\(full.stdout)\(full.stderr)")
            #expect(try lab.ping(from: 0, b, extra: ["-M", "do", "-s", "\(payload + 1)"]).status != 0)
        }
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/tcpdump")))
    func theUnderlayCarriesStandardVXLAN() throws {
        try Lab.with(sandboxes: 2) { lab in
            let one = try lab.overlay(on: 0, web), two = try lab.overlay(on: 1, web)
            let a = try lab.attach(0, to: one, address: "198.18.100.2/24")
            let b = try lab.attach(1, to: two, address: "198.18.100.3/24")
            try OverlayDataPlane.program(one, peers: [b])
            try OverlayDataPlane.program(two, peers: [a])

            // tcpdump on host 2's underlay, bounded by `timeout`; pings until it has its packet.
            let capture = Process()
            capture.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            capture.arguments = ["ip", "netns", "exec", lab.hosts[1].name,
                                 "timeout", "10", "tcpdump", "-c1", "-nv", "-i", "ul0", "udp", "port", "4789"]
            let output = Pipe()
            capture.standardOutput = output
            capture.standardError = FileHandle.nullDevice
            try capture.run()
            // SIGKILL: a child of the test runner inherits its blocked SIGTERM.
            defer { if capture.isRunning { kill(capture.processIdentifier, SIGKILL); capture.waitUntilExit() } }
            for _ in 0..<20 where capture.isRunning { _ = try lab.ping(from: 0, b) }
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            capture.waitUntilExit()
            #expect(text.contains("VXLAN"), "\(text)")
            #expect(text.contains("vni 4242"), "\(text)")
        }
    }

    @Test func badPlansAreRefusedWithNothingMade() throws {
        try Lab.with(sandboxes: 0) { lab in
            let outOfRange = lab.plan(on: 0, [(0, "198.18.100.0/24", "198.18.100.1")])
            let error = #expect(throws: DataPlaneError.self) { try lab.ensure(outOfRange) }
            #expect(error?.description.contains("VNI 0 out of range") == true, "\(String(describing: error))")
            #expect(!OverlayDataPlane.exists(outOfRange))

            let gatewayOutside = lab.plan(on: 0, [(7, "198.18.100.0/24", "198.18.101.1")])
            #expect(throws: DataPlaneError.self) { try lab.ensure(gatewayOutside) }
            #expect(!OverlayDataPlane.exists(gatewayOutside))

            // A VNI another overlay of this host holds.
            try lab.overlay(on: 0, web)
            let taken = lab.plan(on: 0, [(4242, "198.18.130.0/24", "198.18.130.1")])
            let clash = #expect(throws: DataPlaneError.self) { try lab.ensure(taken) }
            #expect(clash?.description.contains("VNI 4242") == true, "\(String(describing: clash))")
            #expect(!OverlayDataPlane.exists(taken))
        }
    }

    @Test func aNamespaceNotMarkedAsTheOverlaysIsLeftAlone() throws {
        try Lab.with(sandboxes: 1) { lab in
            var plan = lab.plan(on: 0, web)
            plan.namespace = lab.sandboxes[0].name
            let host = try lab.hosts[0].session()
            let error = #expect(throws: DataPlaneError.self) { try OverlayDataPlane.ensure(plan, host: host) }
            #expect(error?.description.contains("exists marked by nothing") == true, "\(String(describing: error))")
            #expect(try lab.sandboxes[0].session().link(.name("br0")) == nil)
        }
    }

    @Test func anIPv6OverlayOnAnIPv4Underlay() throws {
        let v6 = [(UInt32(606), "2001:db8:600::/64", "2001:db8:600::1")]
        try Lab.with(sandboxes: 2) { lab in
            let one = try lab.overlay(on: 0, v6), two = try lab.overlay(on: 1, v6)
            let a = try lab.attach(0, to: one, address: "2001:db8:600::2/64")
            let b = try lab.attach(1, to: two, address: "2001:db8:600::3/64")
            try OverlayDataPlane.program(one, peers: [b])
            try OverlayDataPlane.program(two, peers: [a])
            #expect(try OverlayDataPlane.installedPeers(one) == [b])
            let reply = try lab.ping(from: 0, b)
            #expect(reply.status == 0, "\(reply.stdout)\(reply.stderr)")
            #expect(reply.stdout.contains("ttl=64"), "one hop: \(reply.stdout)")
        }
    }

    @Test func aThousandPeersAreProgrammedAndAResyncWritesNothing() throws {
        try Lab.with(sandboxes: 2) { lab in
            let subnet = [(UInt32(700), "198.18.64.0/18", "198.18.64.1")]
            let one = try lab.overlay(on: 0, subnet), two = try lab.overlay(on: 1, subnet)
            let a = try lab.attach(0, to: one, address: "198.18.64.2/18")
            let b = try lab.attach(1, to: two, address: "198.18.64.3/18")
            let many = Set((0..<999).map { offset in
                let address = IPAddress("198.18.80.0")!.advanced(by: UInt128(offset))!
                return OverlayPeer(mac: MACAddress(derivedFrom: address), address: address, vtep: lab.vteps[1], subnetIndex: 0)
            })
            #expect(try OverlayDataPlane.program(one, peers: many.union([b])) == (added: 1000, removed: 0))
            #expect(try OverlayDataPlane.installedPeers(one).count == 1000)
            try OverlayDataPlane.program(two, peers: [a])

            // ip monitor neigh in the overlay namespace: a resync sends the kernel nothing to
            // change, so it announces nothing. A probe peer added and removed tells when the
            // monitor listens; added once more, it marks the resync's end in the stream.
            let log = NSTemporaryDirectory() + uniqueName("netctl-monitor-")
            FileManager.default.createFile(atPath: log, contents: nil)
            defer { try? FileManager.default.removeItem(atPath: log) }
            let monitor = Process()
            monitor.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            monitor.arguments = ["ip", "netns", "exec", one.namespace, "ip", "monitor", "neigh"]
            monitor.standardOutput = FileHandle(forWritingAtPath: log)
            monitor.standardError = FileHandle.nullDevice
            try monitor.run()
            // SIGKILL: a child of the test runner inherits its blocked SIGTERM.
            defer { kill(monitor.processIdentifier, SIGKILL); monitor.waitUntilExit() }
            let seen = { String(decoding: FileManager.default.contents(atPath: log) ?? Data(), as: UTF8.self) }
            let probe = OverlayPeer(mac: MACAddress("02:42:c6:12:7f:fe")!, address: IPAddress("198.18.127.254")!,
                                    vtep: lab.vteps[1], subnetIndex: 0)
            for _ in 0..<100 where !seen().contains("Deleted 198.18.127.254") {
                try OverlayDataPlane.program(one, peers: many.union([b, probe]))
                try OverlayDataPlane.program(one, peers: many.union([b]))
                usleep(20_000)
            }
            let probeAdded = "198.18.127.254 dev vxlan0 lladdr 02:42:c6:12:7f:fe PERMANENT"
            let addsBefore = seen().components(separatedBy: probeAdded).count
            #expect(try OverlayDataPlane.program(one, peers: many.union([b])) == (added: 0, removed: 0))
            try OverlayDataPlane.program(one, peers: many.union([b, probe]))
            for _ in 0..<100 where seen().components(separatedBy: probeAdded).count == addsBefore { usleep(20_000) }
            let stream = seen()
            let lastDelete = try #require(stream.range(of: "Deleted 198.18.127.254", options: .backwards))
            // Entries program writes are permanent ones (the kernel's own, FAILED or STALE, are not).
            let writes = stream[lastDelete.upperBound...].split(separator: "\n").dropFirst().filter { $0.contains("PERMANENT") }
            #expect(!writes.isEmpty, "\(stream.suffix(500))")
            #expect(writes.allSatisfy { $0.contains("02:42:c6:12:7f:fe") }, "only the probe after the resync: \(writes)")
            let reply = try lab.ping(from: 0, b)
            #expect(reply.status == 0, "\(reply.stdout)")
        }
    }

    @Test func removeAndDetachLeaveNothing() throws {
        try Lab.with(sandboxes: 1) { lab in
            let plan = try lab.overlay(on: 0, web)
            _ = try lab.attach(0, to: plan, address: "198.18.100.2/24")
            try OverlayDataPlane.detach(hostEnd: "veth0", plan: plan)
            #expect(try lab.sandboxes[0].session().link(.name("eth0")) == nil)
            try OverlayDataPlane.detach(hostEnd: "veth0", plan: plan)

            try OverlayDataPlane.remove(plan)
            #expect(!OverlayDataPlane.exists(plan))
            // The VNI and port are free again at once: the same overlay builds anew.
            try lab.ensure(plan)
            #expect(OverlayDataPlane.exists(plan))
        }
    }
}
