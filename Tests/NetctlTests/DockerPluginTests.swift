import Foundation
import Glibc
import Netlink
import Testing
import TestSupport

/// `netctl docker-plugin`, Docker's remote network and IPAM driver: its protocol answered
/// over its socket, and Debian's dockerd 20.10 running containers on netctl's networks.
@Suite struct DockerPluginTests {
    // MARK: The protocol, over the socket

    @Test func activatesAsNetworkAndIPAMDriver() throws {
        try withNetctl { harness in
            try withPlugin(harness) { plugin in
                let activate = try plugin.call("Plugin.Activate", "")
                #expect(activate.status == 200)
                #expect(activate.json["Implements"] as? [String] == ["NetworkDriver", "IpamDriver"])
                #expect(activate.contentType == "application/vnd.docker.plugins.v1.2+json")
                let capabilities = try plugin.call("NetworkDriver.GetCapabilities", "{}")
                #expect(capabilities.json["Scope"] as? String == "local")
                #expect(capabilities.json["ConnectivityScope"] as? String == "local")
                let ipam = try plugin.call("IpamDriver.GetCapabilities", "{}")
                #expect(ipam.json["RequiresMACAddress"] as? Bool == false)
            }
        }
    }

    /// Bad JSON, an unknown method, a missing network, a bad value: one line naming what is
    /// wrong, in the protocol's error shape, and nothing changed in the root or the kernel.
    @Test func badInputAnswersOneLineAndChangesNothing() throws {
        try withNetctl { harness in
            try withPlugin(harness) { plugin in
                let pool = try plugin.call("IpamDriver.RequestPool", #"{"AddressSpace":"netctl-local","Pool":"198.18.61.0/24","V6":false}"#)
                #expect(pool.json["PoolID"] as? String == "netctl/198.18.61.0/24")
                let state = try harness.stateSnapshot()
                let kernel = try harness.kernelSnapshot()
                let missing = String(repeating: "ab", count: 32)
                let cases: [(method: String, body: String, status: Int, says: String)] = [
                    ("NetworkDriver.CreateNetwork", #"{"NetworkID": "#, 200, "not valid JSON"),
                    ("NetworkDriver.CreateNetwork", #"["NetworkID"]"#, 200, "not a JSON object"),
                    ("NetworkDriver.Frobnicate", "{}", 404, "unknown method \"/NetworkDriver.Frobnicate\""),
                    ("NetworkDriver.DeleteNetwork", #"{"NetworkID":"\#(missing)"}"#, 200, "network \(missing) not found"),
                    ("NetworkDriver.CreateEndpoint", #"{"NetworkID":"\#(missing)","EndpointID":"\#(missing)"}"#, 200, "network \(missing) not found"),
                    ("NetworkDriver.Join", #"{"NetworkID":"\#(missing)","EndpointID":"\#(missing)","SandboxKey":"/x"}"#, 200, "not found"),
                    ("NetworkDriver.CreateNetwork", #"{"Options":{}}"#, 200, "NetworkID is missing"),
                    ("NetworkDriver.CreateNetwork",
                     #"{"NetworkID":"\#(missing)","Options":{"com.docker.network.generic":{"driver":"ipvlan"}},"IPv4Data":[{"Pool":"198.18.61.0/24","Gateway":"198.18.61.1/24"}]}"#,
                     200, "invalid value \"ipvlan\" for option driver: expected bridge or macvlan"),
                    ("NetworkDriver.CreateNetwork",
                     #"{"NetworkID":"\#(missing)","Options":{"com.docker.network.generic":{"colour":"blue"}},"IPv4Data":[{"Pool":"198.18.61.0/24","Gateway":"198.18.61.1/24"}]}"#,
                     200, "unknown option \"colour\""),
                    ("NetworkDriver.CreateNetwork",
                     #"{"NetworkID":"\#(missing)","Options":{},"IPv4Data":[{"Pool":"198.18.61.0/33"}]}"#, 200, "invalid subnet \"198.18.61.0/33\""),
                    ("IpamDriver.RequestPool", #"{"Pool":"198.18.61.128/25"}"#, 200, "overlaps pool netctl/198.18.61.0/24"),
                    ("IpamDriver.RequestPool", #"{"Pool":"10.0.0.1/8"}"#, 200, "invalid subnet \"10.0.0.1/8\""),
                    ("IpamDriver.RequestPool", #"{"Pool":"198.18.70.0/24","AddressSpace":"elsewhere"}"#, 200, "address space \"elsewhere\""),
                    ("NetworkDriver.CreateNetwork", String(repeating: "[", count: 100_000), 200, "nested deeper than 32 levels"),
                    ("IpamDriver.RequestAddress", #"{"PoolID":"netctl/198.18.99.0/24"}"#, 200, "pool \"netctl/198.18.99.0/24\" not found"),
                    ("IpamDriver.RequestAddress", #"{"PoolID":"netctl/198.18.61.0/24","Address":"198.18.62.9"}"#, 200, "not in subnet 198.18.61.0/24"),
                    ("IpamDriver.ReleaseAddress", #"{"PoolID":"netctl/198.18.61.0/24","Address":"198.18.61.9"}"#, 200, "198.18.61.9 is not allocated"),
                    ("NetworkDriver.ProgramExternalConnectivity", #"{"NetworkID":"\#(missing)","EndpointID":"\#(missing)"}"#, 200, "not found"),
                ]
                for item in cases {
                    let answer = try plugin.call(item.method, item.body)
                    let key = item.method.hasPrefix("IpamDriver.") ? "Error" : "Err"
                    let line = answer.json[key] as? String ?? ""
                    #expect(answer.status == item.status, "\(item.method) \(item.body): \(answer.text)")
                    #expect(line.contains(item.says), "\(item.method) \(item.body): \(answer.text)")
                    #expect(!line.contains("\n") && !line.isEmpty, "\(item.method): \(answer.text)")
                    // Docker's plugin client reads Err from any answer that is not 200.
                    #expect(answer.json["Err"] as? String == line)
                }
                #expect(try harness.stateSnapshot() == state)
                #expect(try harness.kernelSnapshot() == kernel)
                #expect(try harness.ok("network", "ls", "-q").split(separator: "\n").count == 3)  // bridge, host, none
            }
        }
    }

    /// Docker's IPAM calls and netctl's own `network connect` share one set of addresses:
    /// what a netctl sandbox holds is never handed to a Docker endpoint, and back.
    @Test func addressesNeverCollideWithNetctlEndpoints() throws {
        try withNetctl { harness in
            try withPlugin(harness) { plugin in
                let network = String(repeating: "c0", count: 32)
                _ = try plugin.ok("IpamDriver.RequestPool", #"{"AddressSpace":"netctl-local","Pool":"198.18.62.0/24"}"#)
                // Without a subnet: the next free one of netctl's default pools, none twice.
                let chosen = try plugin.ok("IpamDriver.RequestPool", #"{"AddressSpace":"netctl-local"}"#)
                let again = try plugin.ok("IpamDriver.RequestPool", #"{"AddressSpace":"netctl-local"}"#)
                let subnets = [chosen["Pool"] as? String ?? "", again["Pool"] as? String ?? ""]
                #expect(subnets[0].hasPrefix("198.18.") && subnets[0].hasSuffix("/24") && subnets[0] != "198.18.62.0/24", "\(subnets)")
                #expect(subnets[0] != subnets[1], "\(subnets)")
                let bridge = try harness.ok("network", "inspect", "bridge")
                #expect(!bridge.contains("\"\(subnets[0])\""), "\(bridge)")
                let gateway = try plugin.ok("IpamDriver.RequestAddress",
                                            #"{"PoolID":"netctl/198.18.62.0/24","Options":{"RequestAddressType":"com.docker.network.gateway"}}"#)
                #expect(gateway["Address"] as? String == "198.18.62.1/24")
                _ = try plugin.ok("NetworkDriver.CreateNetwork",
                                  #"{"NetworkID":"\#(network)","Options":{"com.docker.network.generic":{"name":"dnet"}},"IPv4Data":[{"AddressSpace":"netctl-local","Pool":"198.18.62.0/24","Gateway":"198.18.62.1/24"}]}"#)
                let sandbox = try harness.makeSandbox()
                try harness.ok("network", "connect", "--ip", "198.18.62.2", "dnet", sandbox)
                let first = try plugin.ok("IpamDriver.RequestAddress", #"{"PoolID":"netctl/198.18.62.0/24"}"#)
                #expect(first["Address"] as? String == "198.18.62.3/24")
                let taken = try plugin.call("IpamDriver.RequestAddress", #"{"PoolID":"netctl/198.18.62.0/24","Address":"198.18.62.2"}"#)
                #expect((taken.json["Error"] as? String)?.contains("198.18.62.2 is already in use by sandbox \"\(sandbox)\"") == true, "\(taken.text)")
                let endpoint = String(repeating: "e1", count: 32)
                _ = try plugin.ok("NetworkDriver.CreateEndpoint",
                                  #"{"NetworkID":"\#(network)","EndpointID":"\#(endpoint)","Interface":{"Address":"198.18.62.3/24"}}"#)
                // netctl's next sandbox skips the Docker endpoint's address.
                let second = try harness.makeSandbox()
                try harness.ok("network", "connect", "dnet", second)
                let inspect = try harness.ok("network", "inspect", "dnet")
                #expect(inspect.contains("198.18.62.4/24"), "\(inspect)")
                // Docker's endpoint on an address a netctl sandbox holds (Docker's own IPAM) is refused.
                let clash = try plugin.call("NetworkDriver.CreateEndpoint",
                                            #"{"NetworkID":"\#(network)","EndpointID":"\#(String(repeating: "e2", count: 32))","Interface":{"Address":"198.18.62.2/24"}}"#)
                #expect((clash.json["Err"] as? String)?.contains("198.18.62.2 is already in use") == true, "\(clash.text)")
                // netctl keeps the network while its own sandboxes are on it.
                let busy = try plugin.call("NetworkDriver.DeleteNetwork", #"{"NetworkID":"\#(network)"}"#)
                #expect((busy.json["Err"] as? String)?.contains("is in use by") == true, "\(busy.text)")
                _ = try plugin.ok("NetworkDriver.DeleteEndpoint", #"{"NetworkID":"\#(network)","EndpointID":"\#(endpoint)"}"#)
                try harness.ok("sandbox", "rm", sandbox, second)
                _ = try plugin.ok("NetworkDriver.DeleteNetwork", #"{"NetworkID":"\#(network)"}"#)
                #expect(try harness.ok("network", "ls", "-q").split(separator: "\n").count == 3)
            }
        }
    }

    /// A macvlan network with IPv6 from netctl's IPAM: the endpoint's interface is a
    /// macvlan on the parent, made in the host namespace under the name Join returns, with
    /// the MAC CreateEndpoint returned; DeleteEndpoint removes it wherever Docker left it.
    @Test func macvlanEndpointWithIPv6IsMadeOnTheHost() throws {
        try withNetctl { harness in
            // A veth end as the parent (this kernel has no dummy links), in the harness's host namespace.
            let parent = String(uniqueName("nctp").prefix(12))
            try harness.host.session().linkAdd(LinkSpec(name: parent, kind: .veth(peer: VethPeer(name: parent + "p")), up: true))
            try withPlugin(harness) { plugin in
                let network = String(repeating: "d0", count: 32)
                let endpoint = String(repeating: "f1", count: 32)
                let v4 = try plugin.ok("IpamDriver.RequestPool", #"{"AddressSpace":"netctl-local","Pool":"198.18.65.0/24"}"#)
                let v6 = try plugin.ok("IpamDriver.RequestPool", #"{"AddressSpace":"netctl-local","Pool":"2001:db8:65::/64","V6":true}"#)
                #expect(v6["Pool"] as? String == "2001:db8:65::/64")
                let pools = [v4["PoolID"] as? String ?? "", v6["PoolID"] as? String ?? ""]
                let gateway6 = try plugin.ok("IpamDriver.RequestAddress", #"{"PoolID":"\#(pools[1])","Options":{"RequestAddressType":"com.docker.network.gateway"}}"#)
                #expect(gateway6["Address"] as? String == "2001:db8:65::1/64")
                let address6 = try plugin.ok("IpamDriver.RequestAddress", #"{"PoolID":"\#(pools[1])"}"#)
                #expect(address6["Address"] as? String == "2001:db8:65::2/64")
                _ = try plugin.ok("NetworkDriver.CreateNetwork", #"""
                    {"NetworkID":"\#(network)","Options":{"com.docker.network.generic":{"driver":"macvlan","parent":"\#(parent)"}},
                     "IPv4Data":[{"Pool":"198.18.65.0/24","Gateway":"198.18.65.1/24"}],
                     "IPv6Data":[{"Pool":"2001:db8:65::/64","Gateway":"2001:db8:65::1/64"}]}
                    """#)
                let created = try plugin.ok("NetworkDriver.CreateEndpoint",
                                            #"{"NetworkID":"\#(network)","EndpointID":"\#(endpoint)","Interface":{"Address":"198.18.65.2/24","AddressIPv6":"2001:db8:65::2/64"}}"#)
                let mac = try #require((created["Interface"] as? [String: Any])?["MacAddress"] as? String)
                let joined = try plugin.ok("NetworkDriver.Join", #"{"NetworkID":"\#(network)","EndpointID":"\#(endpoint)","SandboxKey":"/var/run/docker/netns/x"}"#)
                let names = try #require(joined["InterfaceName"] as? [String: String])
                #expect(names["DstPrefix"] == "eth")
                #expect(joined["Gateway"] as? String == "198.18.65.1")
                #expect(joined["GatewayIPv6"] as? String == "2001:db8:65::1")
                let link = try #require(try harness.host.session().link(.name(names["SrcName"] ?? "")))
                #expect(link.kind == "macvlan")
                #expect(link.mac?.description == mac)
                _ = try plugin.ok("NetworkDriver.Leave", #"{"NetworkID":"\#(network)","EndpointID":"\#(endpoint)"}"#)
                _ = try plugin.ok("NetworkDriver.DeleteEndpoint", #"{"NetworkID":"\#(network)","EndpointID":"\#(endpoint)"}"#)
                #expect(try harness.host.session().link(.name(names["SrcName"] ?? "")) == nil)
                _ = try plugin.ok("NetworkDriver.DeleteNetwork", #"{"NetworkID":"\#(network)"}"#)
                for pool in pools { _ = try plugin.ok("IpamDriver.ReleasePool", #"{"PoolID":"\#(pool)"}"#) }
            }
        }
    }

    /// The server's bounds: a head over 16 KiB, a body over 1 MiB and a request that is not
    /// POST are refused with an `Err` line; keep-alive serves several requests on one connection.
    @Test func httpLimitsAndKeepAlive() throws {
        try withNetctl { harness in
            try withPlugin(harness) { plugin in
                let big = try runCommand(["curl", "-s", "--max-time", "20", "--unix-socket", plugin.socket, "-X", "POST",
                                          "-H", "X-Padding: " + String(repeating: "p", count: 20_000), "-d", "{}",
                                          "-w", "\n%{http_code}", "http://plugin/Plugin.Activate"])
                #expect(big.stdout.hasSuffix("\n400"), "\(big.stdout)")
                #expect(big.stdout.contains("request head is over 16384 bytes"))
                let file = harness.root + "-plugin/big.json"
                try Data(repeating: 0x20, count: 2 * 1024 * 1024).write(to: URL(fileURLWithPath: file))
                let body = try runCommand(["curl", "-s", "--max-time", "20", "--unix-socket", plugin.socket, "-X", "POST",
                                           "--data-binary", "@" + file, "-w", "\n%{http_code}", "http://plugin/NetworkDriver.CreateNetwork"])
                #expect(body.stdout.hasSuffix("\n413"), "\(body.stdout)")
                #expect(body.stdout.contains("over 1048576"))
                let get = try runCommand(["curl", "-s", "--max-time", "20", "--unix-socket", plugin.socket,
                                          "-w", "\n%{http_code}", "http://plugin/Plugin.Activate"])
                #expect(get.stdout.hasSuffix("\n405"), "\(get.stdout)")
                // Three requests, one connection (curl reuses it and says so).
                let reused = try runCommand(["curl", "-sv", "--max-time", "20", "--unix-socket", plugin.socket, "-X", "POST", "-d", "{}",
                                             "http://plugin/Plugin.Activate", "http://plugin/NetworkDriver.GetCapabilities",
                                             "http://plugin/IpamDriver.GetDefaultAddressSpaces"])
                #expect(reused.stdout.contains("\"LocalDefaultAddressSpace\":\"netctl-local\""), "\(reused.stdout)")
                // curl 7 says "Re-using existing connection", curl 8 "Reusing existing connection".
                let reuses = reused.stderr.split(separator: "\n").filter { $0.contains("Re-using existing connection") || $0.contains("Reusing existing connection") }
                #expect(reuses.count == 2, "\(reused.stderr)")
                #expect(plugin.isRunning)
            }
        }
    }

    /// SIGTERM: the plugin exits 0 and its socket is gone, so dockerd sees it gone.
    @Test func stopsCleanlyOnSIGTERM() throws {
        try withNetctl { harness in
            var socket = ""
            let status = try withPlugin(harness) { plugin in
                socket = plugin.socket
                #expect(FileManager.default.fileExists(atPath: socket))
                return plugin.stop()
            }
            #expect(status == 0)
            #expect(!FileManager.default.fileExists(atPath: socket))
            // A path that is a file, or a socket another plugin serves, is not taken over.
            let file = harness.root + "/not-a-socket"
            try Data("keep".utf8).write(to: URL(fileURLWithPath: file))
            let refused = try runCommand([NetctlHarness.binary, "docker-plugin", "--socket", file], environment: harness.environment)
            #expect(refused.status == 1)
            #expect(refused.stderr == "netctl-docker-plugin: \(file) exists and is not a socket: expected a socket path\n")
            #expect(FileManager.default.contents(atPath: file) == Data("keep".utf8))
            try withPlugin(harness) { plugin in
                let second = try runCommand([NetctlHarness.binary, "docker-plugin", "--socket", plugin.socket], environment: harness.environment)
                #expect(second.status == 1)
                #expect(second.stderr.contains("socket \(plugin.socket) is in use by a running server"), "\(second.stderr)")
                #expect(try plugin.call("Plugin.Activate", "").status == 200)
            }
        }
    }

    // MARK: The systemd unit

    /// The unit starts a real subcommand: systemd-analyze accepts it (with the built binary
    /// in place of the installed one), and the command line it runs answers --help.
    @Test func systemdUnitNamesARealCommand() throws {
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let unit = try String(contentsOf: package.appendingPathComponent("contrib/systemd/netctl-docker-plugin.service"), encoding: .utf8)
        let lines = unit.split(separator: "\n").map(String.init)
        let execStart = try #require(lines.first { $0.hasPrefix("ExecStart=") }).dropFirst("ExecStart=".count)
        let words = execStart.split(separator: " ").map(String.init)
        #expect(words == ["/usr/local/bin/netctl", "docker-plugin", "--root", "/var/lib/netctl"])
        #expect(lines.contains("Before=docker.service"))

        let help = try runCommand([NetctlHarness.binary] + words.dropFirst() + ["--help"])
        #expect(help.status == 0, "\(help.stderr)")
        #expect(help.stdout.contains("--socket"))
        let pluginHelp = try runCommand([pluginBinary(), "--help"])
        #expect(pluginHelp.status == 0)
        #expect(pluginHelp.stdout.contains("--socket PATH"))

        let directory = NSTemporaryDirectory() + uniqueName("nctunit")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let copy = directory + "/netctl-docker-plugin.service"
        try unit.replacingOccurrences(of: "/usr/local/bin/netctl", with: NetctlHarness.binary).write(toFile: copy, atomically: true, encoding: .utf8)
        let verify = try runCommand(["systemd-analyze", "verify", copy])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
    }

    // MARK: Debian's dockerd 20.10

    /// `docker network create -d netctl --ipam-driver netctl`: containers reach each other
    /// and a netctl sandbox on the same network; `-p` publishes through netctl's map, and
    /// a client namespace reaches the container's server through it; `docker rm -f` and
    /// `docker network rm` leave nothing.
    @Test func dockerdRunsContainersOnNetctlNetworks() throws {
        try withNetctl { harness in
            try withClient(of: harness) { client in
                try withPlugin(harness) { plugin in
                    try withDockerd(netns: harness.host.name) { docker in
                        try plugin.link(into: docker)
                        let image = try docker.loadBusybox()
                        let before = try harness.kernelSnapshot()
                        let id = try docker.ok("network", "create", "-d", "netctl", "--ipam-driver", "netctl", "--subnet", "198.18.63.0/24", "dnet")
                            .trimmingCharacters(in: .whitespacesAndNewlines)
                        try docker.ok("run", "-d", "--name", "dc1", "--network", "dnet", image, "sleep", "600")
                        try docker.ok("run", "-d", "--name", "dc2", "--network", "dnet", "-p", "\(Client.hostAddress):8063:80", image,
                                      "sh", "-c", "busybox mkdir -p /srv && echo served-by-dc2 > /srv/index.html && exec busybox httpd -f -p 80 -h /srv")
                        let address1 = try docker.ok("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", "dc1")
                            .trimmingCharacters(in: .whitespacesAndNewlines)
                        let address2 = try docker.ok("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", "dc2")
                            .trimmingCharacters(in: .whitespacesAndNewlines)
                        #expect(address1 == "198.18.63.2")
                        #expect(address2 == "198.18.63.3")
                        let ping = try docker.docker(["exec", "dc1", "busybox", "ping", "-c", "1", "-W", "3", address2])
                        #expect(ping.status == 0, "\(ping.stdout)\(ping.stderr)")

                        // The plugin keeps nothing in memory: restarted, it serves the same
                        // networks; and netctl's reconcile leaves Docker's endpoints alone.
                        #expect(plugin.stop() == 0)
                        let restarted = try PluginProcess(harness: harness, socket: plugin.socket)
                        defer { _ = restarted.stop() }
                        let reconcile = try harness.ok("system", "reconcile")
                        #expect(!reconcile.contains("removed"), "\(reconcile)")
                        let again = try docker.docker(["exec", "dc2", "busybox", "ping", "-c", "1", "-W", "3", address1])
                        #expect(again.status == 0, "\(again.stdout)\(again.stderr)")

                        // A netctl sandbox on the same network: its address is the next free one.
                        let sandbox = try harness.makeSandbox()
                        try harness.ok("network", "connect", id, sandbox)
                        #expect(try harness.ping(from: sandbox, address1))
                        let toSandbox = try docker.docker(["exec", "dc2", "busybox", "ping", "-c", "1", "-W", "3", "198.18.63.4"])
                        #expect(toSandbox.status == 0, "\(toSandbox.stdout)\(toSandbox.stderr)")

                        // -p through netctl's map, from the client namespace.
                        let elements = try runCommand(["ip", "netns", "exec", harness.host.name, "nft", "list", "ruleset"]).stdout
                        #expect(elements.contains("tcp . \(Client.hostAddress) . 8063 : \(address2) . 80"), "\(elements)")
                        let fetched = try client.namespace.run(["curl", "-s", "--max-time", "5", "http://\(Client.hostAddress):8063/index.html"])
                        #expect(fetched.stdout == "served-by-dc2\n", "\(fetched.stderr) \(docker.log.suffix(1000))")

                        try harness.ok("sandbox", "rm", sandbox)

                        try docker.ok("rm", "-f", "dc1", "dc2")
                        try docker.ok("network", "rm", "dnet")
                        #expect(try harness.ok("network", "ls", "-q").split(separator: "\n").count == 3)
                        #expect(records(under: "endpoints", of: harness).isEmpty)
                        #expect(records(under: "docker/pools", of: harness).isEmpty)  // ReleasePool came
                        #expect(try harness.kernelSnapshot() == before)
                        let ruleset = try runCommand(["ip", "netns", "exec", harness.host.name, "nft", "list", "ruleset"]).stdout
                        #expect(!ruleset.contains("8063"), "\(ruleset)")
                        #expect(restarted.isRunning)
                    }
                }
            }
        }
    }

    /// The same with Docker's default IPAM: netctl's network takes Docker's subnet, gateway
    /// and addresses.
    @Test func dockerdWithItsOwnIPAM() throws {
        try withNetctl { harness in
            try withPlugin(harness) { plugin in
                try withDockerd(netns: harness.host.name) { docker in
                    try plugin.link(into: docker)
                    let image = try docker.loadBusybox()
                    let before = try harness.kernelSnapshot()
                    let id = try docker.ok("network", "create", "-d", "netctl", "--subnet", "198.18.64.0/24", "--gateway", "198.18.64.254",
                                           "-o", "com.docker.network.bridge.name=nct-dk64", "dnet2")
                        .trimmingCharacters(in: .whitespacesAndNewlines)
                    let inspect = try harness.ok("network", "inspect", id)
                    #expect(inspect.contains("198.18.64.254"), "\(inspect)")
                    #expect(try harness.hostLinks().contains("nct-dk64"))
                    try docker.ok("run", "-d", "--name", "dd1", "--network", "dnet2", "--ip", "198.18.64.10", image, "sleep", "600")
                    try docker.ok("run", "-d", "--name", "dd2", "--network", "dnet2", image, "sleep", "600")
                    let ping = try docker.docker(["exec", "dd2", "busybox", "ping", "-c", "1", "-W", "3", "198.18.64.10"])
                    #expect(ping.status == 0, "\(ping.stdout)\(ping.stderr)")
                    let route = try docker.ok("exec", "dd2", "busybox", "ip", "route")
                    #expect(route.contains("default via 198.18.64.254"), "\(route)")
                    try docker.ok("rm", "-f", "dd1", "dd2")
                    try docker.ok("network", "rm", "dnet2")
                    #expect(try harness.ok("network", "ls", "-q").split(separator: "\n").count == 3)
                    #expect(records(under: "endpoints", of: harness).isEmpty)
                    #expect(try harness.kernelSnapshot() == before)
                }
            }
        }
    }
}

// MARK: The plugin as a process

/// `netctl docker-plugin` for a harness's root and host namespace, on a socket of the
/// test's; stopped by pid (SIGTERM, then SIGKILL) however the body ends.
final class PluginProcess {
    let socket: String
    private let process = Process()
    private var status: Int32?

    init(harness: NetctlHarness, socket: String) throws {
        self.socket = socket
        process.executableURL = URL(fileURLWithPath: NetctlHarness.binary)
        process.arguments = ["docker-plugin", "--socket", socket]
        process.environment = ProcessInfo.processInfo.environment.merging(harness.environment) { $1 }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if FileManager.default.fileExists(atPath: socket), (try? call("Plugin.Activate", ""))?.status == 200 { return }
            guard process.isRunning else { break }
            usleep(20_000)
        }
        _ = stop()
        throw HarnessError("netctl docker-plugin did not answer on \(socket)")
    }

    var isRunning: Bool { process.isRunning }

    /// dockerd finds plugins by their socket in its /run/docker/plugins: a link to this one
    /// there (the plugin outlives dockerd, which tells it of every container it removes).
    func link(into docker: DockerDaemon) throws {
        try FileManager.default.createSymbolicLink(atPath: docker.pluginDirectory + "/netctl.sock", withDestinationPath: socket)
    }

    /// SIGTERM, up to 10 s, then SIGKILL; the exit status.
    func stop() -> Int32 {
        if let status { return status }
        let pid = process.processIdentifier
        if process.isRunning { kill(pid, SIGTERM) }
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { kill(pid, SIGKILL) }
        process.waitUntilExit()
        status = process.terminationStatus
        return process.terminationStatus
    }

    struct Answer {
        var status: Int
        var contentType: String
        var text: String
        var json: [String: Any]
    }

    /// POST /METHOD with `body`, as Docker's plugin client sends it.
    func call(_ method: String, _ body: String) throws -> Answer {
        let result = try runCommand(["curl", "-s", "--max-time", "20", "--unix-socket", socket, "-X", "POST",
                                     "-H", "Content-Type: application/json", "--data-binary", body,
                                     "-w", "\n%{http_code} %{content_type}", "http://plugin/\(method)"])
        guard result.status == 0 else { throw HarnessError("curl \(method) exited \(result.status): \(result.stderr)") }
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        let trailer = lines.last?.split(separator: " ").map(String.init) ?? []
        let text = lines.dropLast().joined(separator: "\n")
        let json = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
        return Answer(status: Int(trailer.first ?? "") ?? 0, contentType: trailer.dropFirst().first ?? "", text: text, json: json)
    }

    /// A call that must succeed: 200 and no error.
    func ok(_ method: String, _ body: String) throws -> [String: Any] {
        let answer = try call(method, body)
        guard answer.status == 200, answer.json["Err"] == nil, answer.json["Error"] == nil else {
            throw HarnessError("\(method) answered \(answer.status): \(answer.text)")
        }
        return answer.json
    }
}

func withPlugin<T>(_ harness: NetctlHarness, _ body: (PluginProcess) throws -> T) throws -> T {
    let directory = harness.root + "-plugin"
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let plugin = try PluginProcess(harness: harness, socket: directory + "/netctl.sock")
    defer { _ = plugin.stop() }
    return try body(plugin)
}

/// The plugin executable next to the netctl binary under test.
func pluginBinary() -> String {
    URL(fileURLWithPath: NetctlHarness.binary).deletingLastPathComponent().appendingPathComponent("netctl-docker-plugin").path
}

/// The record files below a folder of the harness's state root.
func records(under folder: String, of harness: NetctlHarness) -> [String] {
    (FileManager.default.subpaths(atPath: harness.root + "/" + folder) ?? []).filter { $0.hasSuffix(".json") }
}
