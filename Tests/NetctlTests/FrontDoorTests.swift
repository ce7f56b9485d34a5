import Foundation
import Netlink
import Testing
import TestSupport

/// The command line as Docker and Podman users type it.
@Suite struct FrontDoorTests {
    /// `netctl --root DIR network ls`: global options before the subcommand, as `docker`
    /// and `podman` take theirs; after it as before; the later one wins.
    @Test func globalOptionsBeforeTheSubcommand() throws {
        try withNetctl { netctl in
            let other = netctl.root + "-other"
            defer { try? FileManager.default.removeItem(atPath: other) }
            try netctl.ok("--root", other, "network", "create", "--subnet", "198.18.91.0/24", "elsewhere")
            #expect(try netctl.ok("--root=\(other)", "network", "ls", "-q", "--filter", "name=elsewhere").count == 13)
            #expect(try netctl.ok("network", "ls", "-q", "--filter", "name=elsewhere").isEmpty)
            #expect(try netctl.ok("--root", netctl.root, "network", "ls", "--root", other, "-q", "--filter", "name=elsewhere").count == 13)
            // Through ArgumentParser's path too (a command without a shortcut).
            #expect(try netctl.ok("--root", other, "system", "info").contains(other))
            try netctl.ok("--root", other, "--host-netns", netctl.host.name, "network", "rm", "elsewhere")
            let help = try netctl.ok("--help")
            for option in ["--root <DIR>", "--host-netns <NAME>", "--default-address-pool"] { #expect(help.contains(option), "\(help)") }
        }
    }

    /// Help is printed by ArgumentParser, with the command's whole path, and touches no
    /// state: the root it would use is never made.
    @Test func helpNeverTouchesState() throws {
        let root = NSTemporaryDirectory() + uniqueName("netctl-nohelp-")
        for (arguments, usage) in [(["run", "--help"], "USAGE: netctl run "), (["run", "-h"], "USAGE: netctl run "),
                                   (["run", "-d", "--help"], "USAGE: netctl run "), (["exec", "--help"], "USAGE: netctl exec "),
                                   (["network", "connect", "--help"], "USAGE: netctl network connect "),
                                   (["network", "ls", "-h"], "USAGE: netctl network ls "),
                                   (["image", "import", "--help"], "USAGE: netctl image import ")] {
            let result = try runCommand([NetctlHarness.binary] + arguments, environment: ["NETCTL_ROOT": root])
            #expect(result.status == 0 && result.stdout.contains(usage), "\(arguments): \(result.status) \(result.stdout) \(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: root), "\(arguments) made the state root")
        }
        let missing = try runCommand([NetctlHarness.binary, "network", "connect", "onlyone"], environment: ["NETCTL_ROOT": root])
        #expect(missing.status == 64 && missing.stderr.contains("Usage: netctl network connect "), "\(missing.stderr)")
        #expect(!FileManager.default.fileExists(atPath: root))
    }

    /// `--entrypoint ''` clears the image's entrypoint; `--entrypoint=` takes nothing from
    /// the next word.
    @Test func anEmptyEntrypointClearsIt() throws {
        try withNetctl { netctl in
            let image = try netctl.importBusybox()
            #expect(try netctl.ok("run", "--rm", "--entrypoint", "", image, "echo", "cleared") == "cleared\n")
            #expect(try netctl.ok("run", "--rm", "--entrypoint=", image, "echo", "cleared") == "cleared\n")
            #expect(try netctl.ok("run", "--rm", "--entrypoint", "echo", image, "given") == "given\n")
            let nothing = try netctl.netctl("run", "--rm", "--entrypoint", "", image)
            #expect(nothing.status == 125 && nothing.stderr.contains("has no command"), "\(nothing.stderr)")
        }
    }

    /// A state root that is a file fails every command the same way, with one line.
    @Test func anUnusableRootFailsEveryCommandAlike() throws {
        let file = NSTemporaryDirectory() + uniqueName("netctl-rootfile-")
        FileManager.default.createFile(atPath: file, contents: Data("x".utf8))
        defer { try? FileManager.default.removeItem(atPath: file) }
        for arguments in [["image", "ls"], ["network", "ls"], ["ps", "-a"], ["profile", "ls"], ["system", "reconcile"], ["run", "--rm", "img", "true"]] {
            let result = try runCommand([NetctlHarness.binary] + arguments, environment: ["NETCTL_ROOT": file])
            #expect(result.status != 0 && result.stderr == "Error: state root \(file): not a directory (give --root DIR or NETCTL_ROOT)\n",
                    "\(arguments): \(result.status) \(result.stderr)")
            #expect(result.stdout.isEmpty)
        }
    }

