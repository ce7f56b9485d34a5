import Foundation
import Netlink
import TestSupport
import Testing

@Suite("netctl: real packets between sandboxes")
struct ConnectivityTests {
    @Test func twoSandboxesOnABridgeReachEachOtherAndTheGatewayOverIPv4AndIPv6() throws {
        try withNetctl { netctl in
            try netctl.ok("network", "create", "--ipv6", "--subnet", "198.18.10.0/24", "--subnet", "2001:db8:10::/64", "web")
            let a = try netctl.makeSandbox(), b = try netctl.makeSandbox()
            try netctl.ok("network", "connect", "web", a)
            try netctl.ok("network", "connect", "--ip", "198.18.10.50", "--ip6", "2001:db8:10::50", "web", b)

            #expect(try netctl.ping(from: a, "198.18.10.50"))
            #expect(try netctl.ping(from: b, "198.18.10.2"))
            #expect(try netctl.ping(from: a, "198.18.10.1"))
            #expect(try netctl.ping(from: a, "2001:db8:10::50"))
            #expect(try netctl.ping(from: b, "2001:db8:10::1"))

            // The sandbox's default routes go through the network's gateways.
            let routes = try runCommand(["ip", "netns", "exec", a, "ip", "-4", "route", "show", "default"]).stdout
            #expect(routes.contains("via 198.18.10.1 dev eth0"))

            // After disconnect the address no longer answers and the interface is gone.
            try netctl.ok("network", "disconnect", "web", b)
            #expect(try netctl.links(in: b) == ["lo"])
            #expect(try !netctl.ping(from: a, "198.18.10.50"))
        }
    }

    @Test func twoSandboxesOnAMacvlanNetworkOverAVethParentReachEachOther() throws {
        try withNetctl { netctl in
            // The parent: one end of a veth pair inside the test's host namespace.
            let session = try netctl.host.session()
            try session.linkAdd(LinkSpec(name: "mvparent0", kind: .veth(peer: VethPeer(name: "mvpeer0")), up: true))
            try session.linkSet(.name("mvpeer0"), up: true)
            try netctl.ok("network", "create", "-d", "macvlan", "--subnet", "198.18.20.0/24", "-o", "parent=mvparent0", "mv")
            let a = try netctl.makeSandbox(), b = try netctl.makeSandbox()
            try netctl.ok("network", "connect", "mv", a)
            try netctl.ok("network", "connect", "mv", b)

            let inside = try #require(try NetlinkSession(in: NetworkNamespace.open(named: a)).link(.name("eth0")))
            #expect(inside.kind == "macvlan")
            #expect(inside.macvlanMode == .bridge)
            #expect(try netctl.ping(from: a, "198.18.20.3"))
            #expect(try netctl.ping(from: b, "198.18.20.2"))

            try netctl.ok("network", "disconnect", "mv", a)
            #expect(try netctl.links(in: a) == ["lo"])
        }
    }

    @Test func fiftyConcurrentConnectsGetDistinctReachableAddressesAndLeaveNothingBehind() throws {
        try withNetctl { netctl in
            try netctl.ok("network", "create", "--subnet", "198.18.30.0/24", "crowd")
            let hostLinksBefore = try netctl.hostLinks()
            let sandboxes = try (0..<50).map { _ in try netctl.makeSandbox() }

            // 50 netctl processes at once.
            let results = try runConcurrently(
                sandboxes.map { [NetctlHarness.binary, "network", "connect", "crowd", $0] }, environment: netctl.environment)
            for (index, result) in results.enumerated() {
                #expect(result.status == 0, "connect \(index): \(result.stderr)")
            }

            let inspect = try JSONSerialization.jsonObject(with: Data(try netctl.ok("network", "inspect", "crowd").utf8)) as! [[String: Any]]
            let containers = inspect[0]["Containers"] as! [String: [String: Any]]
            let addresses = containers.values.map { ($0["IPv4Address"] as! String).split(separator: "/")[0] }.map(String.init)
            #expect(addresses.count == 50)
            #expect(Set(addresses).count == 50)

            // Every one answers, from a sandbox of the same network.
            for address in addresses {
                #expect(try netctl.ping(from: sandboxes[0], address), "\(address) does not answer")
            }

            for sandbox in sandboxes { try netctl.ok("network", "disconnect", "crowd", sandbox) }
            #expect(try netctl.hostLinks() == hostLinksBefore)
            for sandbox in sandboxes { #expect(try netctl.links(in: sandbox) == ["lo"]) }
            let after = try JSONSerialization.jsonObject(with: Data(try netctl.ok("network", "inspect", "crowd").utf8)) as! [[String: Any]]
            #expect((after[0]["Containers"] as! [String: Any]).isEmpty)
        }
    }

    @Test func theDefaultRouteMovesToTheRemainingNetworkOnDisconnect() throws {
        try withNetctl { netctl in
            try netctl.ok("network", "create", "--subnet", "198.18.40.0/24", "first")
            try netctl.ok("network", "create", "--subnet", "198.18.41.0/24", "second")
            let a = try netctl.makeSandbox()
            try netctl.ok("network", "connect", "first", a)
            try netctl.ok("network", "connect", "second", a)
            #expect(try netctl.links(in: a) == ["lo", "eth0", "eth1"])
            try netctl.ok("network", "disconnect", "first", a)
            let routes = try runCommand(["ip", "netns", "exec", a, "ip", "-4", "route", "show", "default"]).stdout
            #expect(routes.contains("via 198.18.41.1 dev eth1"))
        }
    }

    @Test func internalNetworksGetNoDefaultRoute() throws {
        try withNetctl { netctl in
            try netctl.ok("network", "create", "--internal", "--subnet", "198.18.42.0/24", "inner")
            let a = try netctl.makeSandbox()
            try netctl.ok("network", "connect", "inner", a)
            let routes = try runCommand(["ip", "netns", "exec", a, "ip", "-4", "route", "show", "default"]).stdout
            #expect(routes.isEmpty)
            #expect(try netctl.ping(from: a, "198.18.42.1"))
        }
    }
}

