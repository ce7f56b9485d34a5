import Foundation
import Netlink
import TestSupport
import Testing

/// `netctl lab` run as a user would: labs of the test's own (unique names, a state
/// directory in a temporary folder), always taken down, and checked to leave nothing.
@Suite("netctl lab")
struct LabTests {
    /// A lab name of its own: ≤ 8 letters and digits.
    static func labName() -> String { "l" + String(UInt32.random(in: 0...UInt32.max) % 0x1000_0000, radix: 16) }

    /// Runs `body` with a topology file written from `yaml` (NAME replaced by a unique lab
    /// name) and a lab directory; whatever happens, the lab is taken down after, and
    /// nothing of it may remain.
    func withLab(_ yaml: String, _ body: (_ name: String, _ file: String, _ directory: String) throws -> Void) throws {
        let name = Self.labName()
        let folder = NSTemporaryDirectory() + uniqueName("netctl-lab-")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let file = folder + "/lab.yaml", directory = folder + "/state"
        try yaml.replacingOccurrences(of: "NAME", with: name).write(toFile: file, atomically: true, encoding: .utf8)
        defer {
            _ = try? runCommand([NetctlHarness.binary, "lab", "down", "--dir", directory, name])
            #expect(Self.leftovers(name, directory).isEmpty)
        }
        try body(name, file, directory)
    }

