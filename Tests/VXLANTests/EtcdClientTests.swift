import Foundation
import Glibc
import Netlink
import Synchronization
import Testing
import TestSupport
@testable import VXLAN

/// A one-member etcd of the test's own on 127.0.0.1 (free ports, a temporary directory),
/// stopped and removed however the body ends.
func withEtcd<T>(members count: Int = 1, tls: Bool = false, _ body: (EtcdCluster, EtcdClient) throws -> T) throws -> T {
    let directory = try makeTemporaryDirectory("netctl-etcd-")
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let certificates = tls ? try ClusterCertificates.make(in: "\(directory)/pki", serverAddresses: ["127.0.0.1"]) : nil
    let ports = EtcdCluster.freeLoopbackPorts(2 * count)
    let members = (0..<count).map {
        EtcdCluster.Member(name: "m\($0)", address: "127.0.0.1", clientPort: ports[2 * $0], peerPort: ports[2 * $0 + 1])
    }
    let cluster = try EtcdCluster.start(members: members, directory: directory, certificates: certificates)
    defer { cluster.shutdown() }
    let client = try EtcdClient(endpoints: cluster.endpoints, tls: cluster.tls)
    return try body(cluster, client)
}

func makeTemporaryDirectory(_ prefix: String) throws -> String {
    var template = Array("/tmp/\(prefix)XXXXXX".utf8CString)
    guard mkdtemp(&template) != nil else { throw EtcdError(.setup, "mkdtemp: \(String(cString: strerror(errno)))") }
    return String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

func etcdctl(_ cluster: EtcdCluster, _ arguments: [String]) throws -> CommandResult {
    var global = ["etcdctl", "--endpoints", cluster.endpoints.joined(separator: ","), "--dial-timeout", "5s"]
    if let tls = cluster.tls {
        global += ["--cacert", tls.caFile!, "--cert", tls.certFile!, "--key", tls.keyFile!]
    }
    return try runCommand(global + arguments, environment: ["ETCDCTL_API": "3"])
}

@Suite(.serialized) struct EtcdClientTests {
    @Test func putGetRangeDelete() throws {
        try withEtcd { _, etcd in
            let first = try etcd.put("/nc/peers/a", Array("198.18.0.2".utf8))
            let second = try etcd.put("/nc/peers/b", [0, 1, 0xff])
            try etcd.put("/nc/peersx", Array("outside the prefix".utf8))
            #expect(second > first)

            let a = try #require(try etcd.get("/nc/peers/a"))
            #expect(a.value == Array("198.18.0.2".utf8))
            #expect(a.createRevision == first && a.modRevision == first && a.version == 1 && a.lease == 0)
            #expect(try etcd.get("/nc/peers/none") == nil)

            let (items, revision) = try etcd.range(prefix: "/nc/peers/")
            #expect(items.map(\.key) == ["/nc/peers/a", "/nc/peers/b"])
            #expect(items[1].value == [0, 1, 0xff])
            let status = try etcd.status()
            #expect(revision == status.revision)

            try etcd.delete("/nc/peers/a")
            #expect(try etcd.get("/nc/peers/a") == nil)
            try etcd.delete(prefix: "/nc/peers/")
            #expect(try etcd.range(prefix: "/nc/peers/").items.isEmpty)
            #expect(try etcd.get("/nc/peersx") != nil)
            #expect(try etcd.range(prefix: "").items.map(\.key) == ["/nc/peersx"])
        }
    }

    @Test func transactionsCompareAndSwap() throws {
        try withEtcd { _, etcd in
            // Twenty creators of one key at once: exactly one wins.
            let winners = Mutex(0)
            let failures = Mutex<[String]>([])
            onThreadsAtOnce(20) { index in
                do {
                    let (succeeded, _) = try etcd.transaction(if: [.createRevision("/nc/vni/4097", equals: 0)],
                                                              then: [.put("/nc/vni/4097", Array("net\(index)".utf8), lease: nil)])
                    if succeeded { winners.withLock { $0 += 1 } }
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
            #expect(failures.withLock { $0 } == [])
            #expect(winners.withLock { $0 } == 1)
            let record = try #require(try etcd.get("/nc/vni/4097"))
            #expect(record.version == 1)

            // Compare-and-swap on the revision read: a stale writer loses, the else branch runs.
            let (swapped, revision) = try etcd.transaction(if: [.modRevision(record.key, equals: record.modRevision)],
                                                           then: [.put(record.key, Array("mine".utf8), lease: nil)])
            #expect(swapped)
            let (stale, _) = try etcd.transaction(if: [.modRevision(record.key, equals: record.modRevision)],
                                                  then: [.delete(record.key)],
                                                  else: [.put("/nc/conflicts", Array("1".utf8), lease: nil)])
            #expect(!stale)
            #expect(try etcd.get(record.key)?.modRevision == revision)
            #expect(try etcd.get("/nc/conflicts")?.value == Array("1".utf8))
            let (byValue, _) = try etcd.transaction(if: [.value(record.key, equals: Array("mine".utf8))],
                                                    then: [.deletePrefix("/nc/"), .get(record.key)])
            #expect(byValue)
            #expect(try etcd.range(prefix: "/nc/").items.isEmpty)
        }
    }

    @Test func leasesExpireUnlessKeptAlive() throws {
        try withEtcd { _, etcd in
            let dropped = try etcd.grantLease(ttl: 2)
            let kept = try etcd.grantLease(ttl: 2)
            try etcd.put("/nc/hosts/dropped", [1], lease: dropped)
            try etcd.put("/nc/hosts/kept", [2], lease: kept)
            #expect(try etcd.get("/nc/hosts/kept")?.lease == kept)

            // Renew one lease until the other's key is gone (etcd expires it after its TTL).
            let deadline = monotonicSeconds() + 15
            while try etcd.get("/nc/hosts/dropped") != nil && monotonicSeconds() < deadline {
                #expect(try etcd.keepAlive(kept) == 2)
                usleep(300_000)
            }
            #expect(try etcd.get("/nc/hosts/dropped") == nil)
            #expect(try etcd.get("/nc/hosts/kept") != nil)
            #expect(try etcd.keepAlive(dropped) == 0)

            try etcd.revokeLease(kept)
            #expect(try etcd.get("/nc/hosts/kept") == nil)
        }
    }

    @Test func watchSeesPutsAndDeletesInOrder() throws {
        try withEtcd { _, etcd in
            let start = try etcd.put("/nc/peers/a", Array("1".utf8))
            try etcd.put("/nc/other", Array("not watched".utf8))
            try etcd.put("/nc/peers/b", Array("2".utf8))
            try etcd.delete("/nc/peers/a")

            // The past from `start`, then a put made while the watch runs.
            var events: [EtcdClient.WatchEvent] = []
            let writer = Thread {
                usleep(200_000)
                _ = try? etcd.put("/nc/peers/c", Array("3".utf8))
            }
            try etcd.watch(prefix: "/nc/peers/", fromRevision: start) { event in
                events.append(event)
                if events.count == 3 { writer.start() }
                return events.count < 4
            }
            #expect(events.map(\.kind) == [.put, .put, .delete, .put])
            #expect(events.map(\.keyValue.key) == ["/nc/peers/a", "/nc/peers/b", "/nc/peers/a", "/nc/peers/c"])
            #expect(events.map { String(decoding: $0.keyValue.value, as: UTF8.self) } == ["1", "2", "", "3"])
            let revisions = events.map(\.keyValue.modRevision)
            #expect(revisions == revisions.sorted() && revisions[0] == start)
        }
    }

    @Test func watchFromCompactedRevisionIsDistinct() throws {
        try withEtcd { _, etcd in
            let first = try etcd.put("/nc/peers/a", [1])
            try etcd.put("/nc/peers/a", [2])
            let last = try etcd.put("/nc/peers/a", [3])
            try etcd.compact(revision: last)
            let error = #expect(throws: EtcdError.self) {
                try etcd.watch(prefix: "/nc/peers/", fromRevision: first) { _ in true }
            }
            #expect(error?.kind == .compacted(compactRevision: last))
            #expect(error?.description.contains("\n") == false)

            // From the compacted revision on, the watch works.
            var seen: [UInt8] = []
            try etcd.watch(prefix: "/nc/peers/", fromRevision: last) { event in
                seen = event.keyValue.value
                return false
            }
            #expect(seen == [3])
        }
    }

    @Test func watchNoticesAHungServer() throws {
        try withEtcd { cluster, _ in
            // etcd sends progress notifications every 2 s: silence for 5 s means it hangs.
            let etcd = try EtcdClient(endpoints: cluster.endpoints, watchSilenceLimit: 5)
            let revision = try etcd.put("/nc/peers/a", [1])
            let pid = cluster.pids[0]
            var resumed = false
            defer { if !resumed { kill(pid, SIGCONT) } }
            var stopped = false
            let error = #expect(throws: EtcdError.self) {
                try etcd.watch(prefix: "/nc/peers/", fromRevision: revision) { event in
                    // The first event arrives; then etcd is frozen (SIGSTOP): the kernel
                    // keeps its connections open, only the silence tells.
                    if !stopped { stopped = kill(pid, SIGSTOP) == 0 }
                    return true
                }
            }
            kill(pid, SIGCONT)
            resumed = true
            #expect(stopped)
            #expect(error?.kind == .unreachable)
            #expect(error?.description.hasPrefix("etcd at \(cluster.endpoints[0]): watch /nc/peers/ from revision \(revision): ") == true)
        }
    }

    @Test func idleWatchOutlivesItsSilenceLimit() throws {
        try withEtcd { cluster, _ in
            // Progress notifications keep an idle watch alive past the silence limit.
            let etcd = try EtcdClient(endpoints: cluster.endpoints, watchSilenceLimit: 3)
            let revision = try etcd.status().revision
            let writer = Thread {
                usleep(6_000_000)
                _ = try? etcd.put("/nc/late", [1])
            }
            writer.start()
            var seen: [String] = []
            try etcd.watch(prefix: "/nc/", fromRevision: revision + 1) { event in
                seen.append(event.keyValue.key)
                return false
            }
            #expect(seen == ["/nc/late"])
        }
    }

    @Test func tlsWithClientCertificates() throws {
        try withEtcd(tls: true) { cluster, etcd in
            #expect(cluster.endpoints[0].hasPrefix("https://127.0.0.1:"))
            try etcd.put("/nc/secure", Array("yes".utf8))
            #expect(try etcd.get("/nc/secure")?.value == Array("yes".utf8))

            let anonymous = try EtcdClient(endpoints: cluster.endpoints, tls: EtcdTLS(caFile: cluster.tls?.caFile))
            let error = #expect(throws: EtcdError.self) { try anonymous.get("/nc/secure") }
            let description = error?.description ?? ""
            #expect(description.hasPrefix("etcd at \(cluster.endpoints[0]): get /nc/secure: "))
            #expect(description.hasSuffix("etcd may require a client certificate and none was given"))
            #expect(!description.contains("\n"))

            let untrusting = try EtcdClient(endpoints: cluster.endpoints)
            #expect(throws: EtcdError.self) { try untrusting.get("/nc/secure") }
        }
    }

    @Test func unreachableFailsWithinTheTimeoutAndTheNextEndpointIsUsed() throws {
        // Nothing listens on one port; another accepts connections but never answers.
        let ports = EtcdCluster.freeLoopbackPorts(2)
        let silent = try listeningSocket(port: ports[1])
        defer { close(silent) }

        for port in ports {
            let endpoint = "http://127.0.0.1:\(port)"
            let dead = try EtcdClient(endpoints: [endpoint])
            let started = monotonicSeconds()
            let error = #expect(throws: EtcdError.self) { try dead.put("/nc/x", [1]) }
            #expect(monotonicSeconds() - started < 8)
            #expect(error?.kind == .unreachable)
            #expect(error?.description.hasPrefix("etcd at \(endpoint)") == true)
            #expect(error?.description.contains("unreachable (") == true)
            #expect(error?.description.contains("\n") == false)
        }

        try withEtcd { cluster, _ in
            let etcd = try EtcdClient(endpoints: ["http://127.0.0.1:\(ports[0])"] + cluster.endpoints)
            try etcd.put("/nc/failover", Array("ok".utf8))
            #expect(try etcd.get("/nc/failover")?.value == Array("ok".utf8))
        }
    }

    @Test func etcdctlAgrees() throws {
        try withEtcd(tls: true) { cluster, etcd in
            try etcd.put("/nc/from-netctl", Array("198.18.0.7 02:42:c6:12:00:07".utf8))
            let read = try etcdctl(cluster, ["get", "/nc/from-netctl", "--print-value-only"])
            #expect(read.status == 0)
            #expect(read.stdout == "198.18.0.7 02:42:c6:12:00:07\n")

            let written = try etcdctl(cluster, ["put", "/nc/from-etcdctl", "written by etcdctl"])
            #expect(written.status == 0, "\(written.stderr)")
            #expect(try etcd.get("/nc/from-etcdctl")?.value == Array("written by etcdctl".utf8))

            let members = try etcd.members()
            #expect(members.map(\.name) == ["m0"])
            #expect(members[0].clientURLs == cluster.endpoints)
            let status = try etcd.status()
            #expect(status.version.hasPrefix("3.4."))
            #expect(status.leader == members[0].id)
        }
    }

    @Test func threeMembersSurviveOneStopped() throws {
        try withEtcd(members: 3) { cluster, etcd in
            #expect(try etcd.members().count == 3)
            try etcd.put("/nc/quorum", [1])
            try cluster.stop(member: 0)
            #expect(cluster.pids[0] == 0)
            // The client's preferred endpoint is the stopped one: it moves on.
            let revision = try etcd.put("/nc/quorum", [2])
            #expect(try etcd.get("/nc/quorum")?.modRevision == revision)

            try cluster.start(member: 0)
            let rejoined = try EtcdClient(endpoints: [cluster.endpoints[0]])
            // The restarted member catches up (its answer is linearizable: read through the leader).
            #expect(try rejoined.get("/nc/quorum")?.value == [2])

            // Handed to another owner (as `lab up` hands etcd to `lab down`), stopped by pid.
            let pids = cluster.detach()
            #expect(pids.allSatisfy { $0 > 0 && kill($0, 0) == 0 })
            EtcdCluster.stop(pids: pids)
            #expect(pids.allSatisfy { kill($0, 0) != 0 })
        }
    }

    @Test func memberInsideANamespace() throws {
        try withTestNamespace(prefix: "ncetcd") { namespace in
            #expect(try namespace.run(["ip", "address", "add", "198.18.0.1/32", "dev", "lo"]).status == 0)
            let directory = try makeTemporaryDirectory("netctl-etcd-")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let certificates = try ClusterCertificates.make(in: "\(directory)/pki", serverAddresses: ["198.18.0.1"])
            let member = EtcdCluster.Member(name: "lab", namespace: namespace.name, address: "198.18.0.1", clientPort: 2379, peerPort: 2380)
            let cluster = try EtcdCluster.start(members: [member], directory: directory, certificates: certificates)
            defer { cluster.shutdown() }
            #expect(cluster.endpoints == ["https://198.18.0.1:2379"])
            let value = try namespace.namespace.perform {
                let etcd = try EtcdClient(endpoints: cluster.endpoints, tls: cluster.tls)
                try etcd.put("/nc/lab", Array("inside".utf8))
                return try etcd.get("/nc/lab")?.value
            }
            #expect(value == Array("inside".utf8))
        }
    }
}

@Suite struct JSONObjectSplitterTests {
    @Test func splitsAtEveryChunkBoundary() throws {
        let stream = Array(#"{"result":{"a":"}{\"","b":[1,{"c":2}]}}"#.utf8) + Array("\n".utf8) + Array(#" {"result":{}}{"x":"\\"}"#.utf8)
        let expected = [#"{"result":{"a":"}{\"","b":[1,{"c":2}]}}"#, #"{"result":{}}"#, #"{"x":"\\"}"#]
        for cut in 0...stream.count {
            var splitter = JSONObjectSplitter(limit: 1 << 20)
            var objects: [String] = []
            for part in [stream[..<cut], stream[cut...]] {
                try Array(part).withUnsafeBytes { objects += try splitter.append($0).map { String(decoding: $0, as: UTF8.self) } }
            }
            #expect(objects == expected, "cut at \(cut)")
        }
    }

    @Test func refusesOversizedAndNonObjects() {
        var small = JSONObjectSplitter(limit: 8)
        #expect(throws: JSONObjectSplitter.Failure.tooLarge) { try Array(#"{"key":"0123456789"#.utf8).withUnsafeBytes { _ = try small.append($0) } }
        var strict = JSONObjectSplitter(limit: 8)
        #expect(throws: JSONObjectSplitter.Failure.notJSON) { try Array("<html>".utf8).withUnsafeBytes { _ = try strict.append($0) } }
    }

    @Test func prefixRangeEnds() {
        #expect(EtcdClient.rangeEnd("/nc/").bytes == Array("/nc0".utf8))
        #expect(EtcdClient.rangeEnd("").bytes == [0])
    }
}

/// Runs `body` on `count` threads of their own, released together, and waits for all.
func onThreadsAtOnce(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let ready = Atomic(0)
    let done = DispatchGroup()
    for index in 0..<count {
        done.enter()
        Thread {
            ready.add(1, ordering: .sequentiallyConsistent)
            while ready.load(ordering: .sequentiallyConsistent) < count { sched_yield() }
            body(index)
            done.leave()
        }.start()
    }
    done.wait()
}

/// A socket listening on 127.0.0.1:port that never accepts: connections complete in the
/// kernel and then hear nothing, like a hung server.
func listeningSocket(port: UInt16) throws -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
    address.sin_port = port.bigEndian
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
    guard bound, listen(fd, 16) == 0 else { close(fd); throw EtcdError(.setup, "listen on 127.0.0.1:\(port): \(String(cString: strerror(errno)))") }
    return fd
}
