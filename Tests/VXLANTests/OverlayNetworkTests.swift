import Foundation
import Glibc
import Netlink
import Testing
import TestSupport
@testable import VXLAN

/// Overlay networks across hosts with real packets: hosts are namespaces on one underlay
/// segment, etcd runs on loopback, each host has its agent.
@Suite("overlay networks across hosts", .serialized) struct OverlayNetworkTests {
    /// `ping -c1` from a sandbox; the reply's TTL, or nil when none came back.
    func replyTTL(from sandbox: String, to address: String, size: Int? = nil, dontFragment: Bool = false) throws -> Int? {
        var arguments = ["ip", "netns", "exec", sandbox, "ping", "-n", "-c", "1", "-W", "2"]
        if let size { arguments += ["-s", String(size)] }
        if dontFragment { arguments += ["-M", "do"] }
        let result = try runCommand(arguments + [address])
        guard result.status == 0, let range = result.stdout.range(of: "ttl=") else { return nil }
        return Int(result.stdout[range.upperBound...].prefix { $0.isNumber })
    }

    @Test func threeHostsReachEachOtherInOneHopAndAnEndpointAddedOnOneAnswersFromTheOthers() throws {
        try withCluster(hosts: 3) { cluster in
            let metricsPort = EtcdCluster.freeLoopbackPorts(1)[0]
            try cluster.startAgent(on: 0, metricsPort: metricsPort)
            for host in 1..<3 { try cluster.startAgent(on: host) }
            try cluster.ok(on: 0, "network", "create", "-d", "overlay", "--subnet", "198.19.100.0/24", "red")
            // Every host sees the overlay, with global scope.
            for host in 1..<3 {
                #expect(try cluster.ok(on: host, "network", "ls").contains { _ in true })
                let listing = try cluster.ok(on: host, "network", "ls")
                #expect(listing.split(separator: "\n").contains { $0.contains("red") && $0.contains("overlay") && $0.contains("global") })
            }
            let b = try cluster.endpoint(on: 1, network: "red")
            let c = try cluster.endpoint(on: 2, network: "red")
            // Added on A with no command on B or C: B and C reach it, in one hop.
            let a = try cluster.endpoint(on: 0, network: "red")
            #expect(Set([a.address, b.address, c.address]).count == 3)
            #expect(try cluster.eventually { try replyTTL(from: b.sandbox, to: a.address) == 64 })
            #expect(try replyTTL(from: c.sandbox, to: a.address) == 64)
            #expect(try replyTTL(from: a.sandbox, to: b.address) == 64)
            #expect(try replyTTL(from: a.sandbox, to: c.address) == 64)

            // Full-size frames with DF set pass; the MTU is the underlay's less VXLAN's 50 bytes.
            #expect(try replyTTL(from: a.sandbox, to: b.address, size: 1450 - 28, dontFragment: true) == 64)
            #expect(try replyTTL(from: a.sandbox, to: b.address, size: 1450 - 27, dontFragment: true) == nil)

            // The agent's metrics, as Prometheus scrapes them.
            #expect(try cluster.eventually {
                let scrape = try runCommand(["curl", "-sf", "http://127.0.0.1:\(metricsPort)/metrics"]).stdout
                return scrape.contains("netctl_agent_peers_programmed{network=\"red\"} 2")
                    && scrape.contains("netctl_agent_watch_lag_revisions") && scrape.contains("netctl_agent_errors_total")
            })
            // inspect: scope, VNI, and the hosts as Peers.
            let inspect = try JSONSerialization.jsonObject(with: Data(try cluster.ok(on: 1, "network", "inspect", "red").utf8)) as! [[String: Any]]
            #expect(inspect[0]["Scope"] as? String == "global")
            #expect((inspect[0]["Options"] as? [String: String])?["com.docker.network.driver.overlay.vxlanid_list"] == "4096")
            let peers = (inspect[0]["Peers"] as? [[String: String]] ?? []).map { $0["Name"] ?? "" }
            #expect(peers == ["node0", "node1", "node2"])

