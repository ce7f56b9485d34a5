import DNS
import Foundation
import Glibc
import Netlink
import Testing
import TestSupport
@testable import VXLAN

/// Names across hosts on overlay networks: each host's resolver tables list the endpoints
/// of the other hosts (`ROOT/dns/networks/NETID.remote`), written by its agent, or by a
/// connect where no agent runs; and a container resolves one on another host by name.
@Suite("names across hosts on overlay networks", .serialized) struct OverlayNamesTests {
    func networkID(_ cluster: ClusterFixture, _ name: String) throws -> String {
        let inspect = try JSONSerialization.jsonObject(with: Data(try cluster.ok(on: 0, "network", "inspect", name).utf8)) as? [[String: Any]]
        return try #require(inspect?.first?["Id"] as? String)
    }

    /// Host `index`'s table of the names on other hosts for network `id`; nil when it has none.
    func remoteTable(_ cluster: ClusterFixture, host index: Int, network id: String) throws -> NetworkTable? {
        try ResolverTables(root: cluster.hosts[index].root).network(id, remote: true)
    }

    /// Each record's first name (the endpoint's own) and IPv4 address.
    func listed(_ table: NetworkTable?) -> [String] {
        (table?.records ?? []).map { "\($0.names[0]) \($0.ipv4 ?? "-") \($0.sandbox ?? "-")" }.sorted()
    }

    @Test func eachHostsTableListsTheOtherHostsEndpointsAndNotItsOwn() throws {
        try withCluster(hosts: 2) { cluster in
            // Host 0 runs no agent at first: its connect writes its table from what it read.
            try cluster.startAgent(on: 1)
            try cluster.ok(on: 0, "network", "create", "-d", "overlay", "--subnet", "198.19.100.0/24", "red")
            let id = try networkID(cluster, "red")
            let b = try cluster.endpoint(on: 1, network: "red")
            #expect(try remoteTable(cluster, host: 1, network: id) == nil, "no endpoint on another host yet")
            let a = try cluster.endpoint(on: 0, network: "red")
            let table0 = try #require(try remoteTable(cluster, host: 0, network: id))
            #expect(table0.name == "red")
            #expect(listed(table0) == ["\(b.sandbox) \(b.address) -"])

            // A host without an agent is not alive to the others: host 1 neither forwards to
            // a nor names it. Once host 0's agent runs, host 1's lists a, and not its own b.
            #expect(try remoteTable(cluster, host: 1, network: id) == nil)
            try cluster.startAgent(on: 0)
            #expect(try cluster.eventually { try listed(remoteTable(cluster, host: 1, network: id)) == ["\(a.sandbox) \(a.address) -"] })
            #expect(try remoteTable(cluster, host: 1, network: id)?.name == "red")

            // Host 0's agent has taken over: an endpoint added on host 1 appears, a removed one goes.
            let c = try cluster.endpoint(on: 1, network: "red")
            #expect(try cluster.eventually {
                try listed(remoteTable(cluster, host: 0, network: id)) == ["\(b.sandbox) \(b.address) -", "\(c.sandbox) \(c.address) -"].sorted()
            })
            try cluster.ok(on: 1, "sandbox", "rm", b.sandbox)
            #expect(try cluster.eventually { try listed(remoteTable(cluster, host: 0, network: id)) == ["\(c.sandbox) \(c.address) -"] })
            // Host 1's table is untouched by changes of its own endpoints.
            #expect(try listed(remoteTable(cluster, host: 1, network: id)) == ["\(a.sandbox) \(a.address) -"])

            // Host 1's agent dies: once its lease ends, its endpoints are not answered for,
            // as they leave the forwarding table; back with the agent.
            cluster.killAgent(on: 1)
            #expect(try cluster.eventually(15) { try remoteTable(cluster, host: 0, network: id) == nil })
            try cluster.startAgent(on: 1)
            #expect(try cluster.eventually(15) { try listed(remoteTable(cluster, host: 0, network: id)) == ["\(c.sandbox) \(c.address) -"] })

