import DNS
import Foundation
import Glibc
import Testing
import TestSupport

/// netctl-dns end to end, without CNM: hand-written tables, a "host" namespace and
/// sandbox namespaces made by the test with the NAT of the design (127.0.0.11:53 → the
/// sandbox's port), the resolver started by `ResolverControl.sync()`, and real clients
/// (dig, busybox nslookup, glibc's getaddrinfo) asking from inside the sandboxes.
@Suite struct ResolverEndToEndTests {
    @Test func namesResolveOnSharedNetworksOnly() throws {
        try withTestNamespaces(4, prefix: "nctd") { namespaces in
            let (host, a, b, c) = (namespaces[0], namespaces[1], namespaces[2], namespaces[3])
            let lab = try ResolverLab(host: host, sandboxes: [a, b, c], upstream: nil)
            defer { lab.stop() }
            try lab.writeTables()
            try lab.control.sync()

            // dig: A, AAAA, the network-scoped name, an alias two records share, PTR.
            #expect(try lab.dig(a, "db") == ["198.18.0.3"])
            #expect(try lab.dig(b, "SITE", "AAAA") == ["2001:db8::2"])
            #expect(try lab.dig(b, "site.web.") == ["198.18.0.2"])
            #expect(try lab.dig(a, "www").sorted() == ["198.18.0.2", "198.18.0.3"])
            #expect(try lab.dig(a, "db", "AAAA") == [])
            #expect(try lab.dig(a, "-x", "198.18.0.3") == ["db."])
            #expect(try lab.dig(b, "-x", "2001:db8::2") == ["site."])
            #expect(try lab.dig(b, "site", "+tcp") == ["198.18.0.2"])
            // A name on a network the sandbox is not on is not answered with its address
            // (no upstream here: SERVFAIL).
            let lonely = try a.run(["dig", "+time=2", "+tries=1", "@127.0.0.11", "lonely"])
            #expect(lonely.stdout.contains("status: SERVFAIL") && !lonely.stdout.contains("198.18.1.2"))
            #expect(try lab.dig(c, "lonely") == ["198.18.1.2"])
            #expect(try lab.dig(c, "-x", "198.18.0.2") == [])

            // busybox nslookup (A and AAAA).
            let nslookup = try b.run(["busybox", "nslookup", "site", "127.0.0.11"])
            #expect(nslookup.stdout.contains("198.18.0.2") && nslookup.stdout.contains("2001:db8::2"), "\(nslookup.stdout)\(nslookup.stderr)")

            // glibc's getaddrinfo, with resolv.conf as a container sees it.
            let resolvConf = lab.root + "/resolv.conf"
            try "nameserver 127.0.0.11\noptions ndots:0\n".write(toFile: resolvConf, atomically: true, encoding: .utf8)
            let python = "import socket; print(' '.join(sorted({a[4][0] for a in socket.getaddrinfo('www', 80, proto=socket.IPPROTO_TCP)})))"
            let resolved = try a.run(["unshare", "-m", "sh", "-c", "mount --bind \(resolvConf) /etc/resolv.conf && exec /usr/bin/python3 -c \"\(python)\""])
            #expect(resolved.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "198.18.0.2 198.18.0.3 2001:db8::2", "\(resolved.stderr)")
        }
    }

    @Test func otherNamesAreForwardedOverUDPAndTCP() throws {
        try withTestNamespaces(4, prefix: "nctd") { namespaces in
            let (host, a, c, upstream) = (namespaces[0], namespaces[1], namespaces[2], namespaces[3])
            let lab = try ResolverLab(host: host, sandboxes: [a, c], upstream: upstream)
            defer { lab.stop() }
            try lab.writeTables(upstreams: [ResolverLab.upstreamAddress])
            try lab.control.sync()

            // UDP, the upstream's TTL kept.
            let external = try a.run(["dig", "+time=3", "+tries=1", "@127.0.0.11", "ext.example"])
            #expect(external.stdout.contains("ext.example.\t\t1234\tIN\tA\t198.18.99.1"), "\(external.stdout)")
            // A name of a network not shared goes upstream, which knows nothing of it.
            let lonely = try a.run(["dig", "+time=3", "+tries=1", "@127.0.0.11", "lonely"])
            #expect(lonely.stdout.contains("status: NXDOMAIN") && !lonely.stdout.contains("198.18.1.2"))
            // Truncated over UDP: dig retries over TCP, which is forwarded over TCP.
            let big = try a.run(["dig", "+time=3", "+tries=1", "@127.0.0.11", "big.example"])
            #expect(big.stdout.contains("Truncated, retrying in TCP mode"), "\(big.stdout)")
            #expect(big.stdout.contains("(TCP)"))
            #expect(big.stdout.components(separatedBy: "\t4321\tIN\tA\t198.18.100.").count == 61, "\(big.stdout)")
            // Local names still local.
            #expect(try lab.dig(a, "site") == ["198.18.0.2"])
        }
    }