    /// Errors about a container's networks name the container, not its internal sandbox.
    @Test func networkErrorsNameTheContainer() throws {
        try withNetctl { netctl in
            let image = try netctl.importBusybox()
            try netctl.ok("network", "create", "--subnet", "198.18.92.0/24", "front")
            try netctl.ok("run", "-d", "--name", "holder", "--network", "front", "-p", "18092:80", image, "sleep", "30")
            let clash = try netctl.netctl("run", "--rm", "--name", "second", "--network", "front", "-p", "18092:80", image, "true")
            #expect(clash.status == 125 && clash.stderr.contains("container \"holder\"") && !clash.stderr.contains("nc-"), "\(clash.stderr)")
            let inUse = try netctl.netctl("network", "rm", "front")
            #expect(inUse.status != 0 && inUse.stderr.contains("container \"holder\"") && !inUse.stderr.contains("nc-"), "\(inUse.stderr)")
            try netctl.ok("rm", "-f", "holder")
        }
    }
}

/// The hottest commands are read by hand-written tables (HotPath) instead of
/// ArgumentParser. Every flag ArgumentParser declares for them goes through both parsers
/// here, and both must produce the same request.
@Suite struct HotPathTests {
    static let lines: [[String]] = [
        ["run", "-d", "--rm", "-i", "-t", "--name", "n", "--network", "a", "--network=b", "-p", "80", "--publish", "81:81",
         "-P", "--expose", "90", "-e", "A=1", "--env", "B=2", "-w", "/w", "--workdir", "/x", "--hostname", "h",
         "-v", "/a:/b", "--volume", "/c:/d", "--tmpfs", "/t", "--entrypoint", "sh", "--cap-add", "NET_ADMIN", "--cap-drop", "ALL",
         "--security-opt", "no-new-privileges", "--read-only", "-u", "1", "--user", "2", "-m", "64m", "--memory", "65m",
         "--cpus", "1", "--pids-limit", "5", "--privileged", "--profile", "p", "--root", "/r", "--host-netns", "h",
         "--dns", "198.18.1.53", "--dns=2001:db8::53", "--dns-search", "s.test", "--dns-option", "ndots:2", "--add-host", "db:198.18.1.9",
         "--network-alias", "al", "--alias", "al2",
         "--default-address-pool", "base=198.18.0.0/16,size=24", "img", "sh", "-c", "echo -d --rm"],
        ["run", "-dit", "--publish-all", "--cluster-store", "etcd://198.18.1.5:2379", "--cluster-store-opt", "kv.cacertfile=/ca.pem", "--node-name", "n1", "--advertise-addr", "198.18.1.11", "img"],
        ["run", "-itu", "1000", "--pull", "always", "--scan-policy", "high", "img", "id", "-u"],
        ["exec", "-i", "-t", "-e", "A=1", "--env", "B=2", "-w", "/w", "--workdir", "/x", "-u", "1", "--user", "2",
         "--root=/r", "--host-netns", "h", "--default-address-pool=base=198.18.0.0/16,size=24", "c", "sh", "-c", "x -t"],
        ["exec", "-it", "--cluster-store", "etcd://198.18.1.5:2379", "--cluster-store-opt", "kv.cacertfile=/ca.pem", "--node-name", "n1", "--advertise-addr", "198.18.1.11", "c", "ls", "-l"],
        ["network", "connect", "--ip", "198.18.1.2", "--ip6", "2001:db8::2", "--alias", "a", "--alias", "b", "-p", "80",
         "--publish", "81", "-P", "--expose", "90", "--host-netns", "h", "--root", "/r", "--default-address-pool",
         "base=198.18.0.0/16,size=24", "net", "sb"],
        ["network", "connect", "net", "--publish-all", "sb", "-p", "80", "--cluster-store", "etcd://198.18.1.5:2379", "--cluster-store-opt", "kv.cacertfile=/ca.pem", "--node-name", "n1", "--advertise-addr", "198.18.1.11"],
        ["network", "ls", "-q", "-f", "driver=bridge", "--filter", "name=x", "--format", "json", "--no-trunc",
         "--default-address-pool", "base=198.18.0.0/16,size=24", "--root", "/r", "--host-netns=h"],
        ["network", "ls", "--quiet", "--cluster-store", "etcd://198.18.1.5:2379", "--cluster-store-opt", "kv.cacertfile=/ca.pem", "--node-name", "n1", "--advertise-addr", "198.18.1.11"],
        ["network", "list"],
    ]

