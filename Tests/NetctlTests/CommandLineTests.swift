import Foundation
import Netlink
import TestSupport
import Testing

@Suite("netctl: the command line a Docker user expects")
struct CommandLineTests {
    @Test func listFiltersFormatsAndQuietIds() throws {
        try withNetctl { netctl in
            let id = try netctl.ok("network", "create", "--label", "tier=front", "web").trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(id.count == 64)
            let table = try netctl.ok("network", "ls")
            #expect(table.hasPrefix("NETWORK ID"))
            #expect(table.contains(String(id.prefix(12))))
            #expect(table.contains("host") && table.contains("none"))

            #expect(try netctl.ok("network", "ls", "-q", "--filter", "label=tier=front") == String(id.prefix(12)) + "\n")
            #expect(try netctl.ok("network", "ls", "-q", "--filter", "type=custom", "--no-trunc") == id + "\n")
            #expect(try netctl.ok("network", "ls", "-q", "--filter", "driver=bridge", "--filter", "name=we") == String(id.prefix(12)) + "\n")
            let builtin = try netctl.ok("network", "ls", "--filter", "type=builtin", "--format", "json")
            let rows = try builtin.split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: String] }
            #expect(Set(rows.map { $0["Name"]! }) == ["bridge", "host", "none"])
        }
    }

    @Test func onlyOneHostAndOneNullNetwork() throws {
        try withNetctl { netctl in
            let result = try netctl.netctl("network", "create", "-d", "host", "anotherhost")
            #expect(result.status != 0)
            #expect(result.stderr.contains("only one instance of the host network"))
        }
    }

    @Test func inspectUsesDockersFieldNames() throws {
        try withNetctl { netctl in
            try netctl.ok("network", "create", "--ipv6", "--subnet", "198.18.80.0/24", "--ip-range", "198.18.80.128/25",
                          "--gateway", "198.18.80.254", "--aux-address", "printer=198.18.80.129",
                          "--subnet", "2001:db8:80::/64", "-o", "com.docker.network.driver.mtu=1400", "--label", "a=b", "web")
            let sandbox = try netctl.makeSandbox()
            try netctl.ok("network", "connect", "web", sandbox)
            let parsed = try JSONSerialization.jsonObject(with: Data(try netctl.ok("network", "inspect", "web").utf8)) as! [[String: Any]]
            let network = parsed[0]
            #expect(network["Name"] as? String == "web")
            #expect((network["Id"] as? String)?.count == 64)
            #expect(network["Driver"] as? String == "bridge")
            #expect(network["Scope"] as? String == "local")
            #expect(network["EnableIPv6"] as? Bool == true)
            #expect(network["Internal"] as? Bool == false)
            #expect(network["Attachable"] as? Bool == false)
            #expect(network["Created"] is String)
            #expect((network["Options"] as? [String: String])?["com.docker.network.driver.mtu"] == "1400")
            #expect((network["Labels"] as? [String: String]) == ["a": "b"])
            let ipam = try #require(network["IPAM"] as? [String: Any])
            #expect(ipam["Driver"] as? String == "default")
            let config = try #require(ipam["Config"] as? [[String: Any]])
            let v4 = try #require(config.first { ($0["Subnet"] as? String) == "198.18.80.0/24" })
            #expect(v4["IPRange"] as? String == "198.18.80.128/25")
            #expect(v4["Gateway"] as? String == "198.18.80.254")
            #expect((v4["AuxiliaryAddresses"] as? [String: String]) == ["printer": "198.18.80.129"])
            #expect(config.contains { ($0["Subnet"] as? String) == "2001:db8:80::/64" && ($0["Gateway"] as? String) == "2001:db8:80::1" })

            // The first address of the ip-range, as Docker hands it out.
            let containers = try #require(network["Containers"] as? [String: [String: Any]])
            let attached = try #require(containers.values.first)
            #expect(attached["Name"] as? String == sandbox)
            #expect(attached["IPv4Address"] as? String == "198.18.80.128/24")
            #expect(attached["IPv6Address"] as? String == "2001:db8:80::2/64")
            #expect(attached["MacAddress"] as? String == "02:42:c6:12:50:80")
            #expect((attached["EndpointID"] as? String)?.count == 64)
            #expect((attached["Ports"] as? [String: Any])?.isEmpty == true)

            // The kernel agrees: MTU on the bridge and on the sandbox end.
            let inside = try #require(try NetlinkSession(in: NetworkNamespace.open(named: sandbox)).link(.name("eth0")))
            #expect(inside.mtu == 1400)
        }
    }

    @Test func removeAndPrune() throws {
        try withNetctl { netctl in
            try netctl.ok("network", "create", "-o", "com.docker.network.bridge.name=ncrm-br0", "gone")
            try netctl.ok("network", "create", "kept")
            try netctl.ok("network", "create", "idle")
            let sandbox = try netctl.makeSandbox()
            try netctl.ok("network", "connect", "kept", sandbox)
            #expect(try netctl.hostLinks().contains("ncrm-br0"))
            #expect(try netctl.ok("network", "rm", "gone") == "gone\n")
            #expect(try !netctl.hostLinks().contains("ncrm-br0"))
            #expect(try netctl.ok("network", "prune", "-f") == "Deleted Networks:\nidle\n")
            let names = try netctl.ok("network", "ls", "--format", "json")
            #expect(names.contains("\"kept\"") && !names.contains("\"idle\""))
        }
    }

    @Test func sandboxLifecycle() throws {
        try withNetctl { netctl in
            try netctl.ok("network", "create", "web")
            let sandbox = try netctl.makeSandbox()
            try netctl.ok("network", "connect", "--alias", "db", "web", sandbox)
            #expect(try netctl.ok("sandbox", "ls").contains("web"))
            let parsed = try JSONSerialization.jsonObject(with: Data(try netctl.ok("sandbox", "inspect", sandbox).utf8)) as! [[String: Any]]
            #expect(parsed[0]["SandboxKey"] as? String == "/run/netns/\(sandbox)")
            let web = try #require((parsed[0]["Networks"] as? [String: [String: Any]])?["web"])
            // (198.18.0.0/24, the first of the pools, is the default bridge's.)
            #expect(web["IPAddress"] as? String == "198.18.1.2")
            #expect(web["Gateway"] as? String == "198.18.1.1")
            #expect(web["Aliases"] as? [String] == ["db"])

            let hostBefore = try netctl.hostLinks()
            try netctl.ok("sandbox", "rm", sandbox)
            #expect(!NetworkNamespace.exists(named: sandbox))
            #expect(try netctl.hostLinks().count == hostBefore.count - 1)
            #expect(try netctl.ok("sandbox", "ls", "-q").isEmpty)
        }
    }

    @Test func systemInfoReportsTheRoot() throws {
        try withNetctl { netctl in
            let info = try netctl.ok("system", "info", "--format", "json")
            let parsed = try JSONSerialization.jsonObject(with: Data(info.utf8)) as! [String: String]
            #expect(parsed["Root"] == netctl.root)
            #expect(parsed["Host namespace"] == netctl.host.name)
            #expect(parsed["Networks"] == "3")
        }
    }
}