            // Host 0's last endpoint leaves: its table goes with its part of the overlay, and
            // host 1, with no endpoint on another host left, has none either.
            try cluster.ok(on: 0, "sandbox", "rm", a.sandbox)
            #expect(try remoteTable(cluster, host: 0, network: id) == nil)
            #expect(try cluster.eventually { try remoteTable(cluster, host: 1, network: id) == nil })
            #expect(!cluster.agentLog(0).contains("names of other hosts:"), "\(cluster.agentLog(0))")
        }
    }

    /// A leave killed between the overlay's namespace and its names leaves a table that
    /// nobody on this host asks for: reconcile removes it.
    @Test func reconcileRemovesTheNamesOfAnOverlayThisHostHasNoPartIn() throws {
        try withCluster(hosts: 1) { cluster in
            try cluster.ok(on: 0, "network", "create", "-d", "overlay", "--subnet", "198.19.100.0/24", "red")
            let id = try networkID(cluster, "red")
            let tables = ResolverTables(root: cluster.hosts[0].root)
            try tables.write(network: id, NetworkTable(name: "red", records: [NameRecord(names: ["gone"], ipv4: "198.19.100.9", ipv6: nil, sandbox: nil)]), remote: true)
            let report = try cluster.ok(on: 0, "system", "reconcile")
            #expect(report.contains("removed names of other hosts for network \(id.prefix(12))"), "\(report)")
            #expect(try tables.network(id, remote: true) == nil)
        }
    }

    /// End to end, with the resolver and CNM's half: containers `a` on one host and `b` on
    /// another, on one overlay; `b` resolves from `a`'s sandbox (dig through 127.0.0.11 and
    /// the sandbox's NAT) by name, `NAME.NETWORK`, short id and PTR, until `b` is removed.
    @Test func aContainerResolvesOneOnAnotherHostByNameUntilItIsRemoved() throws {
        try withCluster(hosts: 2) { cluster in
            for host in 0..<2 { try cluster.startAgent(on: host) }
            try cluster.ok(on: 0, "network", "create", "-d", "overlay", "--subnet", "198.19.100.0/24", "red")
            let image = try cluster.hosts[0].importBusybox()
            try cluster.hosts[1].importBusybox()
            // Upstream: an address no namespace here routes to, so that nothing this test
            // asks is ever forwarded off the machine.
            let a = try cluster.ok(on: 0, "run", "-d", "--name", "a", "--network", "red", "--dns", "198.18.255.254", image, "sleep", "600")
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let b = try cluster.ok(on: 1, "run", "-d", "--name", "b", "--network", "red", "--dns", "198.18.255.254", image, "sleep", "600")
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let sandboxA = "nc-" + a.prefix(12)
            let bInspect = try JSONSerialization.jsonObject(with: Data(try cluster.ok(on: 1, "inspect", "b").utf8)) as? [[String: Any]]
            let bAddress = try #require(((bInspect?.first?["NetworkSettings"] as? [String: Any])?["Networks"] as? [String: [String: Any]])?["red"]?["IPAddress"] as? String)

            func answers(_ name: String) throws -> String {
                try runCommand(["ip", "netns", "exec", sandboxA, "dig", "@127.0.0.11", name, "A", "+noall", "+answer", "+time=2", "+tries=1"]).stdout
            }
            #expect(try cluster.eventually { try answers("b").contains(bAddress) }, "\((try? answers("b")) ?? "")")
            #expect(try answers("b.red").contains(bAddress))
            #expect(try answers("B.").contains(bAddress))
            // Its short id too (the names its host published), and its address back to its name.
            #expect(try answers(String(b.prefix(12))).contains(bAddress))
            let reverse = try runCommand(["ip", "netns", "exec", sandboxA, "dig", "@127.0.0.11", "-x", bAddress, "+short", "+time=2", "+tries=1"]).stdout
            #expect(reverse == "b.\n", "\(reverse)")

            try cluster.ok(on: 1, "rm", "-f", "b")
            #expect(try cluster.eventually { try !answers("b").contains(bAddress) })
        }
    }
}

