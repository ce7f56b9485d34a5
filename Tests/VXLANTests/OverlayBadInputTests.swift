import Foundation
import Glibc
import Testing
import TestSupport
@testable import VXLAN

/// Each bad request is refused in one line that names the bad value, and changes nothing:
/// not the host's state root, not its kernel, not the cluster's records.
@Suite("overlay networks: bad input changes nothing") struct OverlayBadInputTests {
    func expectRefused(_ cluster: ClusterFixture, on host: Int = 1, _ arguments: [String], mentioning text: String,
                       environment extra: [String: String] = [:]) throws {
        let state = try cluster.hosts[host].stateSnapshot()
        let kernel = try cluster.hosts[host].kernelSnapshot()
        let client = try EtcdClient(endpoints: cluster.etcd.endpoints, tls: cluster.etcd.tls)
        let records = try client.range(prefix: ClusterCatalog.prefix).items.map { "\($0.key)=\($0.modRevision)" }
        let started = Date()
        let result = try cluster.hosts[host].netctl(arguments, environment: cluster.environment(host).merging(extra) { $1 })
        #expect(Date().timeIntervalSince(started) < 8, "netctl \(arguments) took too long")
        #expect(result.status != 0, "netctl \(arguments) succeeded")
        let lines = result.stderr.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n")
        #expect(lines.count == 1, "\(result.stderr)")
        #expect(result.stderr.contains(text), "\(result.stderr)")
        #expect(try cluster.hosts[host].stateSnapshot() == state)
        #expect(try cluster.hosts[host].kernelSnapshot() == kernel)
        #expect(try client.range(prefix: ClusterCatalog.prefix).items.map { "\($0.key)=\($0.modRevision)" } == records)
    }

    @Test func refusedWithNothingChangedOnAnyHost() throws {
        try withCluster(hosts: 2) { cluster in
            try cluster.ok(on: 0, "network", "create", "-d", "overlay", "--subnet", "198.19.100.0/24",
                           "-o", "com.docker.network.driver.overlay.vxlanid_list=5000", "red")
            try cluster.ok(on: 1, "network", "ls")
            let create = ["network", "create", "-d", "overlay"]
            // No cluster store.
            try expectRefused(cluster, create + ["--subnet", "198.19.110.0/24", "lone"], mentioning: "needs a cluster store",
                              environment: ["NETCTL_CLUSTER_STORE": ""])
            // VNIs out of range, malformed, or taken by another network of the cluster.
            for vni in ["0", "16777216", "abc", "-1"] {
                try expectRefused(cluster, create + ["--subnet", "198.19.111.0/24", "-o", "com.docker.network.driver.overlay.vxlanid_list=\(vni)", "blue"],
                                  mentioning: "invalid VNI \"\(vni)\"")
            }
            try expectRefused(cluster, create + ["--subnet", "198.19.111.0/24", "-o", "com.docker.network.driver.overlay.vxlanid_list=5000", "blue"],
                              mentioning: "VNI 5000 is taken by network \"red\"")
            // A subnet overlapping another host's overlay; a name another host took.
            try expectRefused(cluster, create + ["--subnet", "198.19.100.128/25", "blue"], mentioning: "overlaps network \"red\"")
            try expectRefused(cluster, create + ["--subnet", "198.19.112.0/24", "red"], mentioning: "network \"red\" already exists")
            // Encryption this kernel cannot do is refused, never run in clear.
            try expectRefused(cluster, create + ["--subnet", "198.19.113.0/24", "-o", "encrypted", "secret"], mentioning: "in clear")
            try expectRefused(cluster, create + ["--subnet", "198.19.113.0/24", "-o", "bogus=1", "odd"], mentioning: "unknown option \"bogus\"")
            // A malformed cluster store, an etcd that is not there, one that never answers.
            try expectRefused(cluster, create + ["--subnet", "198.19.114.0/24", "x"], mentioning: "invalid cluster store \"http://h\"",
                              environment: ["NETCTL_CLUSTER_STORE": "http://h"])
            let closed = EtcdCluster.freeLoopbackPorts(1)[0]
            try expectRefused(cluster, create + ["--subnet", "198.19.114.0/24", "x"], mentioning: "unreachable",
                              environment: ["NETCTL_CLUSTER_STORE": "etcd://127.0.0.1:\(closed)"])
            let hung = EtcdCluster.freeLoopbackPorts(1)[0]
            let socket = try listeningSocket(port: hung)
            defer { close(socket) }
            try expectRefused(cluster, create + ["--subnet", "198.19.114.0/24", "x"], mentioning: "unreachable",
                              environment: ["NETCTL_CLUSTER_STORE": "etcd://127.0.0.1:\(hung)"])
            // Connecting with an address outside the overlay, or taken on another host.
            let sandbox = try cluster.hosts[0].makeSandbox()
            try cluster.ok(on: 0, "network", "connect", "--ip", "198.19.100.7", "red", sandbox)
            let other = try cluster.hosts[1].makeSandbox()
            try expectRefused(cluster, ["network", "connect", "--ip", "198.19.100.7", "red", other], mentioning: "198.19.100.7 is already in use")
            try expectRefused(cluster, ["network", "connect", "--ip", "198.19.200.7", "red", other], mentioning: "not in subnet")
            // A network in use on another host cannot be removed.
            try expectRefused(cluster, ["network", "rm", "red"], mentioning: "in use by 1 endpoint")
        }
    }
}

@Suite("overlay networks: killed halfway") struct OverlayKilledTests {
    @Test func aConnectKilledAfterItsClaimIsUndoneByReconcile() throws {
        try withCluster(hosts: 1) { cluster in
            try cluster.ok(on: 0, "network", "create", "-d", "overlay", "--subnet", "198.19.100.0/24", "red")
            let sandbox = try cluster.hosts[0].makeSandbox()
            let killed = try cluster.hosts[0].netctl(["network", "connect", "--ip", "198.19.100.9", "red", sandbox],
                                                     environment: cluster.environment(0).merging(["NETCTL_FAULT": "connect.after-overlay-attach"]) { $1 })
            #expect(killed.status != 0)
            #expect(try cluster.overlayNamespace(on: 0, network: "red") != nil)
            let report = try cluster.ok(on: 0, "system", "reconcile")
            #expect(report.contains("freed cluster address 198.19.100.9"), "\(report)")
            #expect(try cluster.overlayNamespace(on: 0, network: "red") == nil)
            #expect(try cluster.hosts[0].links(in: sandbox) == ["lo"])
            // The address is free again.
            try cluster.ok(on: 0, "network", "connect", "--ip", "198.19.100.9", "red", sandbox)
        }
    }
}
