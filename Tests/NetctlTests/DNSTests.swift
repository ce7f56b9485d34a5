import Foundation
import Netlink
import TestSupport
import Testing

/// Names on networks, end to end: containers run by the built netctl ask the resolver it
/// starts (netctl-dns) through 127.0.0.11, with the real clients — busybox nslookup and
/// ping inside containers, dig and glibc's getaddrinfo (Python) from their namespaces.
@Suite("netctl: names on networks", .serialized)
struct DNSTests {
    @Test func twoContainersOnANetworkReachEachOtherByNameAndAliasAndOthersCannotResolveThem() throws {
        try withNetctl { netctl in
            let image = try netctl.importBusybox()
            try netctl.ok("network", "create", "--ipv6", "--subnet", "198.18.40.0/24", "--subnet", "2001:db8:40::/64", "names")
            try netctl.ok("network", "create", "--subnet", "198.18.41.0/24", "elsewhere")
            let web = try netctl.runDetached("--name", "web", "--network", "names", "--network-alias", "site", image)
            let client = try netctl.runDetached("--name", "client", "--hostname", "cli", "--network", "names", image)
            let outsider = try netctl.runDetached("--name", "outsider", "--network", "elsewhere", image)

            // As Docker writes it.
            let resolvConf = try netctl.ok("exec", "client", "cat", "/etc/resolv.conf")
            #expect(resolvConf.hasPrefix("nameserver 127.0.0.11\n"))
            #expect(resolvConf.contains("options ndots:0"))

            // busybox inside the containers: by name, by alias, by hostname.
            #expect(try netctl.ok("exec", "client", "busybox", "nslookup", "web").contains("198.18.40.2"))
            #expect(try netctl.ok("exec", "client", "busybox", "nslookup", "site").contains("198.18.40.2"))
            #expect(try netctl.ok("exec", "web", "busybox", "nslookup", "cli").contains("198.18.40.3"))
            #expect(try netctl.netctl("exec", "client", "busybox", "ping", "-c", "1", "-W", "2", "site").status == 0)
            #expect(try netctl.netctl("exec", "web", "busybox", "ping", "-c", "1", "-W", "2", "client").status == 0)

            // dig from the sandbox: A, AAAA, the network-qualified name, the short id, PTR.
            let sandbox = NetctlHarness.sandbox(of: client)
            #expect(try netctl.dig(in: sandbox, "web") == ["198.18.40.2"])
            #expect(try netctl.dig(in: sandbox, "SITE.names") == ["198.18.40.2"])
            #expect(try netctl.dig(in: sandbox, "web", type: "AAAA") == ["2001:db8:40::2"])
            #expect(try netctl.dig(in: sandbox, String(web.prefix(12))) == ["198.18.40.2"])
            #expect(try netctl.dig(in: sandbox, "web", tcp: true) == ["198.18.40.2"])
            #expect(try netctl.dig(in: sandbox, "-x", "198.18.40.2") == ["web."])

            // glibc's getaddrinfo with the container's own resolv.conf.
            #expect(try netctl.getaddrinfo(in: sandbox, container: client, "site") == "198.18.40.2")

            // Another network's container does not see these names.
            #expect(try netctl.netctl("exec", "outsider", "busybox", "nslookup", "web").status != 0)
            #expect(try netctl.dig(in: NetctlHarness.sandbox(of: outsider), "web").isEmpty)
            #expect(try netctl.dig(in: NetctlHarness.sandbox(of: outsider), "outsider") == ["198.18.41.2"])
        }
    }