    @Test func theResolverSurvivesSIGKILLAndGarbage() throws {
        try withTestNamespaces(3, prefix: "nctd") { namespaces in
            let (host, a, b) = (namespaces[0], namespaces[1], namespaces[2])
            let lab = try ResolverLab(host: host, sandboxes: [a, b], upstream: nil)
            defer { lab.stop() }
            try lab.writeTables()
            try lab.control.sync()
            let first = try #require(lab.control.runningPID())

            kill(first, SIGKILL)
            var status: Int32 = 0
            waitpid(first, &status, 0)
            #expect(lab.control.runningPID() == nil)
            try lab.control.sync()
            let second = try #require(lab.control.runningPID())
            #expect(second != first)
            #expect(try lab.dig(a, "db") == ["198.18.0.3"])
            #expect(try lab.dig(b, "-x", "198.18.0.2") == ["site."])

            // Random bytes, a pointer loop (answered FORMERR), and a TCP client that
            // announces 65535 bytes and leaves.
            let script = """
            import os, socket
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            for i in range(300): s.sendto(os.urandom(i % 120 + 1), ("127.0.0.11", 53))
            s.sendto(bytes(range(256)) * 4, ("127.0.0.11", 53))
            loop = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            loop.settimeout(1)
            for attempt in range(5):  # the flood above may have filled the socket's buffer
                loop.sendto(bytes([0xab, 0xcd, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0, 1, 0, 1]), ("127.0.0.11", 53))
                try:
                    reply = loop.recv(512)
                    print("rcode", reply[3] & 15, "id", reply[:2].hex())
                    break
                except socket.timeout:
                    pass
            t = socket.create_connection(("127.0.0.11", 53))
            t.sendall(b"\\xff\\xff")
            t.close()
            t = socket.create_connection(("127.0.0.11", 53))
            t.sendall(b"\\x00\\x05hello")
            t.shutdown(socket.SHUT_WR)
            print("tcp", len(t.recv(100)))
            """
            let garbage = try a.run(["/usr/bin/python3", "-c", script])
            #expect(garbage.stdout.contains("rcode 1 id abcd"), "\(garbage.stdout)\(garbage.stderr)")
            #expect(try lab.dig(a, "db") == ["198.18.0.3"])
            #expect(try lab.dig(a, "db", "+tcp") == ["198.18.0.3"])
            #expect(lab.control.runningPID() == second)
        }
    }

    @Test func aSandboxThatCannotBeBoundIsReportedAndTheLastOneGoneEndsTheResolver() throws {
        try withTestNamespaces(2, prefix: "nctd") { namespaces in
            let (host, a) = (namespaces[0], namespaces[1])
            let lab = try ResolverLab(host: host, sandboxes: [a], upstream: nil)
            defer { lab.stop() }
            try lab.writeTables()
            let tables = ResolverTables(root: lab.root)
            try tables.write(sandbox: "ghost", SandboxTable(namespace: "/run/netns/\(uniqueName("nctdghost"))", port: 40053, upstreams: []))
            #expect {
                try lab.control.sync()
            } throws: { error in
                "\(error)".contains("sandbox ghost: open /run/netns/")
            }
            #expect(try lab.dig(a, "site") == ["198.18.0.2"])

            let pid = try #require(lab.control.runningPID())
            tables.removeSandbox("ghost")
            tables.removeSandbox(a.name)
            try lab.control.sync(start: false)
            var status: Int32 = 0
            #expect(waitpid(pid, &status, 0) == pid && status == 0)
            #expect(access(tables.paths.control, F_OK) != 0 && access(tables.paths.pidFile, F_OK) != 0)
        }
    }
}