    /// Namespaces, processes and the directory a lab left behind.
    static func leftovers(_ name: String, _ directory: String) -> [String] {
        var found = NetworkNamespace.names().filter { $0.hasPrefix(name + "-") }.map { "namespace \($0)" }
        for pid in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] where Int32(pid) != nil {
            if let command = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
               String(decoding: command, as: UTF8.self).contains(directory) {
                found.append("process \(pid): \(String(decoding: command, as: UTF8.self).replacingOccurrences(of: "\0", with: " "))")
            }
        }
        if FileManager.default.fileExists(atPath: directory) { found.append("directory \(directory)") }
        if FileManager.default.fileExists(atPath: "/run/netctl-lab/.\(name).lock") { found.append("lock /run/netctl-lab/.\(name).lock") }
        return found
    }

    static let underlay = """
        name: NAME
        etcd: { members: 1, segment: seg1 }
        segments:
          - { name: seg1, subnet: 198.18.1.0/24 }
          - { name: seg2, subnet: 198.18.2.0/24 }
        routers:
          - { name: r1, segments: [seg1, seg2] }
        hosts:
          - { name: h1, segment: seg1 }
          - { name: h2, segment: seg1 }
          - { name: h3, segment: seg2 }
        """

    @Test func underlayRoutesBetweenSegmentsAndEtcdAnswersOverTLS() throws {
        try withLab(Self.underlay) { name, file, directory in
            let up = try runCommand([NetctlHarness.binary, "lab", "up", "--dir", directory, file])
            try #require(up.status == 0, "\(up.stderr)")
            let exec = { (host: String, command: [String]) in
                try runCommand([NetctlHarness.binary, "lab", "exec", "--dir", directory, host, "--"] + command,
                               environment: ["NETCTL_HOST_NETNS": "not-a-lab-host"])
            }

            // Same segment: no router, TTL 64. Across the router: TTL 63.
            let near = try exec("h1", ["ping", "-n", "-c", "1", "-W", "2", "198.18.1.12"])
            #expect(near.status == 0 && near.stdout.contains("ttl=64"), "\(near.stdout)\(near.stderr)")
            let far = try exec("h1", ["ping", "-n", "-c", "1", "-W", "2", "198.18.2.11"])
            #expect(far.status == 0 && far.stdout.contains("ttl=63"), "\(far.stdout)\(far.stderr)")
            let back = try exec("h3", ["ping", "-n", "-c", "1", "-W", "2", "198.18.1.11"])
            #expect(back.status == 0, "\(back.stdout)\(back.stderr)")
            // Only routers forward.
            let forwarding = try exec("h1", ["cat", "/proc/sys/net/ipv4/ip_forward"])
            #expect(forwarding.stdout == "0\n")

            // The host's environment; the mount namespace stays this machine's.
            let environment = try exec("h3", ["env"]).stdout.split(separator: "\n").map(String.init)
            #expect(environment.contains("NETCTL_ROOT=\(directory)/hosts/h3/root"))
            #expect(environment.contains("NETCTL_NODE_NAME=h3"))
            #expect(environment.contains("NETCTL_ADVERTISE_ADDR=198.18.2.11"))
            #expect(environment.contains("NETCTL_CLUSTER_STORE=etcd://198.18.1.13:2379"))
            #expect(environment.contains("NETCTL_DEFAULT_ADDRESS_POOLS=base=198.19.0.0/16,size=24"))
            #expect(!environment.contains { $0.hasPrefix("NETCTL_HOST_NETNS=") })
            let mountNamespace = try exec("h3", ["readlink", "/proc/self/ns/mnt"]).stdout
            #expect(mountNamespace == (try runCommand(["readlink", "/proc/self/ns/mnt"]).stdout))
            let status = try exec("h2", ["sh", "-c", "exit 7"])
            #expect(status.status == 7)

            // etcd over TLS with the lab's client certificate, from a host across the router;
            // the real peer tool writes and reads back.
            let etcdctl = """
                ETCDCTL_API=3 etcdctl --endpoints=https://${NETCTL_CLUSTER_STORE#etcd://} --cacert=$NETCTL_CLUSTER_CA \
                --cert=$NETCTL_CLUSTER_CERT --key=$NETCTL_CLUSTER_KEY --command-timeout=5s
                """
            let put = try exec("h3", ["sh", "-c", "\(etcdctl) put /lab/greeting hello && \(etcdctl) get --print-value-only /lab/greeting"])
            #expect(put.status == 0 && put.stdout == "OK\nhello\n", "\(put.stdout)\(put.stderr)")
            // Without the client certificate etcd refuses.
            let refused = try exec("h3", ["sh", "-c", "ETCDCTL_API=3 etcdctl --endpoints=https://${NETCTL_CLUSTER_STORE#etcd://} --cacert=$NETCTL_CLUSTER_CA --command-timeout=3s get /lab/greeting"])
            #expect(refused.status != 0)

            let report = try runCommand([NetctlHarness.binary, "lab", "status", "--dir", directory])
            #expect(report.status == 0 && report.stdout.contains("etcd running") && report.stdout.contains("healthy"), "\(report.stdout)\(report.stderr)")

            // Down leaves nothing, and a second down finds nothing to do.
            let down = try runCommand([NetctlHarness.binary, "lab", "down", "--dir", directory, name])
            #expect(down.status == 0, "\(down.stderr)")
            #expect(Self.leftovers(name, directory).isEmpty)
            let again = try runCommand([NetctlHarness.binary, "lab", "down", "--dir", directory, name])
            #expect(again.status == 0, "\(again.stderr)")
        }
    }

    /// A lab killed halfway: its namespaces and etcd are there, its state may be anything.
    /// `lab down NAME` still leaves nothing of it, and takes nothing that is not its own.
    @Test func downClearsAKilledLab() throws {
        try withLab(Self.underlay) { name, file, directory in
            let up = try runCommand([NetctlHarness.binary, "lab", "up", "--dir", directory, file])
            try #require(up.status == 0, "\(up.stderr)")
            try FileManager.default.removeItem(atPath: directory + "/state.json")
            // A namespace whose name only starts like the lab's is not the lab's.
            let foreign = "\(name)-other"
            try NetworkNamespace.create(named: foreign)
            defer { try? NetworkNamespace.remove(named: foreign) }
            let down = try runCommand([NetctlHarness.binary, "lab", "down", "--dir", directory, name])
            #expect(down.status == 0, "\(down.stderr)")
            #expect(NetworkNamespace.exists(named: foreign))
            try NetworkNamespace.remove(named: foreign)
            #expect(Self.leftovers(name, directory).isEmpty)
        }
    }

    /// An up that fails halfway (the underlay and etcd made, then a container whose
    /// image is not there) takes down what it made and says why in one line.
    @Test func failedUpLeavesNothing() throws {
        try withLab(Self.underlay + "\ncontainers:\n  - { name: c1, host: h3, image: no-such-layout }\n") { name, file, directory in
            let up = try runCommand([NetctlHarness.binary, "lab", "up", "--dir", directory, file])
            #expect(up.status != 0)
            #expect(up.stderr.contains("image \"no-such-layout\": no such file"), "\(up.stderr)")
            #expect(up.stderr.split(separator: "\n").count == 1, "\(up.stderr)")
            #expect(Self.leftovers(name, directory).isEmpty)
        }
    }

    /// A lab already up is not built over.
    @Test func secondUpIsRefused() throws {
        try withLab(Self.underlay) { name, file, directory in
            let up = try runCommand([NetctlHarness.binary, "lab", "up", "--dir", directory, file])
            try #require(up.status == 0, "\(up.stderr)")
            let again = try runCommand([NetctlHarness.binary, "lab", "up", "--dir", directory, file])
            #expect(again.status != 0 && again.stderr.contains("lab \"\(name)\" is already up"), "\(again.stderr)")
            let status = try runCommand([NetctlHarness.binary, "lab", "status", "--dir", directory])
            #expect(status.stdout.contains("h3") && !status.stdout.contains("missing"), "\(status.stdout)")
        }
    }

    /// The seed's figure 10.1 with overlays: three hosts over two routed segments, two
    /// overlays (one with two subnets), sandboxes on every host. `lab test` passes: one
    /// hop, full MTU with DF, isolation, VXLAN with the network's VNI on the router.
    @Test func twoSegmentLabWithOverlaysPassesLabTest() throws {
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let example = try String(contentsOf: package.appendingPathComponent("examples/labs/two-segments.yaml"), encoding: .utf8)
        try withLab(example.replacingOccurrences(of: "name: two\n", with: "name: NAME\n")) { name, file, directory in
            let up = try runCommand([NetctlHarness.binary, "lab", "up", "--dir", directory, file])
            try #require(up.status == 0, "\(up.stderr)")
            let test = try runCommand([NetctlHarness.binary, "lab", "test", "--dir", directory])
            #expect(test.status == 0, "\(test.stdout)\(test.stderr)")
            let lines = test.stdout.split(separator: "\n")
            #expect(!lines.isEmpty && lines.allSatisfy { $0.hasPrefix("PASS") }, "\(test.stdout)")
            #expect(lines.contains { $0.contains("red: a1 (h1) -> a3 (h3)") && $0.contains("ttl 64") })
            #expect(lines.contains { $0.contains("vxlan: red: capture on router r1") })
            #expect(lines.contains { $0.contains("vxlan: blue: capture on router r1") })
            #expect(lines.contains { $0.contains("isolation: underlay host h2 -> a3") })

            // The overlay is cluster-wide: made on h1, seen from h3 with its VNI.
            let inspect = try runCommand([NetctlHarness.binary, "lab", "exec", "--dir", directory, "h3", "--", "netctl", "network", "inspect", "red"])
            #expect(inspect.status == 0 && inspect.stdout.contains("\"Scope\" : \"global\"") || inspect.stdout.contains("\"Scope\": \"global\""), "\(inspect.stdout)\(inspect.stderr)")
            let status = try runCommand([NetctlHarness.binary, "lab", "status", "--dir", directory])
            #expect(status.stdout.contains("agent running") && !status.stdout.contains("agent not running"), "\(status.stdout)")
        }
    }

    /// Containers from an image (`image: busybox`, built by the lab from busybox-static)
    /// and a sandbox on one overlay across the router: `lab test` passes, and down removes
    /// the containers with everything else.
    @Test func imageContainersJoinOverlays() throws {
        let yaml = """
            name: NAME
            segments:
              - { name: seg1, subnet: 198.18.1.0/24 }
              - { name: seg2, subnet: 198.18.2.0/24 }
            routers:
              - { name: r1, segments: [seg1, seg2] }
            hosts:
              - { name: h1, segment: seg1 }
              - { name: h2, segment: seg2 }
            networks:
              - { name: red, subnets: [198.18.100.0/24] }
            containers:
              - { name: a1, host: h1, networks: [red], image: busybox }
              - { name: a2, host: h2, networks: [red], image: busybox }
              - { name: s1, host: h2, networks: [red] }
            """
        try withLab(yaml) { name, file, directory in
            let up = try runCommand([NetctlHarness.binary, "lab", "up", "--dir", directory, file])
            try #require(up.status == 0, "\(up.stderr)")
            let ps = try runCommand([NetctlHarness.binary, "lab", "exec", "--dir", directory, "h2", "--", "netctl", "ps"])
            #expect(ps.stdout.contains("a2") && ps.stdout.contains("Up"), "\(ps.stdout)\(ps.stderr)")
            let test = try runCommand([NetctlHarness.binary, "lab", "test", "--dir", directory])
            #expect(test.status == 0, "\(test.stdout)\(test.stderr)")
            #expect(test.stdout.contains("PASS  red: a1 (h1) -> a2 (h2)"), "\(test.stdout)")
            let inspect = try runCommand([NetctlHarness.binary, "lab", "exec", "--dir", directory, "h1", "--", "netctl", "inspect", "a1"])
            let shown = try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [[String: Any]]
            let pid = (shown?.first?["State"] as? [String: Any])?["Pid"] as? Int ?? 0
            #expect(pid > 0, "\(inspect.stdout)")
            let down = try runCommand([NetctlHarness.binary, "lab", "down", "--dir", directory, name])
            #expect(down.status == 0, "\(down.stderr)")
            if pid > 0 { #expect(kill(Int32(pid), 0) != 0, "container a1 (pid \(pid)) still runs") }
        }
    }

    /// Two `lab up` of one lab at once, into different directories: one builds it, the
    /// other waits its turn and refuses, touching nothing of the first.
    @Test func concurrentUpsOfOneLabTakeTurns() throws {
        try withLab(Self.underlay) { name, file, directory in
            let other = directory + "-other"
            let results = try runConcurrently([
                [NetctlHarness.binary, "lab", "up", "--dir", directory, file],
                [NetctlHarness.binary, "lab", "up", "--dir", other, file],
            ])
            #expect(results.filter { $0.status == 0 }.count == 1, "\(results.map(\.stderr))")
            let loser = try #require(results.first { $0.status != 0 })
            #expect(loser.stderr.contains("lab \"\(name)\" is already up"), "\(loser.stderr)")
            let winner = results[0].status == 0 ? directory : other
            let ping = try runCommand([NetctlHarness.binary, "lab", "exec", "--dir", winner, "h1", "--", "ping", "-n", "-c", "1", "-W", "2", "198.18.2.11"])
            #expect(ping.status == 0, "\(ping.stdout)\(ping.stderr)")
            let down = try runCommand([NetctlHarness.binary, "lab", "down", "--dir", winner, name])
            #expect(down.status == 0, "\(down.stderr)")
            #expect(Self.leftovers(name, other).isEmpty)
        }
    }

    /// quorum.yaml: three etcd members behind two routers. With one member stopped, a new
    /// overlay is made and joined from two hosts and carries traffic in one hop.
    @Test func quorumLabGoesOnWithOneEtcdMemberStopped() throws {
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let example = try String(contentsOf: package.appendingPathComponent("examples/labs/quorum.yaml"), encoding: .utf8)
        try withLab(example.replacingOccurrences(of: "name: quorum\n", with: "name: NAME\n")) { name, file, directory in
            let up = try runCommand([NetctlHarness.binary, "lab", "up", "--dir", directory, file])
            try #require(up.status == 0, "\(up.stderr)")
            let state = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: directory + "/state.json"))) as? [String: Any]
            let member = ((state?["etcd"] as? [String: Any])?["etcd2"] as? [String: Any])?["pid"] as? Int
            let pid = try #require(member)
            kill(Int32(pid), SIGTERM)
            while kill(Int32(pid), 0) == 0, (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?.contains(") Z ") == false { usleep(20_000) }

            let exec = { (host: String, command: [String]) in
                try runCommand([NetctlHarness.binary, "lab", "exec", "--dir", directory, host, "--"] + command)
            }
            let create = try exec("h2", ["netctl", "network", "create", "-d", "overlay", "--subnet", "198.18.111.0/24", "green"])
            #expect(create.status == 0, "\(create.stderr)")
            for (host, sandbox) in [("h1", "\(name)-c-g1"), ("h2", "\(name)-c-g2")] {
                #expect(try exec(host, ["netctl", "sandbox", "create", sandbox]).status == 0)
                let connect = try exec(host, ["netctl", "network", "connect", "--ip", host == "h1" ? "198.18.111.21" : "198.18.111.22", "green", sandbox])
                #expect(connect.status == 0, "\(connect.stderr)")
            }
            let ping = try runCommand(["ip", "netns", "exec", "\(name)-c-g1", "ping", "-n", "-c", "1", "-W", "2", "198.18.111.22"])
            #expect(ping.status == 0 && ping.stdout.contains("ttl=64"), "\(ping.stdout)\(ping.stderr)")
            let status = try runCommand([NetctlHarness.binary, "lab", "status", "--dir", directory])
            #expect(status.stdout.contains("etcd2 unhealthy") && status.stdout.contains("etcd1 healthy") && status.stdout.contains("etcd3 healthy"), "\(status.stdout)")
        }
    }

    struct Malformed: CustomTestStringConvertible, Sendable {
        var yaml: String
        var message: String
        var testDescription: String { message }
    }

    static let malformed: [Malformed] = [
        Malformed(yaml: """
            name: NAME
            segments:
              - { name: seg1, subnet: 198.18.1.0/24 }
              - { name: seg2, subnet: 198.18.2.0/24 }
            hosts:
              - { name: h1, segment: seg1 }
              - { name: h3, segment: seg9 }
            """, message: "lab.yaml:7: host \"h3\": segment \"seg9\" is not defined (expected one of seg1, seg2)"),
        Malformed(yaml: """
            name: NAME
            segments:
              - { name: seg1, subnet: 198.18.1.0/24, colour: blue }
            hosts:
              - { name: h1, segment: seg1 }
            """, message: "lab.yaml:3: segment: unknown key \"colour\" (expected name, subnet, mtu)"),
        Malformed(yaml: """
            name: NAME
            segments:
              - { name: seg1, subnet: 10.0.0.0/24 }
            hosts:
              - { name: h1, segment: seg1 }
            """, message: "lab.yaml:3: segment \"seg1\": subnet 10.0.0.0/24 is outside 198.18.0.0/15"),
        Malformed(yaml: """
            name: NAME
            segments:
              - { name: seg1, subnet: 198.18.1.0/24 }
              - { name: seg2, subnet: 198.18.2.0/24 }
            hosts:
              - { name: h1, segment: seg1 }
              - { name: h2, segment: seg2 }
            """, message: "lab.yaml:7: host \"h2\": segment \"seg2\" has no route to h1's segment \"seg1\" (expected a router joining them)"),
        Malformed(yaml: """
            name: NAME
            segments:
              - { name: seg1, subnet: 198.18.1.0/24 }
            hosts:
              - { name: averyveryverylongname, segment: seg1 }
            """, message: "lab.yaml:5: host name \"averyveryverylongname\" is not 1 to 12 letters or digits"),
        Malformed(yaml: """
            name: NAME
            etcd: { members: 2 }
            segments:
              - { name: seg1, subnet: 198.18.1.0/24 }
            hosts:
              - { name: h1, segment: seg1 }
            """, message: "lab.yaml:2: etcd: members 2 (expected 1 or 3)"),
        Malformed(yaml: """
            name: NAME
            segments:
              - { name: seg1, subnet: 198.18.1.0/24 }
            hosts:
              - { name: h1, segment: seg1 }
            networks:
              - { name: red, subnets: [198.18.1.128/25] }
            """, message: "lab.yaml:7: network \"red\": subnet 198.18.1.128/25 overlaps segment \"seg1\" (198.18.1.0/24)"),
        Malformed(yaml: """
            name: NAME
            segments:
              - { name: seg1, subnet: 198.18.1.0/24 }
            hosts:
              - { name: h1, segment: seg1 }
            containers:
              - { name: c1, host: h2 }
            """, message: "lab.yaml:7: container \"c1\": host \"h2\" is not defined (expected one of h1)"),
        Malformed(yaml: """
            name: NAME
            segments:
              - { name: seg1, subnet: 198.18.1.0/24
            hosts: []
            """, message: "lab.yaml:4: not valid YAML"),
    ]

    /// A malformed file is refused in one line naming the line, with nothing made.
    @Test(arguments: malformed)
    func malformedFileIsRefused(_ bad: Malformed) throws {
        try withLab(bad.yaml) { name, file, directory in
            let up = try runCommand([NetctlHarness.binary, "lab", "up", "--dir", directory, file])
            #expect(up.status != 0)
            #expect(up.stderr.contains(bad.message), "\(up.stderr)")
            #expect(up.stderr.split(separator: "\n").count == 1, "\(up.stderr)")
            #expect(Self.leftovers(name, directory).isEmpty)
        }
    }

    @Test func oversizedFileIsRefused() throws {
        try withLab(Self.underlay + "\n#" + String(repeating: "x", count: 1 << 20)) { name, file, directory in
            let up = try runCommand([NetctlHarness.binary, "lab", "up", "--dir", directory, file])
            #expect(up.status != 0 && up.stderr.contains("larger than 1048576 bytes"), "\(up.stderr)")
            #expect(Self.leftovers(name, directory).isEmpty)
        }
    }
}