    @Test func anExternalNameIsForwardedToTheResolverGivenWithDNSOverUDPAndTCP() throws {
        try withNetctl { netctl in
            try withClient(of: netctl) { outside in
                let image = try netctl.importBusybox()
                // The world's resolver: dnsmasq in a namespace of the test's own, on the host's
                // LAN, as a daemon (its pid file says which process to stop).
                let pidFile = NSTemporaryDirectory() + uniqueName("dnsmasq-") + ".pid"
                try #require(try runCommand(["ip", "netns", "exec", outside.namespace.name, "dnsmasq", "--conf-file=/dev/null",
                                             "--no-resolv", "--no-hosts", "--bind-interfaces", "--listen-address=\(Client.address)",
                                             "--address=/outside.test/198.18.77.7", "--address=/outside.test/2001:db8:77::7", "--pid-file=\(pidFile)", "--user=root"]).status == 0)
                defer {
                    if let text = try? String(contentsOfFile: pidFile, encoding: .utf8), let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                        kill(pid, SIGKILL)
                    }
                    try? FileManager.default.removeItem(atPath: pidFile)
                }
                try waitUntil("dnsmasq answers") {
                    (try? runCommand(["ip", "netns", "exec", outside.namespace.name, "dig", "+short", "+time=1", "+tries=1",
                                      "@\(Client.address)", "outside.test"]).stdout) == "198.18.77.7\n"
                }

                try netctl.ok("network", "create", "--subnet", "198.18.42.0/24", "names")
                let id = try netctl.runDetached("--name", "asker", "--network", "names", "--dns", Client.address,
                                                "--dns-search", "corp.test", "--dns-option", "edns0", image)
                let resolvConf = try netctl.ok("exec", "asker", "cat", "/etc/resolv.conf")
                #expect(resolvConf == "nameserver 127.0.0.11\nsearch corp.test\noptions ndots:0 edns0\n")
                let inspect = try JSONSerialization.jsonObject(with: Data(try netctl.ok("inspect", "asker").utf8)) as! [[String: Any]]
                let hostConfig = inspect[0]["HostConfig"] as! [String: Any]
                #expect(hostConfig["Dns"] as? [String] == [Client.address] && hostConfig["DnsOptions"] as? [String] == ["edns0"])
                let table = try String(contentsOfFile: "\(netctl.root)/dns/sandboxes/\(NetctlHarness.sandbox(of: id))", encoding: .utf8)
                #expect(table.contains("upstream \(Client.address)\n"))

                #expect(try netctl.ok("exec", "asker", "busybox", "nslookup", "outside.test").contains("198.18.77.7"))
                let sandbox = NetctlHarness.sandbox(of: id)
                #expect(try netctl.dig(in: sandbox, "outside.test") == ["198.18.77.7"])
                #expect(try netctl.dig(in: sandbox, "outside.test", tcp: true) == ["198.18.77.7"])
                #expect(try netctl.dig(in: sandbox, "outside.test", type: "AAAA") == ["2001:db8:77::7"])
                #expect(try netctl.getaddrinfo(in: sandbox, container: id, "www.outside.test") == "198.18.77.7")
            }
        }
    }

    @Test func aNameDisappearsWhenItsContainerStopsIsKilledRemovedExitsOrDisconnects() throws {
        try withNetctl { netctl in
            let image = try netctl.importBusybox()
            try netctl.ok("network", "create", "--subnet", "198.18.43.0/24", "names")
            let watcher = NetctlHarness.sandbox(of: try netctl.runDetached("--name", "watcher", "--network", "names", image))
            for name in ["stopped", "killed", "removed", "leaver"] {
                try netctl.runDetached("--name", name, "--network", "names", image)
                #expect(try netctl.dig(in: watcher, name).count == 1, "\(name) resolves while it runs")
            }
            try netctl.ok("stop", "-t", "1", "stopped")
            try netctl.ok("kill", "killed")
            try netctl.ok("rm", "-f", "removed")
            try netctl.ok("network", "disconnect", "names", "leaver")
            for name in ["stopped", "killed", "removed", "leaver"] {
                // A killed container's monitor releases it as soon as it has reaped it.
                try waitUntil("\(name) no longer resolves") { try netctl.dig(in: watcher, name).isEmpty }
            }

            // A container whose command ends.
            try netctl.runDetached("--name", "brief", "--network", "names", image, "sh", "-c", "while [ ! -e /tmp/go ]; do sleep 0.1; done")
            #expect(try netctl.dig(in: watcher, "brief").count == 1)
            try netctl.ok("exec", "brief", "touch", "/tmp/go")
            try waitUntil("brief no longer resolves") { try netctl.dig(in: watcher, "brief").isEmpty }

            // Connected again by its name (Docker's form), with an alias: it answers again.
            try netctl.ok("network", "connect", "--alias", "back", "names", "leaver")
            #expect(try netctl.dig(in: watcher, "back").count == 1)
            #expect(try netctl.dig(in: watcher, "leaver") == (try netctl.dig(in: watcher, "back")))
            let inspect = try netctl.ok("network", "inspect", "names")
            #expect(inspect.contains("\"back\""))
        }
    }

    @Test func aContainerOnTheDefaultBridgeGetsNamesWhenConnectedToANetworkWithThem() throws {
        try withNetctl { netctl in
            let image = try netctl.importBusybox()
            try netctl.ok("network", "create", "--subnet", "198.18.47.0/24", "names")
            try netctl.runDetached("--name", "server", "--network", "names", image)
            // No --network: the default bridge, where there are no names (Docker's behaviour).
            try netctl.runDetached("--name", "latecomer", image)
            #expect(!(try netctl.ok("exec", "latecomer", "cat", "/etc/resolv.conf").contains("127.0.0.11")))

            try netctl.ok("network", "connect", "names", "latecomer")
            #expect(try netctl.ok("exec", "latecomer", "cat", "/etc/resolv.conf").hasPrefix("nameserver 127.0.0.11\n"))
            #expect(try netctl.ok("exec", "latecomer", "busybox", "nslookup", "server").contains("198.18.47.2"))
            #expect(try netctl.ok("exec", "server", "busybox", "nslookup", "latecomer").contains("198.18.47.3"))
        }
    }

    @Test func twoHundredContainersOnOneNetworkAllResolveEachOther() throws {
        try withNetctl { netctl in
            let image = try netctl.importBusybox()
            try netctl.ok("network", "create", "--subnet", "198.18.44.0/24", "crowd")
            let names = (0..<200).map { "n\($0)" }
            var ids: [String: String] = [:]
            // Ten `run -d` at a time.
            for batch in stride(from: 0, to: names.count, by: 10) {
                let group = Array(names[batch..<min(batch + 10, names.count)])
                let commands = group.map { [NetctlHarness.binary, "run", "-d", "--name", $0, "--network", "crowd", image, "sleep", "600"] }
                for (name, result) in zip(group, try runConcurrently(commands, environment: netctl.environment)) {
                    #expect(result.status == 0, "\(name): \(result.stderr)")
                    ids[name] = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                }
            }
            // Each container's address, as netctl recorded it (by sandbox), and its names.
            let inspect = try JSONSerialization.jsonObject(with: Data(try netctl.ok("network", "inspect", "crowd").utf8)) as! [[String: Any]]
            var addresses: [String: String] = [:]
            for endpoint in (inspect[0]["Containers"] as! [String: [String: Any]]).values {
                addresses[endpoint["Name"] as! String] = String((endpoint["IPv4Address"] as! String).split(separator: "/")[0])
                #expect((endpoint["DNSNames"] as? [String])?.count == 2)
            }
            #expect(addresses.count == 200)
            let expected = names.map { addresses[NetctlHarness.sandbox(of: ids[$0] ?? "")] ?? "?" }

            // busybox's nslookup in one container, for every name.
            let loop = "for i in $(seq 0 199); do busybox nslookup n$i > /tmp/out 2>&1 && grep -q 198.18.44. /tmp/out || echo missing n$i; done"
            #expect(try netctl.ok("exec", "n199", "sh", "-c", loop) == "")

            // dig from another container's namespace, all 200 in one run.
            let queries = NSTemporaryDirectory() + uniqueName("dns-queries-")
            try names.map { "+short \($0)" }.joined(separator: "\n").write(toFile: queries, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: queries) }
            let sandbox = NetctlHarness.sandbox(of: ids["n0"] ?? "")
            let answers = try runCommand(["ip", "netns", "exec", sandbox, "dig", "@127.0.0.11", "+time=2", "+tries=2", "-f", queries])
                .stdout.split(separator: "\n").map(String.init)
            #expect(answers == expected)
        }
    }

    @Test func theResolverSurvivesSIGKILLAndTheNextRunRestartsItWithEveryName() throws {
        try withNetctl { netctl in
            let image = try netctl.importBusybox()
            try netctl.ok("network", "create", "--subnet", "198.18.45.0/24", "names")
            let first = try netctl.runDetached("--name", "first", "--network", "names", "--network-alias", "one", image)
            let killed = try #require(netctl.resolverPID())
            netctl.stopResolver()
            #expect(netctl.resolverPID() == nil)
            #expect(try netctl.dig(in: NetctlHarness.sandbox(of: first), "first").isEmpty)

            let second = try netctl.runDetached("--name", "second", "--network", "names", image)
            let restarted = try #require(netctl.resolverPID())
            #expect(restarted != killed)
            #expect(try netctl.dig(in: NetctlHarness.sandbox(of: second), "one") == ["198.18.45.2"])
            #expect(try netctl.dig(in: NetctlHarness.sandbox(of: first), "second") == ["198.18.45.3"])
            #expect(try netctl.ok("exec", "first", "busybox", "nslookup", "second").contains("198.18.45.3"))
        }
    }

    @Test func reconcileRebuildsTheTablesAndTheNATFromTheRecords() throws {
        try withNetctl { netctl in
            try netctl.ok("network", "create", "--subnet", "198.18.48.0/24", "names")
            let a = try netctl.makeSandbox(), b = try netctl.makeSandbox()
            try netctl.ok("network", "connect", "--alias", "alpha", "names", a)
            // Killed after its endpoint was recorded, before the resolver heard of it.
            let killed = try netctl.netctl(["network", "connect", "names", b], environment: ["NETCTL_FAULT": "connect.after-names"])
            #expect(killed.status == 9 || killed.status == 137, "the fault point was not reached: \(killed.stderr)")
            // And damage from outside: the resolver killed, a's NAT flushed, the network's table gone, a stray table.
            netctl.stopResolver()
            try #require(try runCommand(["ip", "netns", "exec", a, "nft", "delete", "table", "ip", "netctl-dns"]).status == 0)
            let tables = "\(netctl.root)/dns"
            for name in try FileManager.default.contentsOfDirectory(atPath: "\(tables)/networks") {
                try FileManager.default.removeItem(atPath: "\(tables)/networks/\(name)")
            }
            try "netctl-dns 1 sandbox\nnetns /run/netns/gone\nport 5353\n".write(toFile: "\(tables)/sandboxes/gone", atomically: true, encoding: .utf8)

            let report = try netctl.ok("system", "reconcile")
            #expect(report.contains("restored the resolver's NAT and table of sandbox \"\(a)\""), "\(report)")
            #expect(report.contains("removed the resolver's table of sandbox \"gone\""), "\(report)")
            #expect(try netctl.dig(in: b, "alpha") == ["198.18.48.2"])
            #expect(try netctl.dig(in: a, b) == ["198.18.48.3"])
            #expect(try netctl.ok("system", "reconcile") == "nothing to repair\n")
        }
    }

    @Test func badInputIsRefusedInOneLineAndLeavesNoContainerEndpointOrTable() throws {
        try withNetctl { netctl in
            let image = try netctl.importBusybox()
            try netctl.ok("network", "create", "--subnet", "198.18.46.0/24", "names")
            let cases: [([String], String)] = [
                (["--network-alias", "bad name!"], "bad name!"),
                (["--alias", "-dash"], "-dash"),
                (["--dns", "999.1.1.1"], "999.1.1.1"),
                (["--dns-option", "junk"], "junk"),
                (["--dns-option", "ndots:lots"], "ndots:lots"),
                (["--dns-search", "bad domain"], "bad domain"),
                (["--add-host", "db:not-an-address"], "db:not-an-address"),
            ]
            for (flags, bad) in cases {
                let result = try netctl.netctl(["run", "-d", "--network", "names"] + flags + [image])
                #expect(result.status != 0, "\(flags) was accepted")
                let lines = result.stderr.split(separator: "\n")
                #expect(lines.count == 1 && lines[0].contains(bad), "\(flags): \(result.stderr)")
            }
            // An alias where there are no names: the default bridge, as in Docker.
            let onBridge = try netctl.netctl(["run", "-d", "--network-alias", "nowhere", image])
            #expect(onBridge.status != 0 && onBridge.stderr.split(separator: "\n").count == 1 && onBridge.stderr.contains("nowhere"), "\(onBridge.stderr)")
            // By hand on a sandbox: the same alias check, nothing attached.
            let sandbox = try netctl.makeSandbox()
            let refused = try netctl.netctl("network", "connect", "--alias", "bad name!", "names", sandbox)
            #expect(refused.status != 0 && refused.stderr.split(separator: "\n").count == 1 && refused.stderr.contains("bad name!"))

            #expect(try netctl.ok("ps", "-aq").isEmpty)
            let inspect = try JSONSerialization.jsonObject(with: Data(try netctl.ok("network", "inspect", "names").utf8)) as! [[String: Any]]
            #expect((inspect[0]["Containers"] as? [String: Any] ?? [:]).isEmpty)
            let tables = (try? FileManager.default.contentsOfDirectory(atPath: "\(netctl.root)/dns/networks")) ?? []
            #expect(tables.isEmpty)
            // This root's sandboxes, and nothing for reconcile to repair (a namespace a refused
            // run made and did not remove would be): other tests make namespaces in parallel,
            // so the host's list of them says nothing about this root's.
            #expect(try netctl.ok("sandbox", "ls", "-q") == "\(sandbox)\n")
            #expect(try netctl.ok("system", "reconcile") == "nothing to repair\n")
            #expect(try netctl.links(in: sandbox) == ["lo"])
        }
    }
}