    @Test(arguments: lines)
    func bothParsersAgree(_ line: [String]) throws {
        let hand = try runCommand([NetctlHarness.binary] + line, environment: ["NETCTL_PARSE_ONLY": "1"])
        let library = try runCommand([NetctlHarness.binary] + line, environment: ["NETCTL_PARSE_ONLY": "1", "NETCTL_PARSER": "argument-parser"])
        #expect(hand.status == 0 && hand.stderr.isEmpty, "\(hand.stderr)")
        #expect(hand.stdout == library.stdout && hand.status == library.status, "\nhand:    \(hand.stdout)\nlibrary: \(library.stdout) \(library.stderr)")
    }

    /// Every option and flag ArgumentParser knows for these commands is in a line above.
    @Test func everyFlagIsCovered() throws {
        for path in [["run"], ["exec"], ["network", "connect"], ["network", "ls"]] {
            let dump = try runCommand([NetctlHarness.binary, "--experimental-dump-help"])
            let json = try #require(try JSONSerialization.jsonObject(with: Data(dump.stdout.utf8)) as? [String: Any], "\(dump.stderr)")
            let command = try #require(Self.find(path, in: json["command"] as! [String: Any]))
            let covered = Set(Self.lines.filter { Array($0.prefix(path.count)) == path }.joined())
            for argument in command["arguments"] as? [[String: Any]] ?? [] where argument["kind"] as? String != "positional" {
                let names = (argument["names"] as? [[String: Any]] ?? []).compactMap { name -> String? in
                    guard let text = name["name"] as? String, let kind = name["kind"] as? String else { return nil }
                    return kind == "short" ? "-\(text)" : "--\(text)"
                }
                if names.contains("--help") || names.contains("--version") { continue }
                #expect(names.contains { name in covered.contains { $0 == name || $0.hasPrefix(name + "=") || ($0.hasPrefix("-") && !$0.hasPrefix("--") && name.count == 2 && $0.contains(name.last!)) } },
                        "\(path): \(names) is in no line")
            }
        }
    }

    /// The hand-written path hands anything it does not know to ArgumentParser, whose
    /// error names it.
    @Test func unknownFlagsGetArgumentParsersError() throws {
        let result = try runCommand([NetctlHarness.binary, "run", "--bogus", "img"], environment: ["NETCTL_PARSE_ONLY": "1"])
        #expect(result.status == 64 && result.stderr.contains("Unknown option '--bogus'"), "\(result.stderr)")
    }

    /// The command at `path` in ArgumentParser's dump of the whole tree.
    static func find(_ path: [String], in command: [String: Any]) -> [String: Any]? {
        guard let name = path.first else { return command }
        let sub = (command["subcommands"] as? [[String: Any]] ?? []).first { $0["commandName"] as? String == name }
        return sub.flatMap { find(Array(path.dropFirst()), in: $0) }
    }
}
