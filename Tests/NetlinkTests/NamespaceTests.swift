import Netlink
import TestSupport
import Testing
import Glibc

@Suite("Named network namespaces")
struct NamespaceTests {
    @Test func namedNamespaceWorksWithIPNetnsExecAndIsRemoved() throws {
        let name = uniqueName("nctns")
        let namespace = try NetworkNamespace.create(named: name) { session in
            try session.linkAdd(LinkSpec(name: "inside0", kind: .bridge))
        }
        defer { try? NetworkNamespace.remove(named: name) }
        #expect(NetworkNamespace.exists(named: name))
        #expect(NetworkNamespace.names().contains(name))

        // iproute2 finds it under /run/netns and sees the link made inside.
        let shown = try runCommand(["ip", "netns", "exec", name, "ip", "-o", "link", "show", "inside0"])
        #expect(shown.status == 0)
        #expect(try NetworkNamespace.current().isSame(as: namespace) == false)

        try NetworkNamespace.remove(named: name)
        #expect(!NetworkNamespace.exists(named: name))
        #expect(try runCommand(["ip", "netns", "exec", name, "true"]).status != 0)
    }

    @Test func openingASessionElsewhereLeavesTheCallerWhereItWas() throws {
        try withTestNamespace { ns in
            let before = try NetworkNamespace.current()
            _ = try ns.session()
            _ = try ns.namespace.perform { try NetworkNamespace.current() }
            #expect(try NetworkNamespace.current().isSame(as: before))
            #expect(try ns.namespace.perform { try NetworkNamespace.current() }.isSame(as: ns.namespace))
        }
    }

    @Test func duplicateAndBadNamesAreRefused() throws {
        try withTestNamespace { ns in
            #expect(throws: NetlinkError.self) { try NetworkNamespace.create(named: ns.name) }
        }
        #expect(throws: NetlinkError.self) { try NetworkNamespace.create(named: "a/b") }
        #expect(throws: NetlinkError.self) { try NetworkNamespace.create(named: "") }
    }

    @Test func sysctlsAreSetInsideTheNamespaceOnly() throws {
        try withTestNamespace { ns in
            let outside = try Sysctl.read("net/ipv4/ip_forward")
            let wanted = outside == "1" ? "0" : "1"
            try ns.namespace.setSysctl("net/ipv4/ip_forward", wanted)
            #expect(try ns.namespace.perform { try Sysctl.read("net/ipv4/ip_forward") } == wanted)
            #expect(try Sysctl.read("net/ipv4/ip_forward") == outside)
        }
    }
}
