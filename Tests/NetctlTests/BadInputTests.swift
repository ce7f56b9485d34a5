import Foundation
import Netlink
import TestSupport
import Testing

/// Each bad command is refused with a non-zero exit and one line naming the bad value,
/// and leaves the state root and the kernel exactly as they were.
@Suite("netctl: bad input changes nothing")
struct BadInputTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var arguments: [String]
        var message: String
        var testDescription: String { arguments.joined(separator: " ") }
    }

    static let cases: [Case] = [
        Case(arguments: ["network", "create", "--subnet", "198.18.60.0/33", "n1"], message: "invalid subnet \"198.18.60.0/33\""),
        Case(arguments: ["network", "create", "--subnet", "banana", "n1"], message: "invalid subnet \"banana\""),
        Case(arguments: ["network", "create", "--subnet", "198.18.60.7/24", "n1"], message: "expected 198.18.60.0/24"),
        Case(arguments: ["network", "create", "--ipv6", "--subnet", "ff0e:db8::/64", "n1"], message: "invalid subnet \"ff0e:db8::/64\": it overlaps the multicast range ff00::/8"),
        Case(arguments: ["network", "create", "--ipv6", "--subnet", "fe80::/64", "n1"], message: "it overlaps the link-local range fe80::/10"),
        Case(arguments: ["network", "create", "--subnet", "224.1.0.0/24", "n1"], message: "it overlaps the multicast range 224.0.0.0/4"),
        Case(arguments: ["network", "create", "--subnet", "127.1.0.0/16", "n1"], message: "it overlaps the loopback range 127.0.0.0/8"),
        Case(arguments: ["network", "create", "--subnet", "198.18.61.128/25", "n1"], message: "overlaps network \"taken\" (198.18.61.0/24)"),
        Case(arguments: ["network", "create", "--subnet", "198.18.62.0/24", "--gateway", "198.18.63.1", "n1"], message: "gateway 198.18.63.1 is not in subnet 198.18.62.0/24"),
        Case(arguments: ["network", "create", "--subnet", "198.18.62.0/24", "--ip-range", "198.18.63.0/25", "n1"], message: "ip-range 198.18.63.0/25 is not in subnet 198.18.62.0/24"),
        Case(arguments: ["network", "create", "taken"], message: "network \"taken\" already exists"),
        Case(arguments: ["network", "create", "-d", "wireguard", "n1"], message: "unknown driver \"wireguard\""),
        Case(arguments: ["network", "create", "-o", "com.example.colour=blue", "n1"], message: "unknown option \"com.example.colour\""),
        Case(arguments: ["network", "create", "-o", "nokeyvalue", "n1"], message: "unknown option \"nokeyvalue\" for driver bridge"),
        Case(arguments: ["network", "create", "-o", "com.docker.network.driver.mtu=12", "n1"], message: "invalid value \"12\""),
        Case(arguments: ["network", "create", "-o", "com.docker.network.bridge.name=abcdefghijklmnop", "n1"], message: "bridge name \"abcdefghijklmnop\" is 16 bytes"),
        Case(arguments: ["network", "create", "-d", "macvlan", "--subnet", "198.18.64.0/24", "-o", "parent=nosuch0", "n1"], message: "macvlan parent \"nosuch0\" not found"),
        Case(arguments: ["network", "create", "-d", "macvlan", "-o", "parent=lo", "-o", "macvlan_mode=sideways", "n1"], message: "invalid value \"sideways\""),
        Case(arguments: ["network", "create", "bad name"], message: "invalid network name \"bad name\""),
        Case(arguments: ["network", "rm", "taken"], message: "network \"taken\" is in use by 1 endpoint: sandbox"),
        Case(arguments: ["network", "rm", "host"], message: "network \"host\" is predefined"),
        Case(arguments: ["network", "rm", "nosuchnet"], message: "network \"nosuchnet\" not found"),
        Case(arguments: ["network", "connect", "--ip", "198.18.61.2", "taken", "SANDBOX2"], message: "address 198.18.61.2 is already in use by sandbox"),
        Case(arguments: ["network", "connect", "--ip", "198.18.99.2", "taken", "SANDBOX2"], message: "address 198.18.99.2 is not in subnet 198.18.61.0/24"),
        Case(arguments: ["network", "connect", "--ip", "banana", "taken", "SANDBOX2"], message: "invalid --ip \"banana\""),
        Case(arguments: ["network", "connect", "tiny", "SANDBOX2"], message: "no free IPv4 address in 198.18.65.0/30"),
        Case(arguments: ["network", "connect", "taken", "SANDBOX1"], message: "is already connected to network \"taken\""),
        Case(arguments: ["network", "connect", "host", "SANDBOX2"], message: "cannot join the host network"),
        Case(arguments: ["network", "ls", "--filter", "colour=blue"], message: "invalid filter \"colour=blue\""),
        Case(arguments: ["sandbox", "create", "SANDBOX1"], message: "already exists"),
    ]

    @Test(arguments: cases)
    func refusedWithoutChange(_ badCase: Case) throws {
        try withNetctl { netctl in
            // A little state for the refusals to be measured against.
            try netctl.ok("network", "create", "--subnet", "198.18.61.0/24", "taken")
            try netctl.ok("network", "create", "--subnet", "198.18.65.0/30", "tiny")
            let first = try netctl.makeSandbox(), second = try netctl.makeSandbox()
            try netctl.ok("network", "connect", "taken", first)
            try netctl.ok("network", "connect", "tiny", first)

            let arguments = badCase.arguments.map { $0 == "SANDBOX1" ? first : $0 == "SANDBOX2" ? second : $0 }
            let stateBefore = try netctl.stateSnapshot(), kernelBefore = try netctl.kernelSnapshot()
            let sandboxLinksBefore = try netctl.links(in: second)
            let result = try netctl.netctl(arguments)

            #expect(result.status != 0)
            let lines = result.stderr.split(separator: "\n")
            #expect(lines.count == 1, "expected one line, got: \(result.stderr)")
            #expect(result.stderr.contains(badCase.message), "stderr: \(result.stderr)")
            #expect(result.stdout.isEmpty)
            #expect(try netctl.stateSnapshot() == stateBefore)
            let kernelAfter = try netctl.kernelSnapshot()
            #expect(kernelAfter == kernelBefore, "gone: \(Set(kernelBefore).subtracting(kernelAfter)), new: \(Set(kernelAfter).subtracting(kernelBefore))")
            #expect(try netctl.links(in: second) == sandboxLinksBefore)
        }
    }
}