/// A state root with tables for the sandboxes given (the first two on network "web",
/// a third alone on "other"), the NAT in each sandbox, optionally an upstream server in a
/// namespace of its own behind the host's veth; stops the resolver and the server by pid.
final class ResolverLab {
    static let port: UInt16 = 40053
    static let upstreamAddress = "198.18.53.53"

    let root: String
    let host: TestNamespace
    let sandboxes: [TestNamespace]
    var control: ResolverControl
    private var upstreamServer: Process?

    static var binary: String {
        let environment = ProcessInfo.processInfo.environment
        if let path = environment["NETCTL_DNS_BINARY"] { return path }
        if let netctl = environment["NETCTL_BINARY"] { return URL(fileURLWithPath: netctl).deletingLastPathComponent().appendingPathComponent("netctl-dns").path }
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return package.appendingPathComponent(".build/debug/netctl-dns").path
    }

    init(host: TestNamespace, sandboxes: [TestNamespace], upstream: TestNamespace?) throws {
        self.host = host
        self.sandboxes = sandboxes
        root = NSTemporaryDirectory() + uniqueName("ncdns-root-")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        control = ResolverControl(root: root, executable: Self.binary, hostNamespace: host.name)
        // Gone with its last sandbox, which a test below waits for.
        control.lingerSeconds = 0
        for sandbox in sandboxes { try installNAT(in: sandbox) }
        if let upstream { try startUpstream(in: upstream) }
    }

    /// dns-spec §2: `nft add table ip netctl-dns` with the two DNAT rules.
    private func installNAT(in sandbox: TestNamespace) throws {
        let rules = """
        table ip netctl-dns {
            chain output {
                type nat hook output priority -100;
                ip daddr 127.0.0.11 udp dport 53 dnat to 127.0.0.11:\(Self.port)
                ip daddr 127.0.0.11 tcp dport 53 dnat to 127.0.0.11:\(Self.port)
            }
        }
        """
        let file = "\(root)/nat-\(sandbox.name).nft"
        try rules.write(toFile: file, atomically: true, encoding: .utf8)
        try check(sandbox.run(["nft", "-f", file]), "nft -f")
    }

    /// Network "web" (n1): sandbox 0 as site/www, sandbox 1 as db/www; network "other"
    /// (n2): sandbox 2 as lonely. Each sandbox served on `port` with `upstreams`.
    func writeTables(upstreams: [String] = []) throws {
        let tables = ResolverTables(root: root)
        var web: [NameRecord] = []
        if sandboxes.count > 0 { web.append(NameRecord(names: ["site", "www"], ipv4: "198.18.0.2", ipv6: "2001:db8::2", sandbox: sandboxes[0].name)) }
        if sandboxes.count > 1 { web.append(NameRecord(names: ["db", "www"], ipv4: "198.18.0.3", ipv6: nil, sandbox: sandboxes[1].name)) }
        try tables.write(network: "n1", NetworkTable(name: "web", records: web))
        if sandboxes.count > 2 {
            try tables.write(network: "n2", NetworkTable(name: "other", records: [NameRecord(names: ["lonely"], ipv4: "198.18.1.2", ipv6: nil, sandbox: sandboxes[2].name)]))
        }
        for sandbox in sandboxes {
            try tables.write(sandbox: sandbox.name, SandboxTable(namespace: "/run/netns/\(sandbox.name)", port: Self.port, upstreams: upstreams))
        }
    }

    /// The answers' data of `dig @127.0.0.11 ARGS… +short` from inside `sandbox`.
    func dig(_ sandbox: TestNamespace, _ arguments: String...) throws -> [String] {
        let result = try sandbox.run(["dig", "+time=3", "+tries=1", "+short", "@127.0.0.11"] + arguments)
        guard result.status == 0 else { throw HarnessError("dig \(arguments) exited \(result.status): \(result.stdout)\(result.stderr)") }
        return result.stdout.split(separator: "\n").map(String.init).filter { !$0.hasPrefix(";") }
    }