            // Its VXLAN packets passed the host's untracking rules (no conntrack for them).
            #expect(try (cluster.untrackedPackets(on: 0) ?? 0) > 0)
            // Removed on A: it leaves B's and C's forwarding tables.
            let aMAC = try forwardingMACs(cluster, host: 1).intersection(try forwardingMACs(cluster, host: 2))
            #expect(aMAC.count == 1)
            try cluster.ok(on: 0, "sandbox", "rm", a.sandbox)
            #expect(try cluster.eventually { try forwardingMACs(cluster, host: 1).isDisjoint(with: aMAC) && forwardingMACs(cluster, host: 2).isDisjoint(with: aMAC) })
            // Its host's part of the overlay went with its last endpoint.
            #expect(try cluster.overlayNamespace(on: 0, network: "red") == nil)
            #expect(try cluster.untrackedPackets(on: 0) == nil)
        }
    }

    func forwardingMACs(_ cluster: ClusterFixture, host: Int) throws -> Set<String> {
        Set(try cluster.forwarding(on: host, network: "red").map { String($0.split(separator: "@")[0]) })
    }

    @Test func aDeadAgentsEndpointsLeaveTheOthersForwardingAndReturnWithIt() throws {
        try withCluster(hosts: 3) { cluster in
            for host in 0..<3 { try cluster.startAgent(on: host) }
            try cluster.ok(on: 0, "network", "create", "-d", "overlay", "--subnet", "198.19.100.0/24", "red")
            let a = try cluster.endpoint(on: 0, network: "red")
            let b = try cluster.endpoint(on: 1, network: "red")
            let c = try cluster.endpoint(on: 2, network: "red")
            #expect(try cluster.eventually { try cluster.forwarding(on: 0, network: "red").count == 2 && cluster.forwarding(on: 1, network: "red").count == 2 })
            let cVTEP = ClusterFixture.underlayAddress(2)
            cluster.killAgent(on: 2)
            // Once C's lease ends (3 s), A and B forward nothing to C…
            #expect(try cluster.eventually(15) {
                try !cluster.forwarding(on: 0, network: "red").contains { $0.hasSuffix("@" + cVTEP) }
                    && !cluster.forwarding(on: 1, network: "red").contains { $0.hasSuffix("@" + cVTEP) }
            })
            #expect(try replyTTL(from: a.sandbox, to: c.address) == nil)
            #expect(try replyTTL(from: a.sandbox, to: b.address) == 64)
            // …its address stays taken, and `cluster nodes` shows it down.
            #expect(try cluster.ok(on: 0, "cluster", "nodes").split(separator: "\n").contains { $0.hasPrefix("node2") && $0.contains("down") })
            // Restarted, its endpoints come back.
            try cluster.startAgent(on: 2)
            #expect(try cluster.eventually(15) { try replyTTL(from: a.sandbox, to: c.address) == 64 })
            #expect(try replyTTL(from: b.sandbox, to: c.address) == 64)
        }
    }

    @Test func overlaysAreIsolatedAndTheSubnetsOfOneAreRoutedBetween() throws {
        try withCluster(hosts: 2) { cluster in
            for host in 0..<2 { try cluster.startAgent(on: host) }
            try cluster.ok(on: 0, "network", "create", "-d", "overlay", "--subnet", "198.19.100.0/24", "red")
            try cluster.ok(on: 1, "network", "create", "-d", "overlay", "--subnet", "198.19.101.0/24", "--subnet", "198.19.102.0/24", "blue")
            let red = try cluster.endpoint(on: 0, network: "red")
            let blue0 = try cluster.endpoint(on: 0, network: "blue")
            let sandbox = try cluster.hosts[1].makeSandbox()
            try cluster.ok(on: 1, "network", "connect", "--ip", "198.19.102.10", "blue", sandbox)
            let red1 = try cluster.endpoint(on: 1, network: "red")
            #expect(try cluster.eventually { try replyTTL(from: red.sandbox, to: red1.address) == 64 })
            // Different overlays: no way across, neither from red to blue nor the reverse.
            #expect(try replyTTL(from: red.sandbox, to: "198.19.102.10") == nil)
            #expect(try replyTTL(from: sandbox, to: red.address) == nil)
            // One overlay, two subnets: routed once, in the overlay's namespace.
            #expect(try cluster.eventually { try replyTTL(from: blue0.sandbox, to: "198.19.102.10") == 63 })
            // Distinct VNIs, one per subnet.
            let inspect = try JSONSerialization.jsonObject(with: Data(try cluster.ok(on: 0, "network", "inspect", "blue").utf8)) as! [[String: Any]]
            #expect((inspect[0]["Options"] as? [String: String])?["com.docker.network.driver.overlay.vxlanid_list"] == "4097,4098")
            // The underlay does not reach overlay addresses.
            #expect(try !cluster.hosts[0].host.ping(IPAddress(red1.address)!))
        }
    }

    @Test func anOverlayEndpointReachesTheOutsideThroughTheGatewayBridge() throws {
        try withCluster(hosts: 1) { cluster in
            try cluster.startAgent(on: 0)
            try cluster.ok(on: 0, "network", "create", "-d", "overlay", "--subnet", "198.19.100.0/24", "red")
            try cluster.ok(on: 0, "network", "create", "-d", "overlay", "--internal", "--subnet", "198.19.101.0/24", "sealed")
            try withClient(of: cluster.hosts[0]) { client in
                let a = try cluster.endpoint(on: 0, network: "red")
                #expect(try replyTTL(from: a.sandbox, to: Client.address) == 63)
                let links = try cluster.hosts[0].links(in: a.sandbox)
                #expect(links.contains("eth0") && links.contains("eth1"))
                #expect(try cluster.ok(on: 0, "network", "ls").contains("netctl_gwbridge"))
                // An internal overlay gets no way out.
                let sealed = try cluster.endpoint(on: 0, network: "sealed")
                #expect(try cluster.hosts[0].links(in: sealed.sandbox) == ["lo", "eth0"])
                #expect(try replyTTL(from: sealed.sandbox, to: Client.address) == nil)
                // Published ports of an overlay endpoint answer on the host that runs it.
                let web = try cluster.hosts[0].makeSandbox()
                try cluster.ok(on: 0, "network", "connect", "-p", "18080:80", "red", web)
                let server = try EchoServer(in: NetworkNamespace.open(named: web), name: "web", tcp: [80])
                defer { server.stop() }
                let reply = try roundTrip(from: client.namespace.namespace, to: Client.hostAddress, port: 18080)
                #expect(reply?.hasPrefix("web:80:") == true)
                // Leaving its last overlay, a sandbox leaves the gateway bridge too.
                try cluster.ok(on: 0, "network", "disconnect", "red", a.sandbox)
                #expect(try cluster.hosts[0].links(in: a.sandbox) == ["lo"])
            }
        }
    }

    @Test func withEtcdStoppedTrafficGoesOnAndConnectsFailInOneLineThenAgentsConverge() throws {
        try withCluster(hosts: 2) { cluster in
            for host in 0..<2 { try cluster.startAgent(on: host) }
            try cluster.ok(on: 0, "network", "create", "-d", "overlay", "--subnet", "198.19.100.0/24", "red")
            let a = try cluster.endpoint(on: 0, network: "red")
            let b = try cluster.endpoint(on: 1, network: "red")
            #expect(try cluster.eventually { try replyTTL(from: a.sandbox, to: b.address) == 64 })

            try cluster.etcd.stop(member: 0)
            #expect(try replyTTL(from: a.sandbox, to: b.address) == 64)
            let sandbox = try cluster.hosts[1].makeSandbox()
            let state = try cluster.hosts[1].stateSnapshot()
            let kernel = try cluster.hosts[1].kernelSnapshot()
            let started = Date()
            let refused = try cluster.netctl(on: 1, "network", "connect", "red", sandbox)
            #expect(Date().timeIntervalSince(started) < 8)
            #expect(refused.status != 0)
            #expect(refused.stderr.contains("unreachable"))
            #expect(refused.stderr.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").count == 1)
            #expect(try cluster.hosts[1].stateSnapshot() == state)
            #expect(try cluster.hosts[1].kernelSnapshot() == kernel)
            #expect(try cluster.hosts[1].links(in: sandbox) == ["lo"])

            try cluster.etcd.start(member: 0)
            try cluster.ok(on: 1, "network", "connect", "red", sandbox)
            let late = try cluster.address(of: sandbox, on: "red", host: 1)
            #expect(try cluster.eventually(15) { try replyTTL(from: a.sandbox, to: late) == 64 })
        }
    }

    @Test func anAgentWatchingFromACompactedRevisionResynchronises() throws {
        try withCluster(hosts: 2) { cluster in
            for host in 0..<2 { try cluster.startAgent(on: host, leaseTTL: 30) }
            try cluster.ok(on: 0, "network", "create", "-d", "overlay", "--subnet", "198.19.100.0/24", "red")
            let a = try cluster.endpoint(on: 0, network: "red")
            _ = try cluster.endpoint(on: 1, network: "red")
            #expect(try cluster.eventually { try cluster.forwarding(on: 0, network: "red").count == 1 })
            // Agent 0 frozen; its connection dies with etcd; the cluster changes and compacts.
            let agent = try #require(cluster.agentPID(0))
            kill(agent, SIGSTOP)
            try cluster.etcd.stop(member: 0)
            try cluster.etcd.start(member: 0)
            let late = try cluster.endpoint(on: 1, network: "red")
            let client = try EtcdClient(endpoints: cluster.etcd.endpoints, tls: cluster.etcd.tls)
            let revision = try client.status().revision
            try client.compact(revision: revision)
            kill(agent, SIGCONT)
            #expect(try cluster.eventually(20) { try replyTTL(from: a.sandbox, to: late.address) == 64 })
            #expect(cluster.agentLog(0).contains("compacted"))
            // What agent 0 programmed equals the peer table.
            let peers = try ClusterCatalog(client: client).peers(of: try networkID(cluster, "red")).filter { $0.node != "node0" }
            #expect(try cluster.forwarding(on: 0, network: "red") == Set(peers.map { "\($0.mac)@\($0.vtep)" }))
        }
    }

    func networkID(_ cluster: ClusterFixture, _ name: String) throws -> String {
        let inspect = try JSONSerialization.jsonObject(with: Data(try cluster.ok(on: 0, "network", "inspect", name).utf8)) as! [[String: Any]]
        return inspect[0]["Id"] as! String
    }

    @Test func withThreeEtcdMembersOneStoppedChangesNothing() throws {
        try withCluster(hosts: 2, members: 3) { cluster in
            for host in 0..<2 { try cluster.startAgent(on: host) }
            try cluster.etcd.stop(member: 1)
            try cluster.ok(on: 0, "network", "create", "-d", "overlay", "--subnet", "198.19.100.0/24", "red")
            let a = try cluster.endpoint(on: 0, network: "red")
            let b = try cluster.endpoint(on: 1, network: "red")
            #expect(try cluster.eventually { try replyTTL(from: a.sandbox, to: b.address) == 64 })
            #expect(try cluster.eventually { try replyTTL(from: b.sandbox, to: a.address) == 64 })
        }
    }

    @Test func fiftyConcurrentConnectsOverThreeHostsGetFiftyAddresses() throws {
        try withCluster(hosts: 3) { cluster in
            try cluster.ok(on: 0, "network", "create", "-d", "overlay", "--subnet", "198.19.100.0/24", "red")
            var commands: [[String]] = []
            var environments: [[String: String]] = []
            for index in 0..<50 {
                let host = index % 3
                let sandbox = try cluster.hosts[host].makeSandbox()
                commands.append(["netctl", "network", "connect", "red", sandbox])
                environments.append(cluster.hosts[host].environment.merging(cluster.environment(host)) { $1 })
            }
            let results = try runConcurrently(commands.map { [NetctlHarness.binary] + $0.dropFirst() }, environments: environments)
            for result in results { #expect(result.status == 0, "\(result.stderr)") }
            let client = try EtcdClient(endpoints: cluster.etcd.endpoints, tls: cluster.etcd.tls)
            let claims = try client.range(prefix: ClusterCatalog.Key.addresses(try networkID(cluster, "red"))).items
            #expect(claims.count == 50)
            let peers = try ClusterCatalog(client: client).peers(of: try networkID(cluster, "red"))
            #expect(Set(peers.compactMap { $0.ipv4?.address }).count == 50)
        }
    }
}
