import Foundation
import Netlink
import TestSupport
import Testing

@Suite("netctl: reconcile after crashes and outside changes")
struct ReconcileTests {
    /// A command killed (SIGKILL) at each fault point leaves nothing behind once reconcile
    /// has run; then the same command succeeds.
    @Test(arguments: ["connect.after-veth", "connect.after-firewall", "connect.after-macvlan", "network-create.after-bridge",
                      "sandbox-create.after-netns"])
    func killedHalfwayLeavesNothingAfterReconcile(_ point: String) throws {
        try withNetctl { netctl in
            let session = try netctl.host.session()
            try session.linkAdd(LinkSpec(name: "rcparent0", kind: .veth(peer: VethPeer(name: "rcpeer0")), up: true))
            try netctl.ok("network", "create", "--subnet", "198.18.70.0/24", "web")
            try netctl.ok("network", "create", "-d", "macvlan", "--subnet", "198.18.71.0/24", "-o", "parent=rcparent0", "mv")
            let sandbox = try netctl.makeSandbox()
            let hostBefore = try netctl.hostLinks(), stateBefore = try netctl.stateSnapshot()
            let rulesetBefore = try netctl.host.run(["nft", "list", "ruleset"]).stdout

            let fresh = netctl.sandboxName()
            let command: [String] = switch point {
            case "connect.after-veth": ["network", "connect", "web", sandbox]
            case "connect.after-firewall": ["network", "connect", "-p", "8080:80", "web", sandbox]
            case "connect.after-macvlan": ["network", "connect", "mv", sandbox]
            case "network-create.after-bridge": ["network", "create", "--subnet", "198.18.72.0/24", "late"]
            default: ["sandbox", "create", fresh]
            }
            let killed = try netctl.netctl(command, environment: ["NETCTL_FAULT": point])
            #expect(killed.status == 9 || killed.status == 137, "the fault point was not reached: \(killed.stderr)")

            let report = try netctl.ok("system", "reconcile")
            #expect(report.contains("removed"), "reconcile reported: \(report)")
            #expect(try netctl.hostLinks() == hostBefore)
            #expect(try netctl.links(in: sandbox) == ["lo"])
            #expect(try netctl.stateSnapshot() == stateBefore)
            #expect(!NetworkNamespace.exists(named: fresh))
            #expect(try netctl.host.run(["nft", "list", "ruleset"]).stdout == rulesetBefore)
            #expect(try netctl.ok("system", "reconcile") == "nothing to repair\n")

            // Nothing stands in the way of doing it again.
            try netctl.ok(command)
        }
    }

    @Test func aBridgeDeletedBehindNetctlsBackIsRecreated() throws {
        try withNetctl { netctl in
            try netctl.ok("network", "create", "--subnet", "198.18.73.0/24", "-o", "com.docker.network.bridge.name=ncrc-br0", "web")
            try netctl.host.session().linkDelete(.name("ncrc-br0"))
            let report = try netctl.ok("system", "reconcile")
            #expect(report.contains("recreated bridge ncrc-br0"))
            let session = try netctl.host.session()
            let index = try session.index(of: .name("ncrc-br0"))
            #expect(try session.addresses(interface: index).map(\.network).contains(IPNetwork(cidr: "198.18.73.1/24")!))
        }
    }

    @Test func aSandboxWhoseNamespaceVanishedIsForgottenAndItsAddressFreed() throws {
        try withNetctl { netctl in
            try netctl.ok("network", "create", "--subnet", "198.18.74.0/30", "tiny")
            let gone = try netctl.makeSandbox()
            try netctl.ok("network", "connect", "tiny", gone)
            try NetworkNamespace.remove(named: gone)
            let report = try netctl.ok("system", "reconcile")
            #expect(report.contains("removed sandbox \"\(gone)\""))
            // The only address of the /30 is free again.
            let next = try netctl.makeSandbox()
            try netctl.ok("network", "connect", "tiny", next)
            #expect(try !netctl.ok("sandbox", "ls").contains(gone))
        }
    }
}
