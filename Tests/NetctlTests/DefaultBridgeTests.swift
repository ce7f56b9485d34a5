import Foundation
import Testing
import TestSupport

/// Docker's default `bridge` network: there from the first command, what `run` joins
/// without `--network`, containers on it reaching each other by address but not by name.
@Suite struct DefaultBridgeTests {
    @Test func runWithoutNetworkIsOnTheDefaultBridge() throws {
        try withNetctl { netctl in
            let image = try netctl.importBusybox()
            // Recorded from the first command, its bridge made only by a first container.
            #expect(try netctl.ok("network", "ls").contains("   bridge   bridge   local"))
            #expect(try netctl.host.run(["ip", "link", "show", "nc0"]).status != 0)
            let network = try JSONSerialization.jsonObject(with: Data(try netctl.ok("network", "inspect", "bridge").utf8)) as? [[String: Any]]
            let config = ((network?.first?["IPAM"] as? [String: Any])?["Config"] as? [[String: Any]])?.first
            let subnet = config?["Subnet"] as? String ?? ""
            #expect(subnet.hasPrefix("198.18."), "the default pools give the subnet: \(subnet)")

            try netctl.ok("run", "-d", "--name", "first", image, "sleep", "300")
            let container = try JSONSerialization.jsonObject(with: Data(try netctl.ok("inspect", "first").utf8)) as? [[String: Any]]
            let networks = (container?.first?["NetworkSettings"] as? [String: Any])?["Networks"] as? [String: Any]
            let address = (networks?["bridge"] as? [String: Any])?["IPAddress"] as? String ?? ""
            #expect(address.hasPrefix("198.18."), "first is on bridge: \(address)")
            #expect(try netctl.host.run(["ip", "link", "show", "nc0"]).status == 0)

            // By address, yes (ICC on); by name, no: Docker gives names only on networks users make.
            let second = try netctl.netctl("run", "--rm", image, "sh", "-c",
                "ping -c 1 -W 2 \(address) >/dev/null && echo reached; nslookup first >/dev/null 2>&1 && echo named || echo unnamed; grep -c 127.0.0.11 /etc/resolv.conf; true")
            #expect(second.status == 0, "\(second.stderr)")
            #expect(second.stdout.hasPrefix("reached\nunnamed\n0"), "\(second.stdout)")

            // Predefined: it stays.
            let removal = try netctl.netctl("network", "rm", "bridge")
            #expect(removal.status != 0 && removal.stderr.contains("predefined"))
            try netctl.ok("rm", "-f", "first")
            // Its bridge goes with its last container, as podman0 does.
            #expect(try netctl.host.run(["ip", "link", "show", "nc0"]).status != 0)
            #expect(try netctl.host.run(["nft", "list", "ruleset"]).stdout.isEmpty)
            let repaired = try netctl.ok("system", "reconcile")
            #expect(repaired == "nothing to repair\n", "reconcile repaired: \(repaired)")
            // `--network none` is still a namespace with lo only.
            #expect(try netctl.ok("run", "--rm", "--network", "none", image, "ls", "/sys/class/net") == "lo\n")
        }
    }
}