    /// The upstream: a veth from the host namespace to a namespace of its own, and a small
    /// DNS server there (Python) that answers `ext.example` over UDP, truncates
    /// `big.example` over UDP and answers it in full over TCP, NXDOMAIN for the rest.
    private func startUpstream(in upstream: TestNamespace) throws {
        try check(runCommand(["ip", "-n", host.name, "link", "add", "dns0", "type", "veth", "peer", "name", "dns1", "netns", upstream.name]), "veth")
        try check(runCommand(["ip", "-n", host.name, "addr", "add", "198.18.53.1/24", "dev", "dns0"]), "addr")
        try check(runCommand(["ip", "-n", host.name, "link", "set", "dns0", "up"]), "up")
        try check(runCommand(["ip", "-n", upstream.name, "addr", "add", "\(Self.upstreamAddress)/24", "dev", "dns1"]), "addr")
        try check(runCommand(["ip", "-n", upstream.name, "link", "set", "dns1", "up"]), "up")
        let script = "\(root)/upstream.py"
        try Self.upstreamScript.write(toFile: script, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["ip", "netns", "exec", upstream.name, "/usr/bin/python3", script, Self.upstreamAddress]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        upstreamServer = process
        for _ in 0..<50 {
            let probe = try host.run(["dig", "+time=1", "+tries=1", "+short", "@\(Self.upstreamAddress)", "ext.example"])
            if probe.stdout.contains("198.18.99.1") { return }
            usleep(100_000)
        }
        throw HarnessError("the upstream DNS server did not answer")
    }

    private func check(_ result: CommandResult, _ what: String) throws {
        guard result.status == 0 else { throw HarnessError("\(what): \(result.stderr)") }
    }

    /// SIGTERM to the resolver by its pid file (then SIGKILL), the upstream server by pid;
    /// the state root removed.
    func stop() {
        if let text = try? String(contentsOfFile: ResolverPaths(root: root).pidFile, encoding: .utf8),
           let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
            kill(pid, SIGTERM)
            var status: Int32 = 0
            var reaped = false
            for _ in 0..<200 {
                let result = waitpid(pid, &status, WNOHANG)
                if result == pid || (result < 0 && kill(pid, 0) != 0) { reaped = true; break }
                usleep(10_000)
            }
            if !reaped {
                kill(pid, SIGKILL)
                waitpid(pid, &status, 0)
            }
        }
        if let server = upstreamServer {
            kill(server.processIdentifier, SIGKILL)
            server.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: root)
    }

    static let upstreamScript = #"""
    import socket, struct, sys, threading
    ADDRESS = sys.argv[1]

    def answer(message, tcp):
        offset, labels = 12, []
        while message[offset]:
            labels.append(message[offset + 1:offset + 1 + message[offset]].decode().lower())
            offset += message[offset] + 1
        end = offset + 5
        name, qtype = ".".join(labels), struct.unpack("!H", message[offset + 1:offset + 3])[0]
        flags, answers = 0x8180, []
        if name == "ext.example" and qtype == 1:
            answers = [(bytes([198, 18, 99, 1]), 1234)]
        elif name == "big.example" and qtype == 1:
            if tcp:
                answers = [(bytes([198, 18, 100, i]), 4321) for i in range(1, 61)]
            else:
                flags |= 0x0200
        elif name not in ("ext.example", "big.example"):
            flags |= 3
        reply = message[:2] + struct.pack("!HHHHH", flags, 1, len(answers), 0, 0) + message[12:end]
        for address, ttl in answers:
            reply += struct.pack("!HHHIH", 0xC00C, 1, 1, ttl, 4) + address
        return reply

    def serve_udp():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((ADDRESS, 53))
        while True:
            message, peer = s.recvfrom(65535)
            try:
                s.sendto(answer(message, False), peer)
            except Exception:
                pass

    def serve_tcp_client(c):
        with c:
            while True:
                head = c.recv(2, socket.MSG_WAITALL)
                if len(head) < 2:
                    return
                message = c.recv(struct.unpack("!H", head)[0], socket.MSG_WAITALL)
                reply = answer(message, True)
                c.sendall(struct.pack("!H", len(reply)) + reply)

    threading.Thread(target=serve_udp, daemon=True).start()
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((ADDRESS, 53))
    listener.listen(16)
    while True:
        client, _ = listener.accept()
        threading.Thread(target=serve_tcp_client, args=(client,), daemon=True).start()
    """#
}