/// The names a peer record carries, from records of hosts old and new, and from hosts that
/// should not be trusted.
@Suite struct PeerNamesTests {
    func peer(_ json: String) throws -> PeerRecord {
        try JSONDecoder().decode(PeerRecord.self, from: Data(json.utf8))
    }

    @Test func aRecordFromAHostBeforeNamesDecodesAndAnswersToItsName() throws {
        let old = try peer(#"{"endpointID":"e1","ipv4":"198.19.100.3/24","mac":"02:42:c6:13:64:03","name":"Web","networkID":"n1","node":"node1","vtep":"198.18.200.12"}"#)
        #expect(old.dnsNames == nil && old.ipv6 == nil)
        #expect(old.names == ["web"])
        #expect(RemoteNames.table(network: "red", peers: [old]) == NetworkTable(name: "red", records: [
            NameRecord(names: ["web"], ipv4: "198.19.100.3", ipv6: nil, sandbox: nil),
        ]))
    }

    @Test func namesAndIPv6GoToTheTableAndComeBackFromTheStore() throws {
        let record = PeerRecord(endpointID: "e2", networkID: "n1", name: "db", ipv4: IPNetwork(cidr: "198.19.100.4/24"),
                                mac: MACAddress("02:42:c6:13:64:04")!, vtep: IPAddress("198.18.200.13")!, node: "node2",
                                ipv6: IPNetwork(cidr: "2001:db8:100::4/64"), dnsNames: ["db", "0123456789ab", "primary"])
        let decoded = try JSONDecoder().decode(PeerRecord.self, from: JSONEncoder().encode(record))
        #expect(decoded == record)
        let table = try #require(RemoteNames.table(network: "red", peers: [decoded]))
        #expect(table.text == "netctl-dns 1 network red\n- 198.19.100.4 2001:db8:100::4 db 0123456789ab primary\n")
        #expect(try NetworkTable(parsing: table.text, path: "t") == table)
    }

    /// Names come from other hosts through etcd: a space or a newline would make lines of
    /// the table; such names are left out, a peer left with none is not listed.
    @Test func namesThatAreNotDNSNamesAreLeftOut() throws {
        let hostile = PeerRecord(endpointID: "e3", networkID: "n1", name: "x", ipv4: IPNetwork(cidr: "198.19.100.5/24"),
                                 mac: MACAddress("02:42:c6:13:64:05")!, vtep: IPAddress("198.18.200.13")!, node: "node2",
                                 dnsNames: ["Ok", "ok", "a b", "c\n- 198.19.100.9 - evil", "", ".", "d..e", String(repeating: "x", count: 254)])
        let nameless = PeerRecord(endpointID: "e4", networkID: "n1", name: "y", ipv4: IPNetwork(cidr: "198.19.100.6/24"),
                                  mac: MACAddress("02:42:c6:13:64:06")!, vtep: IPAddress("198.18.200.13")!, node: "node2",
                                  dnsNames: ["no space"])
        let addressless = PeerRecord(endpointID: "e5", networkID: "n1", name: "z", ipv4: nil,
                                     mac: MACAddress("02:42:c6:13:64:07")!, vtep: IPAddress("198.18.200.13")!, node: "node2")
        #expect(RemoteNames.table(network: "red", peers: [hostile, nameless, addressless])?.text
            == "netctl-dns 1 network red\n- 198.19.100.5 - ok\n")
        #expect(RemoteNames.table(network: "red", peers: [nameless, addressless]) == nil)
        // An endpoint published with no names (names off on its network) answers to none.
        let unnamed = PeerRecord(endpointID: "e6", networkID: "n1", name: "w", ipv4: IPNetwork(cidr: "198.19.100.8/24"),
                                 mac: MACAddress("02:42:c6:13:64:08")!, vtep: IPAddress("198.18.200.13")!, node: "node2", dnsNames: [])
        #expect(RemoteNames.table(network: "red", peers: [unnamed]) == nil)
    }
}
