import Foundation
import Netlink
import NFTables
import TestSupport
import Testing

/// Published ports, masquerade and isolation with real traffic: a "host" namespace holds the
/// bridges and netctl's nftables tables, a "client" namespace reaches it over a veth as an
/// outside machine would.
@Suite("netctl: nftables firewall")
struct FirewallTests {
    func namespace(_ sandbox: String) throws -> NetworkNamespace { try NetworkNamespace.open(named: sandbox) }

    /// The host port `netctl port` reports for one container port and family.
    func hostPort(_ netctl: NetctlHarness, _ sandbox: String, _ port: String, ipv6: Bool = false) throws -> UInt16 {
        let lines = try netctl.ok("port", sandbox, port).split(separator: "\n")
        let line = try #require(lines.first { $0.hasPrefix("[") == ipv6 })
        return try #require(UInt16(line.split(separator: ":").last!))
    }

    @Test func publishedPortsAnswerAClient_tcpUdpRangesAndRandom() throws {
        try withNetctl { netctl in
            try withClient(of: netctl) { client in
                try netctl.ok("network", "create", "--ipv6", "--subnet", "198.18.30.0/24", "--subnet", "2001:db8:30::/64", "front")
                let web = try netctl.makeSandbox()
                try netctl.ok("network", "connect", "-p", "8080:80", "-p", "9000-9002:9100-9102/udp", "-p", "7000",
                              "-p", "8500-8510:81", "--expose", "6000", "-P", "front", web)
                let server = try EchoServer(in: namespace(web), name: "web", tcp: [80, 81, 7000, 6000], udp: [9100, 9101, 9102])
                defer { server.stop() }
                let outside = client.namespace.namespace

                // Single, range, range to one port, random (-p PORT and -P), over TCP and UDP.
                #expect(try roundTrip(from: outside, to: Client.hostAddress, port: 8080) == "web:80:\(Client.address)|ping")
                for (host, container) in [(9000, 9100), (9001, 9101), (9002, 9102)] {
                    #expect(try roundTrip(from: outside, to: Client.hostAddress, port: UInt16(host), udp: true)?
                        .hasPrefix("web:\(container):\(Client.address)|") == true)
                }
                #expect(try hostPort(netctl, web, "81/tcp") == 8500)
                #expect(try roundTrip(from: outside, to: Client.hostAddress, port: 8500)?.hasPrefix("web:81:") == true)
                let random = try hostPort(netctl, web, "7000/tcp")
                let exposed = try hostPort(netctl, web, "6000/tcp")
                let range = try String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)
                    .split(whereSeparator: \.isWhitespace).compactMap { UInt16($0) }
                #expect((range[0]...range[1]).contains(random) && (range[0]...range[1]).contains(exposed) && random != exposed)
                #expect(try roundTrip(from: outside, to: Client.hostAddress, port: random)?.hasPrefix("web:7000:") == true)
                #expect(try roundTrip(from: outside, to: Client.hostAddress, port: exposed)?.hasPrefix("web:6000:") == true)
                // IPv6: [::]:8080 goes to the endpoint's IPv6 address (once duplicate address
                // detection has let the new interfaces' link-local addresses be used).
                try waitForAddresses(in: [netctl.host.name, web, client.namespace.name])
                #expect(try roundTrip(from: outside, to: Client.hostAddress6, port: 8080) == "web:80:\(Client.address6)|ping")
                // A port nobody published is not forwarded.
                #expect(try roundTrip(from: outside, to: Client.hostAddress, port: 8081, timeout: 1) == nil)

                // What users read: docker port, and Docker's Ports shape in both inspects.
                let lines = try netctl.ok("port", web).split(separator: "\n").map(String.init)
                #expect(lines.contains("80/tcp -> 0.0.0.0:8080"))
                #expect(lines.contains("80/tcp -> [::]:8080"))
                #expect(lines.contains("9101/udp -> 0.0.0.0:9001"))
                let sandbox = try JSONSerialization.jsonObject(with: Data(netctl.ok("sandbox", "inspect", web).utf8)) as! [[String: Any]]
                let ports = sandbox[0]["Ports"] as! [String: [[String: String]]]
                #expect(ports["80/tcp"]!.contains(["HostIp": "0.0.0.0", "HostPort": "8080"]))
                let network = try JSONSerialization.jsonObject(with: Data(netctl.ok("network", "inspect", "front").utf8)) as! [[String: Any]]
                let container = (network[0]["Containers"] as! [String: [String: Any]]).values.first!
                #expect((container["Ports"] as! [String: [[String: String]]])["9100/udp"]! ==
                        [["HostIp": "0.0.0.0", "HostPort": "9000"], ["HostIp": "::", "HostPort": "9000"]])

