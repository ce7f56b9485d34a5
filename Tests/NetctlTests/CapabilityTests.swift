import Foundation
import Testing
import TestSupport

/// Capabilities and no_new_privs as the kernel reports them inside real containers.
@Suite struct CapabilityTests {
    /// The Cap*/NoNewPrivs lines of /proc/self/status, as a dictionary of hex strings.
    private func status(_ netctl: NetctlHarness, _ arguments: [String]) throws -> [String: String] {
        let output = try netctl.ok(["run", "--rm"] + arguments + ["grep", "-E", "^(Cap|NoNewPrivs)", "/proc/self/status"])
        var fields: [String: String] = [:]
        for line in output.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            fields[String(parts[0])] = parts[1].trimmingCharacters(in: .whitespaces)
        }
        return fields
    }

    @Test func dockersDefaultFourteen() throws {
        try withNetctl { netctl in
            let image = try netctl.importBusybox()
            let fields = try status(netctl, [image])
            // CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE
            // NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP
            #expect(fields["CapEff"] == "00000000a80425fb" && fields["CapBnd"] == "00000000a80425fb")
            #expect(fields["CapInh"] == "0000000000000000" && fields["CapAmb"] == "0000000000000000")
            #expect(fields["NoNewPrivs"] == "0")
            // exec gets the container's sets.
            let id = try netctl.ok("run", "-d", "--cap-drop", "CHOWN", image, "sleep", "30").trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(try netctl.ok("exec", id, "grep", "CapEff", "/proc/self/status") == "CapEff:\t00000000a80425fa\n")
        }
    }

    @Test func dropAllAddOne() throws {
        try withNetctl { netctl in
            let image = try netctl.importBusybox()
            let result = try netctl.netctl("run", "--rm", "--cap-drop", "ALL", "--cap-add", "net_bind_service", image, "sh", "-c",
                                           "grep CapEff /proc/self/status; httpd -p 80 -h / && echo bound to 80; chown 1000 /tmp && echo chowned")
            #expect(result.stdout == "CapEff:\t0000000000000400\nbound to 80\n")
            #expect(result.stderr.contains("chown: /tmp: Operation not permitted"))
            // A non-root user gets only what was added, as ambient capabilities.
            let user = try status(netctl, ["-u", "app", "--cap-add", "CAP_NET_ADMIN", image])
            #expect(user["CapEff"] == "0000000000001000" && user["CapAmb"] == "0000000000001000")
            #expect(user["CapBnd"] == "00000000a80435fb")
            // --privileged: every capability netctl holds itself (here all but SYS_RESOURCE,
            // which is not in root's bounding set).
            let privileged = try status(netctl, ["--privileged", image])
            let own = try String(contentsOfFile: "/proc/self/status", encoding: .utf8).split(separator: "\n")
                .first { $0.hasPrefix("CapPrm:") }!.dropFirst(7).trimmingCharacters(in: .whitespaces)
            #expect(privileged["CapEff"] == own)
        }
    }

    @Test func noNewPrivilegesStopsASetuidBinary() throws {
        try withNetctl { netctl in
            let image = try netctl.importBusybox()
            // A static probe, setuid root, that prints its effective uid.
            let directory = NSTemporaryDirectory() + uniqueName("nctsuid")
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            try "#include <stdio.h>\n#include <unistd.h>\nint main(void) { printf(\"%d\\n\", (int)geteuid()); return 0; }\n"
                .write(toFile: directory + "/euid.c", atomically: true, encoding: .utf8)
            let build = try runCommand(["sh", "-c", "gcc -static -O2 -o '\(directory)/euid' '\(directory)/euid.c' && chmod 4755 '\(directory)/euid'"])
            try #require(build.status == 0, "\(build.stderr)")
            #expect(try netctl.ok("run", "--rm", "-u", "app", "-v", "\(directory):/probe", image, "/probe/euid") == "0\n")
            #expect(try netctl.ok("run", "--rm", "-u", "app", "--security-opt", "no-new-privileges", "-v", "\(directory):/probe", image, "/probe/euid") == "1000\n")
            #expect(try status(netctl, ["--security-opt", "no-new-privileges=true", image])["NoNewPrivs"] == "1")
        }
    }

    @Test func secureRunProfiles() throws {
        try withNetctl { netctl in
            let image = try netctl.importBusybox()
            #expect(try netctl.ok("profile", "ls").contains("restricted"))
            // restricted: no capabilities, no_new_privs, read-only, not root.
            let restricted = try netctl.netctl("run", "--rm", "--profile", "restricted", image, "sh", "-c",
                                               "id -u; grep -E '^(CapEff|NoNewPrivs)' /proc/self/status; touch /x")
            #expect(restricted.stdout == "65534\nCapEff:\t0000000000000000\nNoNewPrivs:\t1\n")
            #expect(restricted.stderr.contains("Read-only file system"))
            // Flags override the profile.
            #expect(try netctl.ok("run", "--rm", "--profile", "restricted", "-u", "0", "--cap-add", "CHOWN", image, "sh", "-c",
                                  "id -u; grep CapEff /proc/self/status") == "0\nCapEff:\t0000000000000001\n")
            // A saved profile, used and removed.
            try netctl.ok("profile", "create", "--cap-drop", "NET_RAW", "--security-opt", "no-new-privileges", "--memory", "64m", "web-safe")
            let saved = try JSONSerialization.jsonObject(with: Data(try netctl.ok("profile", "inspect", "web-safe").utf8)) as! [[String: Any]]
            #expect(saved.first?["capDrop"] as? [String] == ["NET_RAW"])
            #expect(try netctl.ok("run", "--rm", "--profile", "web-safe", image, "grep", "CapEff", "/proc/self/status") == "CapEff:\t00000000a80405fb\n")
            try netctl.ok("profile", "rm", "web-safe")
            // A saved profile with a seccomp profile of its own; a flag lifts it.
            let seccomp = netctl.root + "-no-mkdir.json"
            defer { try? FileManager.default.removeItem(atPath: seccomp) }
            try "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"mkdir\", \"mkdirat\"], \"action\": \"SCMP_ACT_ERRNO\"}]}"
                .write(toFile: seccomp, atomically: true, encoding: .utf8)
            try netctl.ok("profile", "create", "--security-opt", "seccomp=\(seccomp)", "no-mkdir")
            let denied = try netctl.netctl("run", "--rm", "--profile", "no-mkdir", image, "mkdir", "/tmp/x")
            #expect(denied.status != 0 && denied.stderr.contains("Operation not permitted"), "\(denied.stderr)")
            #expect(try netctl.netctl("run", "--rm", "--profile", "no-mkdir", "--security-opt", "seccomp=unconfined", image, "mkdir", "/tmp/x").status == 0)
            // Refused: unknown profile, a bad profile, a built-in removed, a duplicate.
            #expect(try netctl.netctl("profile", "create", "--security-opt", "seccomp=/nonexistent.json", "bad").stderr.contains("/nonexistent.json is missing"))
            #expect(try netctl.netctl("run", "--rm", "--profile", "web-safe", image, "true").stderr.contains("profile \"web-safe\" not found"))
            #expect(try netctl.netctl("profile", "create", "--cap-add", "BOGUS", "bad").stderr.contains("unknown capability \"BOGUS\""))
            #expect(try netctl.netctl("profile", "create", "--memory", "lots", "bad").stderr.contains("invalid --memory \"lots\""))
            #expect(try netctl.netctl("profile", "rm", "restricted").stderr.contains("built in"))
            #expect(try netctl.netctl("profile", "create", "default").stderr.contains("already exists"))
            #expect(!(try netctl.ok("profile", "ls").contains("bad")))
        }
    }

    @Test func theDefaultAppArmorProfileCompiles() throws {
        try withNetctl { netctl in
            let directory = netctl.root + "-apparmor"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let profile = try netctl.ok("security", "apparmor-profile")
            #expect(profile.contains("profile netctl-default") && profile.contains("deny mount,"))
            // apparmor_parser -Q parses and compiles without loading (this kernel has no AppArmor).
            try profile.write(toFile: directory + "/good", atomically: true, encoding: .utf8)
            let good = try runCommand(["apparmor_parser", "-Q", "-K", directory + "/good"])
            #expect(good.status == 0, "\(good.stderr)")
            // The check can fail: a permission apparmor_parser does not know is refused.
            try profile.replacingOccurrences(of: "deny @{PROC}/kcore rwklx,", with: "deny @{PROC}/kcore rwklxq,").write(toFile: directory + "/bad", atomically: true, encoding: .utf8)
            #expect(try runCommand(["apparmor_parser", "-Q", "-K", directory + "/bad"]).status != 0)
            #expect(try netctl.netctl("security", "apparmor-profile", "a b").stderr.contains("invalid AppArmor profile name"))
            if access("/sys/kernel/security/apparmor", F_OK) != 0 {
                #expect(try netctl.ok("system", "info").contains("AppArmor:       not in this kernel"))
            }
        }
    }

    /// Docker's masked and read-only /proc and /sys paths, and systempaths=unconfined.
    @Test func systemPathsAreConfinedUnlessAskedNotTo() throws {
        try withNetctl { netctl in
            let image = try netctl.importBusybox()
            let script = "for p in /proc/keys /proc/sys /proc/bus; do echo $p=$(grep -c \" $p \" /proc/self/mountinfo); done"
            #expect(try netctl.ok("run", "--rm", image, "sh", "-c", script) == "/proc/keys=1\n/proc/sys=1\n/proc/bus=1\n")
            let id = try netctl.ok("run", "-d", "--security-opt", "systempaths=unconfined", image, "sleep", "30")
                .trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(try netctl.ok("exec", id, "sh", "-c", script) == "/proc/keys=0\n/proc/sys=0\n/proc/bus=0\n")
            let inspected = try JSONSerialization.jsonObject(with: Data(try netctl.ok("inspect", id).utf8)) as! [[String: Any]]
            #expect((inspected[0]["HostConfig"] as? [String: Any])?["SecurityOpt"] as? [String] == ["systempaths=unconfined"])
        }
    }

    @Test func badSecurityInputIsRefused() throws {
        try withNetctl { netctl in
            let image = try netctl.importBusybox()
            for (arguments, message) in [
                (["--cap-add", "BOGUS"], "unknown capability \"BOGUS\""),
                (["--cap-drop", "cap_nope"], "unknown capability \"cap_nope\""),
                (["--security-opt", "label=disable"], "invalid --security-opt \"label=disable\""),
                (["--security-opt", "no-new-privileges=maybe"], "invalid --security-opt"),
                (["--security-opt", "systempaths=open"], "invalid --security-opt \"systempaths=open\""),
            ] {
                let result = try netctl.netctl(["run", "--rm"] + arguments + [image, "true"])
                #expect(result.status == 125 && result.stderr.contains(message), "\(arguments): \(result.stderr)")
                #expect(result.stderr.split(separator: "\n").count == 1)
            }
            let own = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
            if own.contains("CapBnd:\t000001fffeffffff") {
                let result = try netctl.netctl("run", "--rm", "--cap-add", "SYS_RESOURCE", image, "true")
                #expect(result.status == 125 && result.stderr.contains("does not hold SYS_RESOURCE"), "\(result.stderr)")
            }
            if access("/sys/kernel/security/apparmor", F_OK) != 0 {
                let result = try netctl.netctl("run", "--rm", "--security-opt", "apparmor=docker-default", image, "true")
                #expect(result.status == 125 && result.stderr.contains("this kernel has no AppArmor"))
            }
            #expect(try netctl.ok("ps", "-aq").isEmpty)
        }
    }
}
