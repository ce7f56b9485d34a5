import Foundation
import Netlink
import TestSupport
import Testing

/// netctl-cni run as a CNI runtime runs a plugin: CNI_* variables in the environment, the
/// network configuration on stdin, the result or error JSON on stdout.
struct CNIPlugin {
    let netctl: NetctlHarness

    static var binary: String { URL(fileURLWithPath: NetctlHarness.binary).deletingLastPathComponent().appendingPathComponent("netctl-cni").path }

    /// A configuration for netctl network `network` in the harness's root, with `extra`
    /// members (already JSON) added.
    func config(network: String = "web", name: String = "webcni", version: String = "1.0.0", _ extra: String = "") -> String {
        "{\"cniVersion\":\"\(version)\",\"name\":\"\(name)\",\"type\":\"netctl-cni\",\"network\":\"\(network)\",\"root\":\"\(netctl.root)\"\(extra.isEmpty ? "" : "," + extra)}"
    }

    func run(_ command: String, _ config: String, containerID: String? = nil, netns: String? = nil, ifname: String? = "eth0",
             environment extra: [String: String] = [:], executable: String = CNIPlugin.binary) throws -> CommandResult {
        var environment = netctl.environment
        environment["CNI_COMMAND"] = command
        environment["CNI_PATH"] = "/usr/lib/cni"
        if let containerID { environment["CNI_CONTAINERID"] = containerID }
        if let netns { environment["CNI_NETNS"] = netns }
        if let ifname { environment["CNI_IFNAME"] = ifname }
        environment.merge(extra) { $1 }
        return try runCommand([executable], input: config, environment: environment)
    }

    /// ADD, which must succeed; returns the result document.
    func add(_ config: String, containerID: String, netns: String, ifname: String = "eth0",
             environment: [String: String] = [:]) throws -> [String: Any] {
        let result = try run("ADD", config, containerID: containerID, netns: netns, ifname: ifname, environment: environment)
        guard result.status == 0 else { throw HarnessError("ADD \(containerID) exited \(result.status): \(result.stdout)\(result.stderr)") }
        return try jsonObject(result.stdout)
    }

    func delete(_ config: String, containerID: String, netns: String? = nil, ifname: String = "eth0") throws {
        let result = try run("DEL", config, containerID: containerID, netns: netns, ifname: ifname)
        guard result.status == 0, result.stdout.isEmpty else { throw HarnessError("DEL \(containerID) exited \(result.status): \(result.stdout)\(result.stderr)") }
    }

    /// The container's IPv4 address in a result, without its prefix.
    static func address(in result: [String: Any], index: Int = 0) throws -> String {
        let ips = try #require(result["ips"] as? [[String: Any]])
        let cidr = try #require(ips[index]["address"] as? String)
        return String(cidr.split(separator: "/")[0])
    }
}

func jsonObject(_ text: String) throws -> [String: Any] {
    guard let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
        throw HarnessError("not a JSON object: \(text)")
    }
    return object
}