                // The real nft reads netctl's ruleset.
                let json = try netctl.host.run(["nft", "-j", "list", "ruleset"])
                #expect(json.status == 0 && json.stderr.isEmpty, "\(json.stderr)")
                let parsed = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
                #expect((parsed?["nftables"] as? [Any])?.count ?? 0 > 10)
            }
        }
    }

    @Test func publishedPortsAnswerFromTheHostViaLoopback_andFromTheContainerItself() throws {
        try withNetctl { netctl in
            try withClient(of: netctl) { _ in
                try netctl.ok("network", "create", "--subnet", "198.18.31.0/24", "front")
                let web = try netctl.makeSandbox()
                try netctl.ok("network", "connect", "-p", "8080:80", "-p", "8053:53/udp", "front", web)
                let server = try EchoServer(in: namespace(web), name: "web", tcp: [80], udp: [53])
                defer { server.stop() }
                let host = netctl.host.namespace

                // From the host: 127.0.0.1 (route_localnet, masqueraded to the gateway) and its own address.
                #expect(try roundTrip(from: host, to: "127.0.0.1", port: 8080) == "web:80:198.18.31.1|ping")
                #expect(try roundTrip(from: host, to: "127.0.0.1", port: 8053, udp: true)?.hasPrefix("web:53:198.18.31.1|") == true)
                #expect(try roundTrip(from: host, to: Client.hostAddress, port: 8080)?.hasPrefix("web:80:") == true)
                // Hairpin: the container reaches its own published port through the host's
                // addresses, the gateway's included.
                let inside = try namespace(web)
                #expect(try roundTrip(from: inside, to: Client.hostAddress, port: 8080) == "web:80:198.18.31.1|ping")
                #expect(try roundTrip(from: inside, to: "198.18.31.1", port: 8080)?.hasPrefix("web:80:") == true)
            }
        }
    }

    @Test func aThousandPortsInOneChange_andRemovingThemLeavesOtherEndpointsAlone() throws {
        try withNetctl { netctl in
            try withClient(of: netctl) { client in
                try netctl.ok("network", "create", "--subnet", "198.18.32.0/24", "front")
                let big = try netctl.makeSandbox(), small = try netctl.makeSandbox()
                try netctl.ok("network", "connect", "-p", "8080:80", "front", small)
                try netctl.ok("network", "connect", "-p", "20000-20999:30000-30999", "front", big)
                #expect(try netctl.ok("port", big).split(separator: "\n").count == 1000)
                let sample: [UInt16] = [30000, 30001, 30499, 30777, 30998, 30999]
                let server = try EchoServer(in: namespace(big), name: "big", tcp: sample)
                defer { server.stop() }
                let smallServer = try EchoServer(in: namespace(small), name: "small", tcp: [80])
                defer { smallServer.stop() }
                for port in sample {
                    #expect(try roundTrip(from: client.namespace.namespace, to: Client.hostAddress, port: port - 10000)?
                        .hasPrefix("big:\(port):") == true)
                }
                #expect(try installedPorts(netctl) == 1001)

                try netctl.ok("network", "disconnect", "front", big)
                #expect(try installedPorts(netctl) == 1)
                #expect(try roundTrip(from: client.namespace.namespace, to: Client.hostAddress, port: 8080)?.hasPrefix("small:80:") == true)
            }
        }
    }

    /// Waits (at most 5 s) until no IPv6 address in these namespaces is still tentative.
    func waitForAddresses(in namespaces: [String]) throws {
        for _ in 0..<50 {
            let tentative = try namespaces.contains { name in
                try !runCommand(["ip", "-n", name, "-6", "addr", "show", "tentative"]).stdout.isEmpty
            }
            if !tentative { return }
            usleep(100_000)
        }
    }

    /// Elements of netctl's published-port maps, read with the NFTables reader.
    func installedPorts(_ netctl: NetctlHarness) throws -> Int {
        let session = try NFTablesSession(in: netctl.host.namespace)
        let table = try #require(try session.tables().first { $0.family == .inet && $0.name.hasPrefix("netctl-") })
        return try ["ports4", "ports4_any", "ports6", "ports6_any"].reduce(0) { $0 + (try session.elements(ofSet: $1, in: table)).count }
    }

    @Test func networksAreIsolated_aSandboxOnBothReachesBoth_andICCOffDropsNeighbours() throws {
        try withNetctl { netctl in
            try withClient(of: netctl) { client in
                try netctl.ok("network", "create", "--subnet", "198.18.33.0/24", "red")
                try netctl.ok("network", "create", "--subnet", "198.18.34.0/24", "blue")
                let a = try netctl.makeSandbox(), b = try netctl.makeSandbox()
                try netctl.ok("network", "connect", "--ip", "198.18.33.10", "red", a)
                try netctl.ok("network", "connect", "--ip", "198.18.34.10", "blue", b)
                let server = try EchoServer(in: namespace(b), name: "b", tcp: [80])
                defer { server.stop() }

                #expect(try roundTrip(from: namespace(a), to: "198.18.34.10", port: 80, timeout: 1) == nil)
                #expect(try !netctl.ping(from: a, "198.18.34.10"))
                // Both still reach the outside (masqueraded) and their gateways.
                let outside = try EchoServer(in: client.namespace.namespace, name: "outside", tcp: [9999])
                defer { outside.stop() }
                #expect(try roundTrip(from: namespace(a), to: Client.address, port: 9999) == "outside:9999:\(Client.hostAddress)|ping")

                // Connected to both, a reaches b directly on blue.
                try netctl.ok("network", "connect", "blue", a)
                #expect(try roundTrip(from: namespace(a), to: "198.18.34.10", port: 80)?.hasPrefix("b:80:198.18.34.") == true)

                // ICC off: neighbours on one network cannot talk, their published ports still answer.
                try netctl.ok("network", "create", "--subnet", "198.18.35.0/24", "-o", "com.docker.network.bridge.enable_icc=false", "quiet")
                let c1 = try netctl.makeSandbox(), c2 = try netctl.makeSandbox()
                try netctl.ok("network", "connect", "--ip", "198.18.35.10", "quiet", c1)
                try netctl.ok("network", "connect", "--ip", "198.18.35.11", "-p", "8080:80", "quiet", c2)
                let c2server = try EchoServer(in: namespace(c2), name: "c2", tcp: [80])
                defer { c2server.stop() }
                #expect(try roundTrip(from: namespace(c1), to: "198.18.35.11", port: 80, timeout: 1) == nil)
                #expect(try !netctl.ping(from: c1, "198.18.35.11"))
                #expect(try netctl.ping(from: c1, "198.18.35.1"))
                #expect(try roundTrip(from: namespace(c1), to: Client.hostAddress, port: 8080)?.hasPrefix("c2:80:") == true)
                #expect(try roundTrip(from: client.namespace.namespace, to: Client.hostAddress, port: 8080)?.hasPrefix("c2:80:") == true)
            }
        }
    }

    @Test func anInternalNetworkSendsNothingOut() throws {
        try withNetctl { netctl in
            try withClient(of: netctl) { client in
                try netctl.ok("network", "create", "--internal", "--subnet", "198.18.36.0/24", "vault")
                try netctl.ok("network", "create", "--subnet", "198.18.37.0/24", "open")
                let inner = try netctl.makeSandbox(), other = try netctl.makeSandbox()
                try netctl.ok("network", "connect", "--ip", "198.18.36.10", "vault", inner)
                try netctl.ok("network", "connect", "--ip", "198.18.37.10", "open", other)
                let outside = try EchoServer(in: client.namespace.namespace, name: "outside", tcp: [9999], udp: [9999])
                defer { outside.stop() }
                let otherServer = try EchoServer(in: namespace(other), name: "other", tcp: [80])
                defer { otherServer.stop() }

                // No default route was given; even with one added by hand, nothing leaves.
                #expect(try runCommand(["ip", "netns", "exec", inner, "ip", "route", "show", "default"]).stdout.isEmpty)
                _ = try runCommand(["ip", "netns", "exec", inner, "ip", "route", "add", "default", "via", "198.18.36.1"])
                #expect(try roundTrip(from: namespace(inner), to: Client.address, port: 9999, timeout: 1) == nil)
                #expect(try roundTrip(from: namespace(inner), to: Client.address, port: 9999, udp: true, timeout: 1) == nil)
                #expect(try roundTrip(from: namespace(inner), to: "198.18.37.10", port: 80, timeout: 1) == nil)
                // And nothing reaches in, by route or by a published port.
                _ = try runCommand(["ip", "netns", "exec", client.namespace.name, "ip", "route", "add", "198.18.36.0/24", "via", Client.hostAddress])
                let innerServer = try EchoServer(in: namespace(inner), name: "inner", tcp: [80])
                defer { innerServer.stop() }
                #expect(try roundTrip(from: client.namespace.namespace, to: "198.18.36.10", port: 80, timeout: 1) == nil)
                // The same traffic from a normal network does leave.
                #expect(try roundTrip(from: namespace(other), to: Client.address, port: 9999)?.hasPrefix("outside:9999:") == true)
            }
        }
    }

    @Test func afterFlushingTheRuleset_reconcileRestoresPortsAndIsolation() throws {
        try withNetctl { netctl in
            try withClient(of: netctl) { client in
                try netctl.ok("network", "create", "--subnet", "198.18.38.0/24", "red")
                try netctl.ok("network", "create", "--subnet", "198.18.39.0/24", "blue")
                let a = try netctl.makeSandbox(), b = try netctl.makeSandbox()
                try netctl.ok("network", "connect", "--ip", "198.18.38.10", "-p", "8080:80", "red", a)
                try netctl.ok("network", "connect", "--ip", "198.18.39.10", "blue", b)
                let serverA = try EchoServer(in: namespace(a), name: "a", tcp: [80])
                defer { serverA.stop() }
                let serverB = try EchoServer(in: namespace(b), name: "b", tcp: [80])
                defer { serverB.stop() }
                let outside = client.namespace.namespace
                #expect(try roundTrip(from: outside, to: Client.hostAddress, port: 8080)?.hasPrefix("a:80:") == true)

                let before = try netctl.host.run(["nft", "list", "ruleset"]).stdout
                #expect(try netctl.host.run(["nft", "flush", "ruleset"]).status == 0)
                #expect(try roundTrip(from: outside, to: Client.hostAddress, port: 8080, timeout: 1) == nil)
                #expect(try roundTrip(from: namespace(a), to: "198.18.39.10", port: 80)?.hasPrefix("b:80:") == true)

                let report = try netctl.ok("system", "reconcile")
                #expect(report.contains("rebuilt nftables tables"))
                #expect(try netctl.host.run(["nft", "list", "ruleset"]).stdout == before)
                #expect(try roundTrip(from: outside, to: Client.hostAddress, port: 8080)?.hasPrefix("a:80:") == true)
                #expect(try roundTrip(from: namespace(a), to: "198.18.39.10", port: 80, timeout: 1) == nil)

                // A second reconcile finds nothing to repair.
                let again = try netctl.ok("system", "reconcile")
                #expect(again == "nothing to repair\n", "\(again)")
                // Removing the last bridge networks removes netctl's tables.
                try netctl.ok("sandbox", "rm", a, b)
                try netctl.ok("network", "rm", "red", "blue")
                #expect(try netctl.host.run(["nft", "list", "ruleset"]).stdout.isEmpty)
            }
        }
    }

    static let badPublishes: [(spec: String, mentions: String)] = [
        ("0:80", "\"0\""), ("65536:80", "\"65536\""), ("8080:0", "\"0\""), ("8080:65536", "\"65536\""),
        ("8010-8000:80", "\"8010-8000\""), ("8000-8002:80-81", "8000-8002"), ("80/icmp", "\"icmp\""),
        ("1.2.3:80:80", "\"1.2.3\""), ("[2001:db8::zz]:80:80", "\"2001:db8::zz\""), ("http:80", "\"http\""),
        ("8080:80", "already published by endpoint"), ("198.19.0.1:8080:80", "already published by endpoint"),
        ("[2001:db8:ffff::1]:80:80", "no IPv6 address"),
    ]

    @Test(arguments: badPublishes)
    func badPublishIsRefusedAndChangesNothing(_ bad: (spec: String, mentions: String)) throws {
        try withNetctl { netctl in
            try netctl.ok("network", "create", "--subnet", "198.18.40.0/24", "front")
            try netctl.ok("network", "create", "--internal", "--subnet", "198.18.41.0/24", "vault")
            let holder = try netctl.makeSandbox(), next = try netctl.makeSandbox()
            try netctl.ok("network", "connect", "-p", "8080:80", "front", holder)
            let ruleset = try netctl.host.run(["nft", "list", "ruleset"]).stdout
            let state = try netctl.stateSnapshot(), kernel = try netctl.kernelSnapshot()

            let result = try netctl.netctl("network", "connect", "-p", bad.spec, "front", next)
            #expect(result.status != 0)
            #expect(result.stderr.split(separator: "\n").count == 1 && result.stderr.contains(bad.mentions), "\(result.stderr)")
            // Publishing on an internal network is refused the same way.
            let onInternal = try netctl.netctl("network", "connect", "-p", "9090:90", "vault", next)
            #expect(onInternal.status != 0 && onInternal.stderr.contains("internal"))

            #expect(try netctl.host.run(["nft", "list", "ruleset"]).stdout == ruleset)
            #expect(try netctl.stateSnapshot() == state)
            #expect(try netctl.kernelSnapshot() == kernel)
            #expect(try netctl.links(in: next) == ["lo"])
        }
    }
}