extension NetctlHarness {
    /// `run -d ARGS… [IMAGE sleep 600]`: the container's id. The image alone runs `sleep 600`.
    @discardableResult
    func runDetached(_ arguments: String...) throws -> String {
        var arguments = arguments
        if let last = arguments.last, last.hasPrefix("nctest/") { arguments += ["sleep", "600"] }
        return try ok(["run", "-d"] + arguments).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A container's sandbox (its network namespace under /run/netns).
    static func sandbox(of id: String) -> String { "nc-\(id.prefix(12))" }

    /// `dig +short` at 127.0.0.11 from the sandbox's namespace: the answers' lines.
    func dig(in sandbox: String, _ arguments: String..., type: String = "A", tcp: Bool = false) throws -> [String] {
        var command = ["ip", "netns", "exec", sandbox, "dig", "@127.0.0.11", "+short", "+time=2", "+tries=2"]
        if tcp { command.append("+tcp") }
        if arguments.first != "-x" { command.append(type) }
        let result = try runCommand(command + arguments)
        return result.stdout.split(separator: "\n").map(String.init).filter { !$0.hasPrefix(";") }
    }

    /// glibc's getaddrinfo (Python's socket module) in the sandbox's namespace, with the
    /// container's resolv.conf mounted on /etc/resolv.conf in a mount namespace of its own.
    func getaddrinfo(in sandbox: String, container id: String, _ name: String) throws -> String {
        let resolvConf = "\(root)/storage/containers/\(id)/resolv.conf"
        let script = "import socket; print(socket.getaddrinfo('\(name)', None, socket.AF_INET)[0][4][0])"
        let result = try runCommand(["ip", "netns", "exec", sandbox, "unshare", "-m", "sh", "-c",
                                     "mount --bind \(resolvConf) /etc/resolv.conf && exec /usr/bin/python3 -c \"\(script)\""])
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// Polls `condition` every 50 ms for up to 20 s; fails the test with `what` if it never holds.
func waitUntil(_ what: String, _ condition: () throws -> Bool) throws {
    for _ in 0..<400 {
        if try condition() { return }
        usleep(50_000)
    }
    throw HarnessError("timed out waiting until \(what)")
}