/// The spec's error document: one line of JSON with cniVersion, code, msg and details.
func cniError(_ result: CommandResult) throws -> (code: Int, message: String) {
    #expect(result.status != 0)
    let lines = result.stdout.split(separator: "\n")
    #expect(lines.count == 1, "error output is not one line: \(result.stdout)")
    let object = try jsonObject(result.stdout)
    #expect(object["cniVersion"] is String)
    #expect(object["details"] is String)
    let message = try #require(object["msg"] as? String)
    #expect(!message.contains("\n"))
    return (try #require(object["code"] as? Int), message)
}

@Suite("netctl-cni: the CNI plugin as a runtime runs it")
struct CNIPluginTests {
    @Test func addGivesAReachableAddressInTheSpecsShapeCheckAndDelFreeIt() throws {
        try withNetctl { netctl in
            let cni = CNIPlugin(netctl: netctl)
            try netctl.ok("network", "create", "--subnet", "198.18.50.0/24", "web")
            let peer = try netctl.makeSandbox()
            try netctl.ok("network", "connect", "--ip", "198.18.50.200", "web", peer)
            try withTestNamespaces(2, prefix: "nctcni") { containers in
                let path = "/run/netns/\(containers[0].name)"
                let config = cni.config()
                let result = try cni.add(config, containerID: "ctr-one", netns: path)

                // The spec's result: cniVersion, interfaces (host bridge and veth, then the
                // container's with its sandbox), ips pointing at it, routes, dns.
                #expect(result["cniVersion"] as? String == "1.0.0")
                let interfaces = try #require(result["interfaces"] as? [[String: Any]])
                #expect(interfaces.count == 3)
                for interface in interfaces {
                    #expect((interface["name"] as? String)?.isEmpty == false)
                    #expect((interface["mac"] as? String)?.count == 17)
                }
                #expect(interfaces[2]["name"] as? String == "eth0")
                #expect(interfaces[2]["sandbox"] as? String == path)
                #expect(interfaces[0]["sandbox"] == nil)
                let ips = try #require(result["ips"] as? [[String: Any]])
                #expect(ips.count == 1)
                #expect(ips[0]["address"] as? String == "198.18.50.2/24")
                #expect(ips[0]["gateway"] as? String == "198.18.50.1")
                #expect(ips[0]["interface"] as? Int == 2)
                #expect(ips[0]["version"] == nil)
                let routes = try #require(result["routes"] as? [[String: Any]])
                #expect(routes.count == 1)
                #expect(routes[0]["dst"] as? String == "0.0.0.0/0")
                #expect(routes[0]["gw"] as? String == "198.18.50.1")
                #expect(result["dns"] is [String: Any])

                // The interface is really there, and packets flow both ways.
                let link = try #require(try containers[0].session().link(.name("eth0")))
                #expect(link.mac?.description == interfaces[2]["mac"] as? String)
                #expect(try netctl.ping(from: peer, "198.18.50.2"))
                #expect(try containers[0].ping(IPAddress("198.18.50.200")!))

                // netctl shows the attachment as a sandbox whose namespace is the runtime's.
                let inspect = try JSONSerialization.jsonObject(with: Data(try netctl.ok("sandbox", "inspect", "cni-ctr-one-eth0").utf8)) as? [[String: Any]]
                #expect(inspect?.first?["SandboxKey"] as? String == path)

                // CHECK passes, then fails once the address is taken away behind netctl's back.
                let check = try cni.run("CHECK", config, containerID: "ctr-one", netns: path)
                #expect(check.status == 0, "\(check.stdout)")
                #expect(check.stdout.isEmpty)
                #expect(try containers[0].run(["ip", "addr", "del", "198.18.50.2/24", "dev", "eth0"]).status == 0)
                let failed = try cniError(try cni.run("CHECK", config, containerID: "ctr-one", netns: path))
                #expect(failed.code >= 100)
                #expect(failed.message.contains("198.18.50.2/24"))
                // CHECK of a container never added: unknown container.
                #expect(try cniError(try cni.run("CHECK", config, containerID: "ctr-none", netns: path)).code == 3)

                // DEL frees: the interface is gone, the address goes to the next container.
                try cni.delete(config, containerID: "ctr-one", netns: path)
                #expect(try Set(containers[0].session().links().map(\.name)) == ["lo"])
                #expect(!(try netctl.ok("sandbox", "ls")).contains("ctr-one"))
                let second = try cni.add(config, containerID: "ctr-two", netns: "/run/netns/\(containers[1].name)")
                #expect(try CNIPlugin.address(in: second) == "198.18.50.2")
                #expect(try netctl.ping(from: peer, "198.18.50.2"))

                // DEL twice, DEL without CNI_NETNS and DEL of a container never added succeed.
                try cni.delete(config, containerID: "ctr-one", netns: path)
                try cni.delete(config, containerID: "ctr-never")
                try cni.delete(config, containerID: "ctr-two")
                try cni.delete(config, containerID: "ctr-two")
                #expect(try Set(containers[1].session().links().map(\.name)) == ["lo"])
                #expect(try netctl.ok("system", "reconcile").contains("nothing to repair"))
            }
        }
    }

    @Test func aMacvlanNetworkAttachesWithoutAHostEnd() throws {
        try withNetctl { netctl in
            let cni = CNIPlugin(netctl: netctl)
            let session = try netctl.host.session()
            try session.linkAdd(LinkSpec(name: "mvparent0", kind: .veth(peer: VethPeer(name: "mvpeer0")), up: true))
            try session.linkSet(.name("mvpeer0"), up: true)
            try netctl.ok("network", "create", "-d", "macvlan", "--subnet", "198.18.62.0/24", "-o", "parent=mvparent0", "mv")
            let peer = try netctl.makeSandbox()
            try netctl.ok("network", "connect", "--ip", "198.18.62.250", "mv", peer)
            try withTestNamespace(prefix: "nctcni") { container in
                let path = "/run/netns/\(container.name)"
                let config = cni.config(network: "mv")
                let result = try cni.add(config, containerID: "mv1", netns: path)
                // Nothing of the attachment is on the host: one interface, the container's.
                let interfaces = try #require(result["interfaces"] as? [[String: Any]])
                #expect(interfaces.count == 1)
                #expect(interfaces.first?["sandbox"] as? String == path)
                #expect((result["ips"] as? [[String: Any]])?.first?["interface"] as? Int == 0)
                #expect(try container.session().link(.name("eth0"))?.kind == "macvlan")
                #expect(try container.ping(IPAddress("198.18.62.250")!))
                #expect(try cni.run("CHECK", config, containerID: "mv1", netns: path).status == 0)
                try cni.delete(config, containerID: "mv1", netns: path)
                #expect(try Set(container.session().links().map(\.name)) == ["lo"])
                #expect(try netctl.ok("system", "reconcile").contains("nothing to repair"))
            }
        }
    }

    /// DEL takes out only the interface netctl made: when the runtime's namespace holds
    /// another interface of that name by then (the container replaced its eth0), it stays.
    @Test func delLeavesAnInterfaceOfTheSameNameThatNetctlDidNotMake() throws {
        try withNetctl { netctl in
            let cni = CNIPlugin(netctl: netctl)
            let session = try netctl.host.session()
            try session.linkAdd(LinkSpec(name: "mvparent1", kind: .veth(peer: VethPeer(name: "mvpeer1")), up: true))
            try netctl.ok("network", "create", "-d", "macvlan", "--subnet", "198.18.63.0/24", "-o", "parent=mvparent1", "mv")
            try withTestNamespace(prefix: "nctcni") { container in
                let path = "/run/netns/\(container.name)"
                let config = cni.config(network: "mv")
                _ = try cni.add(config, containerID: "mv2", netns: path)
                #expect(try container.run(["ip", "link", "del", "eth0"]).status == 0)
                try container.session().linkAdd(LinkSpec(name: "eth0", kind: .veth(peer: VethPeer(name: "eth0peer"))))
                try cni.delete(config, containerID: "mv2", netns: path)
                #expect(try container.session().link(.name("eth0"))?.kind == "veth")
                #expect(try !netctl.ok("sandbox", "ls").contains("mv2"))
                #expect(try netctl.ok("system", "reconcile").contains("nothing to repair"))
            }
        }
    }

    /// A runtime's namespace that netctl's own command connects to a network with names is
    /// served there (at its path, not under /run/netns), and `sandbox rm` takes netctl's
    /// resolver NAT out of it: the namespace stays the runtime's.
    @Test func aRuntimesNamespaceIsServedNamesAtItsPathAndKeepsNoNATAfter() throws {
        try withNetctl { netctl in
            let cni = CNIPlugin(netctl: netctl)
            try netctl.ok("network", "create", "--subnet", "198.18.64.0/24", "web")
            try netctl.ok("network", "create", "--subnet", "198.18.65.0/24", "names")
            try withTestNamespace(prefix: "nctcni") { container in
                _ = try cni.add(cni.config(), containerID: "named", netns: "/run/netns/\(container.name)")
                try netctl.ok("network", "connect", "names", "cni-named-eth0")
                let dig = try container.run(["dig", "+time=3", "+tries=2", "+short", "@127.0.0.11", "cni-named-eth0"])
                #expect(dig.stdout == "198.18.65.2\n", "\(dig.stdout)\(dig.stderr)")
                try netctl.ok("sandbox", "rm", "cni-named-eth0")
                #expect(try Set(container.session().links().map(\.name)) == ["lo"])
                #expect(try container.run(["nft", "list", "tables"]).stdout.isEmpty)
                #expect(try netctl.ok("system", "reconcile").contains("nothing to repair"))
            }
        }
    }

    /// An overlay network (VXLAN, etcd as its store, one host): the container gets its
    /// overlay interface and the gateway bridge's, which carries its default route.
    @Test func anOverlayNetworkAttachesWithItsGatewayBridge() throws {
        try withNetctl { netctl in
            let cni = CNIPlugin(netctl: netctl)
            let host = netctl.host
            // The underlay address the VTEP advertises.
            let session = try host.session()
            try session.linkAdd(LinkSpec(name: "ul0", kind: .veth(peer: VethPeer(name: "ul1")), up: true))
            try session.linkSet(.name("ul1"), up: true)
            try session.addressAdd(IPNetwork(cidr: "198.18.210.11/24")!, interface: try session.index(of: .name("ul0")))
            // etcd on loopback, where netctl (run in the test's namespace) reaches it; killed by pid after.
            let data = netctl.root + "/etcd"
            let client = "http://127.0.0.1:\(try freeLoopbackPort())", peerURL = "http://127.0.0.1:\(try freeLoopbackPort())"
            let etcd = Process()
            etcd.executableURL = URL(fileURLWithPath: "/usr/bin/etcd")
            etcd.arguments = ["--data-dir", data, "--name", "default",
                              "--listen-client-urls", client, "--advertise-client-urls", client,
                              "--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
                              "--initial-cluster", "default=\(peerURL)"]
            etcd.standardOutput = FileHandle.nullDevice
            etcd.standardError = FileHandle.nullDevice
            try etcd.run()
            defer {
                kill(etcd.processIdentifier, SIGKILL)
                etcd.waitUntilExit()
            }
            let cluster = ["NETCTL_CLUSTER_STORE": "etcd://" + client.dropFirst("http://".count), "NETCTL_NODE_NAME": "node0", "NETCTL_ADVERTISE_ADDR": "198.18.210.11"]
            var created = try netctl.netctl(["network", "create", "-d", "overlay", "--subnet", "198.18.211.0/24", "ov"], environment: cluster)
            for _ in 0..<100 where created.status != 0 {  // until etcd answers (readiness)
                usleep(100_000)
                created = try netctl.netctl(["network", "create", "-d", "overlay", "--subnet", "198.18.211.0/24", "ov"], environment: cluster)
            }
            #expect(created.status == 0, "\(created.stderr)")
            let peer = try netctl.makeSandbox()
            #expect(try netctl.netctl(["network", "connect", "--ip", "198.18.211.250", "ov", peer], environment: cluster).status == 0)

            try withTestNamespace(prefix: "nctcni") { container in
                let path = "/run/netns/\(container.name)"
                let config = cni.config(network: "ov")
                let result = try cni.add(config, containerID: "ov1", netns: path, environment: cluster)
                let interfaces = try #require(result["interfaces"] as? [[String: Any]])
                #expect(interfaces.compactMap { $0["sandbox"] as? String }.count == 2)
                #expect(interfaces.first?["name"] as? String == "eth0")
                let ips = try #require(result["ips"] as? [[String: Any]])
                #expect(ips.count == 2)
                #expect((ips.first?["address"] as? String)?.hasPrefix("198.18.211.") == true)
                #expect(ips.first?["interface"] as? Int == 0)
                // The one default route is the gateway bridge's.
                let routes = try #require(result["routes"] as? [[String: Any]])
                #expect(routes.count == 1)
                #expect(routes.first?["gw"] as? String == ips.last?["gateway"] as? String)
                #expect(try container.ping(IPAddress("198.18.211.250")!))
                #expect(try cni.run("CHECK", config, containerID: "ov1", netns: path, environment: cluster).status == 0)
                let removed = try cni.run("DEL", config, containerID: "ov1", netns: path, environment: cluster)
                #expect(removed.status == 0, "\(removed.stdout)")
                #expect(try Set(container.session().links().map(\.name)) == ["lo"])
            }
            #expect(try netctl.netctl(["system", "reconcile"], environment: cluster).stdout.contains("nothing to repair"))
        }
    }

    @Test func delSucceedsWhenTheNamespaceIsAlreadyGone() throws {
        try withNetctl { netctl in
            let cni = CNIPlugin(netctl: netctl)
            try netctl.ok("network", "create", "--subnet", "198.18.51.0/24", "web")
            let before = try netctl.hostLinks()
            let config = cni.config("\"runtimeConfig\":{\"portMappings\":[{\"hostPort\":8081,\"containerPort\":80,\"protocol\":\"tcp\"}]}")
            try withTestNamespace(prefix: "nctcni") { container in
                _ = try cni.add(config, containerID: "gone", netns: "/run/netns/\(container.name)")
            }
            // The runtime removed the namespace before DEL, as runtimes do after a crash.
            try cni.delete(config, containerID: "gone", netns: "/run/netns/nonexistent-cni-test")
            #expect(try netctl.hostLinks() == before)
            #expect(try !netctl.host.run(["nft", "list", "ruleset"]).stdout.contains("8081"))
            #expect(try !netctl.ok("sandbox", "ls").contains("gone"))
        }
    }

    @Test func versionStatusAndGC() throws {
        try withNetctl { netctl in
            let cni = CNIPlugin(netctl: netctl)
            let version = try cni.run("VERSION", "{\"cniVersion\":\"0.4.0\"}")
            #expect(version.status == 0)
            let versions = try jsonObject(version.stdout)
            #expect(versions["cniVersion"] as? String == "0.4.0")
            #expect(versions["supportedVersions"] as? [String] == ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"])

            // STATUS: not ready until the network exists; refused for configs older than 1.1.0.
            let config = cni.config(version: "1.1.0")
            let missing = try cniError(try cni.run("STATUS", config))
            #expect(missing.code == 50)
            #expect(missing.message.contains("\"web\""))
            try netctl.ok("network", "create", "--subnet", "198.18.52.0/24", "web")
            #expect(try cni.run("STATUS", config).status == 0)
            #expect(try cniError(try cni.run("STATUS", cni.config(version: "1.0.0"))).code == 1)
            let noRoot = "{\"cniVersion\":\"1.1.0\",\"name\":\"webcni\",\"type\":\"netctl-cni\",\"network\":\"web\",\"root\":\"\(netctl.root)/absent\"}"
            #expect(try cniError(try cni.run("STATUS", noRoot)).code == 50)
            #expect(!FileManager.default.fileExists(atPath: "\(netctl.root)/absent"))

            // GC removes this network's attachments that are not listed, and only those.
            try withTestNamespaces(3, prefix: "nctcni") { containers in
                _ = try cni.add(config, containerID: "keep", netns: "/run/netns/\(containers[0].name)")
                _ = try cni.add(config, containerID: "drop", netns: "/run/netns/\(containers[1].name)")
                let other = cni.config(name: "othercni", version: "1.1.0")
                _ = try cni.add(other, containerID: "elsewhere", netns: "/run/netns/\(containers[2].name)")
                // Without the list, GC removes nothing and says what it needs.
                let unlisted = try cniError(try cni.run("GC", config))
                #expect(unlisted.code == 7 && unlisted.message.contains("cni.dev/valid-attachments"))
                #expect(try containers[1].session().link(.name("eth0")) != nil)
                let gc = cni.config(version: "1.1.0", "\"cni.dev/valid-attachments\":[{\"containerID\":\"keep\",\"ifname\":\"eth0\"}]")
                let result = try cni.run("GC", gc)
                #expect(result.status == 0, "\(result.stdout)")
                #expect(try containers[0].session().link(.name("eth0")) != nil)
                #expect(try containers[1].session().link(.name("eth0")) == nil)
                #expect(try containers[2].session().link(.name("eth0")) != nil)
                let sandboxes = try netctl.ok("sandbox", "ls")
                #expect(sandboxes.contains("cni-keep-eth0") && !sandboxes.contains("drop") && sandboxes.contains("cni-elsewhere-eth0"))
                try cni.delete(config, containerID: "keep")
                try cni.delete(other, containerID: "elsewhere")
            }
        }
    }

    @Test func portMappingsFromThePortMappingsCapabilityReachTheContainer() throws {
        try withNetctl { netctl in
            try withClient(of: netctl) { client in
                let cni = CNIPlugin(netctl: netctl)
                try netctl.ok("network", "create", "--subnet", "198.18.53.0/24", "web")
                try withTestNamespace(prefix: "nctcni") { container in
                    let mappings = """
                    "capabilities":{"portMappings":true},"runtimeConfig":{"portMappings":[\
                    {"hostPort":8080,"containerPort":80,"protocol":"tcp"},\
                    {"hostPort":8053,"containerPort":53,"protocol":"udp","hostIP":"\(Client.hostAddress)"}]}
                    """
                    let config = cni.config(mappings)
                    _ = try cni.add(config, containerID: "web1", netns: "/run/netns/\(container.name)")
                    let server = try EchoServer(in: container.namespace, name: "web1", tcp: [80], udp: [53])
                    defer { server.stop() }
                    #expect(try roundTrip(from: client.namespace.namespace, to: Client.hostAddress, port: 8080) == "web1:80:\(Client.address)|ping")
                    #expect(try roundTrip(from: client.namespace.namespace, to: Client.hostAddress, port: 8053, udp: true)?
                        .hasPrefix("web1:53:\(Client.address)|") == true)
                    #expect(try netctl.ok("port", "cni-web1-eth0").contains("80/tcp -> 0.0.0.0:8080"))

                    // A second container asking for the same host port is refused, naming it.
                    try withTestNamespace(prefix: "nctcni") { other in
                        let clash = try cniError(try cni.run("ADD", config, containerID: "web2", netns: "/run/netns/\(other.name)"))
                        #expect(clash.message.contains("8080"))
                        #expect(try Set(other.session().links().map(\.name)) == ["lo"])
                    }

                    try cni.delete(config, containerID: "web1")
                    #expect(try roundTrip(from: client.namespace.namespace, to: Client.hostAddress, port: 8080, timeout: 1) == nil)
                    #expect(try !netctl.host.run(["nft", "list", "ruleset"]).stdout.contains("8080"))
                }
            }
        }
    }

    @Test func requestedAddressesAndMACAreHonoured() throws {
        try withNetctl { netctl in
            let cni = CNIPlugin(netctl: netctl)
            try netctl.ok("network", "create", "--ipv6", "--subnet", "198.18.54.0/24", "--subnet", "2001:db8:54::/64", "web")
            try withTestNamespaces(2, prefix: "nctcni") { containers in
                let config = cni.config(version: "0.4.0", """
                "runtimeConfig":{"ips":["198.18.54.77/24","2001:db8:54::77/64"],"mac":"02:11:22:33:44:55",\
                "dns":{"servers":["198.18.54.1"],"searches":["example.test"]}}
                """)
                let result = try cni.add(config, containerID: "fixed", netns: "/run/netns/\(containers[0].name)")
                let ips = try #require(result["ips"] as? [[String: Any]])
                #expect(ips.map { $0["address"] as? String } == ["198.18.54.77/24", "2001:db8:54::77/64"])
                // 0.4.0 results carry each address's version.
                #expect(ips.map { $0["version"] as? String } == ["4", "6"])
                let dns = try #require(result["dns"] as? [String: Any])
                #expect(dns["nameservers"] as? [String] == ["198.18.54.1"])
                #expect(dns["search"] as? [String] == ["example.test"])
                let link = try #require(try containers[0].session().link(.name("eth0")))
                #expect(link.mac?.description == "02:11:22:33:44:55")
                #expect(try containers[0].ping(IPAddress("198.18.54.1")!))

                // CNI_ARGS IP=, as host-local takes it.
                let plain = cni.config()
                let second = try cni.add(plain, containerID: "byargs", netns: "/run/netns/\(containers[1].name)",
                                         environment: ["CNI_ARGS": "IgnoreUnknown=1;IP=198.18.54.88;K8S_POD_NAME=x"])
                #expect(try CNIPlugin.address(in: second) == "198.18.54.88")
                #expect(try containers[1].ping(IPAddress("198.18.54.77")!))
                try cni.delete(config, containerID: "fixed")
                try cni.delete(plain, containerID: "byargs")
            }
        }
    }

    /// Chained: the real `tuning` plugin after netctl-cni takes netctl-cni's result as its
    /// prevResult; netctl-cni after the real `bridge` plugin (host-local IPAM) adds its
    /// interface and address to the bridge plugin's result.
    @Test func chainingWithTheReferencePluginsPassesResultsThrough() throws {
        try withNetctl { netctl in
            let cni = CNIPlugin(netctl: netctl)
            try netctl.ok("network", "create", "--subnet", "198.18.55.0/24", "web")
            let ipamDirectory = netctl.root + "/host-local"
            try withTestNamespaces(2, prefix: "nctcni") { containers in
                // netctl-cni, then tuning (sets the MTU and a sysctl in the container).
                let path = "/run/netns/\(containers[0].name)"
                let ours = try cni.add(cni.config(), containerID: "chain1", netns: path)
                let oursText = String(decoding: try JSONSerialization.data(withJSONObject: ours), as: UTF8.self)
                let tuningConfig = "{\"cniVersion\":\"1.0.0\",\"name\":\"webcni\",\"type\":\"tuning\",\"mtu\":1400,\"dataDir\":\"\(netctl.root)/tuning\",\"prevResult\":\(oursText)}"
                let tuned = try runCommand(["ip", "netns", "exec", netctl.host.name, "/usr/lib/cni/tuning"], input: tuningConfig, environment: [
                    "CNI_COMMAND": "ADD", "CNI_CONTAINERID": "chain1", "CNI_NETNS": path, "CNI_IFNAME": "eth0", "CNI_PATH": "/usr/lib/cni"])
                #expect(tuned.status == 0, "\(tuned.stdout)\(tuned.stderr)")
                let tunedResult = try jsonObject(tuned.stdout)
                #expect(try CNIPlugin.address(in: tunedResult) == "198.18.55.2")
                #expect((tunedResult["interfaces"] as? [[String: Any]])?.count == 3)
                #expect(try containers[0].session().link(.name("eth0"))?.mtu == 1400)
                // DEL runs the chain in reverse, each with the same prevResult.
                #expect(try runCommand(["ip", "netns", "exec", netctl.host.name, "/usr/lib/cni/tuning"], input: tuningConfig, environment: [
                    "CNI_COMMAND": "DEL", "CNI_CONTAINERID": "chain1", "CNI_NETNS": path, "CNI_IFNAME": "eth0", "CNI_PATH": "/usr/lib/cni"]).status == 0)
                try cni.delete(cni.config(), containerID: "chain1", netns: path)

                // bridge (host-local on another subnet) on eth0, then netctl-cni on eth1.
                let other = "/run/netns/\(containers[1].name)"
                let bridgeConfig = """
                {"cniVersion":"1.0.0","name":"refnet","type":"bridge","bridge":"nctcnibr0","isGateway":true,"ipMasq":false,\
                "ipam":{"type":"host-local","subnet":"198.18.56.0/24","dataDir":"\(ipamDirectory)"}}
                """
                let bridgeEnvironment = ["CNI_CONTAINERID": "chain2", "CNI_NETNS": other, "CNI_IFNAME": "eth0", "CNI_PATH": "/usr/lib/cni"]
                let bridged = try runCommand(["ip", "netns", "exec", netctl.host.name, "/usr/lib/cni/bridge"], input: bridgeConfig,
                                               environment: bridgeEnvironment.merging(["CNI_COMMAND": "ADD"]) { $1 })
                #expect(bridged.status == 0, "\(bridged.stdout)\(bridged.stderr)")
                let reference = try jsonObject(bridged.stdout)
                let referenceInterfaces = try #require(reference["interfaces"] as? [[String: Any]])
                let chained = try cni.add(cni.config("\"prevResult\":\(bridged.stdout.trimmingCharacters(in: .whitespacesAndNewlines))"),
                                          containerID: "chain2", netns: other, ifname: "eth1")
                let interfaces = try #require(chained["interfaces"] as? [[String: Any]])
                #expect(interfaces.count == referenceInterfaces.count + 3)
                #expect(interfaces.prefix(referenceInterfaces.count).map { $0["name"] as? String } == referenceInterfaces.map { $0["name"] as? String })
                let ips = try #require(chained["ips"] as? [[String: Any]])
                #expect(ips.map { $0["address"] as? String } == ["198.18.56.2/24", "198.18.55.2/24"])
                #expect(ips[1]["interface"] as? Int == interfaces.count - 1)
                // Our result has the keys and types the reference plugin's has.
                #expect(Set(reference.keys).subtracting(chained.keys).isEmpty, "missing \(Set(reference.keys).subtracting(chained.keys))")
                for (mine, theirs) in zip(interfaces.suffix(3), referenceInterfaces) {
                    #expect(Set(theirs.keys).isSubset(of: Set(mine.keys).union(["mtu"])), "\(theirs.keys) vs \(mine.keys)")
                }
                #expect(try containers[1].ping(IPAddress("198.18.55.1")!))
                #expect(try containers[1].ping(IPAddress("198.18.56.1")!))
                try cni.delete(cni.config(), containerID: "chain2", netns: other, ifname: "eth1")
                #expect(try runCommand(["ip", "netns", "exec", netctl.host.name, "/usr/lib/cni/bridge"], input: bridgeConfig,
                                         environment: bridgeEnvironment.merging(["CNI_COMMAND": "DEL"]) { $1 }).status == 0)
                #expect(try Set(containers[1].session().links().map(\.name)) == ["lo"])
            }
        }
    }

    @Test func badInputGetsTheSpecsErrorWithTheRightCodeAndChangesNothing() throws {
        try withNetctl { netctl in
            let cni = CNIPlugin(netctl: netctl)
            try netctl.ok("network", "create", "--subnet", "198.18.57.0/24", "web")
            try withTestNamespace(prefix: "nctcni") { container in
                let path = "/run/netns/\(container.name)"
                let state = try netctl.stateSnapshot(), kernel = try netctl.kernelSnapshot()
                let cases: [(String, String, [String: String], Int, String)] = [
                    ("malformed JSON", "{\"cniVersion\": \"1.0.0\", ", [:], 6, "not valid JSON"),
                    ("not an object", "[1, 2]", [:], 6, "not a JSON object"),
                    ("old version", cni.config(version: "0.2.0"), [:], 1, "\"0.2.0\""),
                    ("no network", "{\"cniVersion\":\"1.0.0\",\"name\":\"webcni\",\"type\":\"netctl-cni\",\"root\":\"\(netctl.root)\"}", [:], 7, "\"network\""),
                    ("unknown network", cni.config(network: "nosuchnet"), [:], 7, "\"nosuchnet\""),
                    ("bad name", cni.config(name: "bad name"), [:], 7, "\"bad name\""),
                    ("other IPAM", cni.config("\"ipam\":{\"type\":\"host-local\",\"subnet\":\"198.18.57.0/24\"}"), [:], 2, "host-local"),
                    ("bad port", cni.config("\"runtimeConfig\":{\"portMappings\":[{\"hostPort\":70000,\"containerPort\":80}]}"), [:], 7, "70000"),
                    ("bad ip", cni.config("\"runtimeConfig\":{\"ips\":[\"198.18.57.999/24\"]}"), [:], 7, "198.18.57.999/24"),
                    ("bad mac", cni.config("\"runtimeConfig\":{\"mac\":\"zz:11\"}"), [:], 7, "zz:11"),
                    ("unknown command", cni.config(), ["CNI_COMMAND": "FROB"], 4, "\"FROB\""),
                    ("bad ifname", cni.config(), ["CNI_IFNAME": "a/very/long/interface"], 4, "a/very/long/interface"),
                    ("bad container id", cni.config(), ["CNI_CONTAINERID": "-x"], 4, "\"-x\""),
                    ("bad CNI_ARGS", cni.config(), ["CNI_ARGS": "IP"], 4, "\"IP\""),
                ]
                for (what, config, environment, code, mention) in cases {
                    let result = try cni.run(environment["CNI_COMMAND"] ?? "ADD", config, containerID: "bad", netns: path, environment: environment)
                    let error = try cniError(result)
                    #expect(error.code == code, "\(what): \(result.stdout)")
                    #expect(error.message.contains(mention), "\(what): \(error.message)")
                }
                // Missing variables: code 4, naming the variable.
                for missing in ["CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"] {
                    var environment = netctl.environment
                    environment["CNI_COMMAND"] = "ADD"
                    environment["CNI_CONTAINERID"] = "bad"
                    environment["CNI_NETNS"] = path
                    environment["CNI_IFNAME"] = "eth0"
                    environment.removeValue(forKey: missing)
                    let error = try cniError(try runCommand(["-u", missing, CNIPlugin.binary], input: cni.config(), environment: environment))
                    #expect(error.code == 4)
                    #expect(error.message.contains(missing))
                }
                // A namespace path that is not one.
                let notNamespace = try cniError(try cni.run("ADD", cni.config(), containerID: "bad", netns: "/run/netns/nonexistent-cni-test"))
                #expect(notNamespace.message.contains("/run/netns/nonexistent-cni-test"))
                #expect(notNamespace.code == 4)
                let notNetwork = try cniError(try cni.run("ADD", cni.config(), containerID: "bad", netns: "/proc/self/ns/mnt"))
                #expect(notNetwork.code == 4)

                #expect(try netctl.stateSnapshot() == state)
                #expect(try netctl.kernelSnapshot() == kernel)
                #expect(try Set(container.session().links().map(\.name)) == ["lo"])
            }
        }
    }

    @Test func fiftyConcurrentAddsGetFiftyAddressesAndAllAreDeleted() throws {
        try withNetctl { netctl in
            let cni = CNIPlugin(netctl: netctl)
            try netctl.ok("network", "create", "--subnet", "198.18.58.0/24", "crowd")
            let peer = try netctl.makeSandbox()
            try netctl.ok("network", "connect", "--ip", "198.18.58.250", "crowd", peer)
            let before = try netctl.hostLinks()
            let configFile = netctl.root + "/cni-crowd.json"
            try Data(cni.config(network: "crowd").utf8).write(to: URL(fileURLWithPath: configFile))
            try withTestNamespaces(50, prefix: "nctcni") { containers in
                func everyone(_ command: String) throws -> [CommandResult] {
                    try runConcurrently(containers.map { _ in ["sh", "-c", "exec \(CNIPlugin.binary) < \(configFile)"] },
                                        environments: containers.enumerated().map { index, container in
                        netctl.environment.merging(["CNI_COMMAND": command, "CNI_CONTAINERID": "crowd\(index)",
                                                    "CNI_NETNS": "/run/netns/\(container.name)", "CNI_IFNAME": "eth0", "CNI_PATH": "/usr/lib/cni"]) { $1 }
                    })
                }
                let added = try everyone("ADD")
                var addresses: [String] = []
                for (index, result) in added.enumerated() {
                    #expect(result.status == 0, "ADD \(index): \(result.stdout)\(result.stderr)")
                    if result.status == 0 { addresses.append(try CNIPlugin.address(in: try jsonObject(result.stdout))) }
                }
                #expect(addresses.count == 50)
                #expect(Set(addresses).count == 50)
                for address in addresses {
                    #expect(try netctl.ping(from: peer, address), "\(address) does not answer")
                }
                for (index, result) in try everyone("DEL").enumerated() {
                    #expect(result.status == 0, "DEL \(index): \(result.stdout)\(result.stderr)")
                }
                #expect(try netctl.hostLinks() == before)
                for container in containers { #expect(try Set(container.session().links().map(\.name)) == ["lo"]) }
                #expect(try !netctl.ok("sandbox", "ls").contains("cni-"))
            }
        }
    }

    /// A runtime's ADD killed at any point (NETCTL_FAULT kills the plugin there) is repaired
    /// by the next ADD of that container, or by its DEL.
    @Test(arguments: ["attach.after-sandbox", "connect.after-veth", "connect.after-firewall"])
    func anAddKilledHalfwayIsRepairedByTheNextAddOrDel(point: String) throws {
        try withNetctl { netctl in
            let cni = CNIPlugin(netctl: netctl)
            try netctl.ok("network", "create", "--subnet", "198.18.59.0/24", "web")
            let peer = try netctl.makeSandbox()
            try netctl.ok("network", "connect", "--ip", "198.18.59.250", "web", peer)
            let before = try netctl.hostLinks()
            let config = cni.config("\"runtimeConfig\":{\"portMappings\":[{\"hostPort\":8090,\"containerPort\":80}]}")
            try withTestNamespace(prefix: "nctcni") { container in
                let path = "/run/netns/\(container.name)"
                let killed = try cni.run("ADD", config, containerID: "crash", netns: path, environment: ["NETCTL_FAULT": point])
                #expect(killed.status != 0)
                // ADD again: whole, reachable, with its port.
                let result = try cni.add(config, containerID: "crash", netns: path)
                #expect(try CNIPlugin.address(in: result) == "198.18.59.2")
                #expect(try netctl.ping(from: peer, "198.18.59.2"))
                #expect(try netctl.ok("port", "cni-crash-eth0").contains("8090"))
                try cni.delete(config, containerID: "crash", netns: path)
                #expect(try netctl.hostLinks() == before)
                #expect(try Set(container.session().links().map(\.name)) == ["lo"])

                // Killed again, then only DEL: nothing is left.
                #expect(try cni.run("ADD", config, containerID: "crash", netns: path, environment: ["NETCTL_FAULT": point]).status != 0)
                try cni.delete(config, containerID: "crash", netns: path)
                #expect(try netctl.hostLinks() == before)
                #expect(try Set(container.session().links().map(\.name)) == ["lo"])
                #expect(try !netctl.host.run(["nft", "list", "ruleset"]).stdout.contains("8090"))
                #expect(try netctl.ok("system", "reconcile").contains("nothing to repair"))
            }
        }
    }
}
