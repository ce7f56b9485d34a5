import Foundation
import Testing
import TestSupport

/// seccomp profiles in Docker's format, installed in real containers; a probe reports each
/// syscall's errno.
@Suite struct SeccompTests {
    static let mobyDefault: String = {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("shared/fixtures/seccomp/moby-default.json").path
    }()

    /// A static program that tries syscalls and prints NAME=ok or NAME=ERRNO.
    private func buildProbe(in directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let source = """
        #define _GNU_SOURCE
        #include <errno.h>
        #include <stdio.h>
        #include <string.h>
        #include <unistd.h>
        #include <sys/syscall.h>
        static void probe(const char *name, long result) { printf("%s=%s\\n", name, result < 0 ? strerrorname_np(errno) : "ok"); }
        int main(void) {
            probe("getpid", syscall(SYS_getpid));
            probe("keyctl", syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* session */, 0));
            probe("clone3", syscall(SYS_clone3, NULL, 0));
            probe("unshare", syscall(SYS_unshare, 0x40000000));
            probe("bpf", syscall(SYS_bpf, 0, NULL, 0));
            probe("mount", syscall(SYS_mount, "none", "/mnt", "tmpfs", 0, NULL));
            probe("personality", syscall(SYS_personality, 0x0400000 /* READ_IMPLIES_EXEC */));
            probe("mseal", syscall(462, 0, 0, 0));  /* newer than libseccomp 2.5's table */
            return 0;
        }
        """
        try source.write(toFile: directory + "/probe.c", atomically: true, encoding: .utf8)
        let build = try runCommand(["gcc", "-static", "-O2", "-o", directory + "/probe", directory + "/probe.c"])
        guard build.status == 0 else { throw HarnessError("building the probe: \(build.stderr)") }
    }

    /// What mseal (462) answers under the built-in profile: ENOSYS where libseccomp has no
    /// name for it (2.5), so that it is newer than the profile; allowed where it has.
    private func msealUnderProfile(_ netctl: NetctlHarness) throws -> String {
        let newest = try netctl.ok("seccomp", "check").split(separator: "\n").last ?? ""
        guard let open = newest.firstIndex(of: "("), let close = newest.firstIndex(of: ")"),
              let number = Int(newest[newest.index(after: open)..<close]) else { return "unknown" }
        return number < 462 ? "ENOSYS" : "ok"
    }

    private func results(_ output: String) -> [String: String] {
        Dictionary(uniqueKeysWithValues: output.split(separator: "\n").compactMap { line -> (String, String)? in
            let parts = line.split(separator: "=", maxSplits: 1)
            return parts.count == 2 ? (String(parts[0]), String(parts[1])) : nil
        })
    }

    @Test func theDefaultProfileDeniesAsDockerDoes() throws {
        try withNetctl { netctl in
            let image = try netctl.importBusybox()
            let directory = netctl.root + "-probe"
            defer { try? FileManager.default.removeItem(atPath: directory) }
            try buildProbe(in: directory)
            func probe(_ options: [String], status: Bool = true) throws -> [String: String] {
                let script = "/probe/probe" + (status ? "; grep Seccomp: /proc/self/status | tr -d '\\t' | tr : =" : "")
                return results(try netctl.ok(["run", "--rm", "-v", "\(directory):/probe"] + options + [image, "sh", "-c", script]))
            }

            // No option: the built-in profile.
            let confined = try probe([])
            #expect(confined["Seccomp"] == "2")
            #expect(confined["getpid"] == "ok")
            for name in ["keyctl", "bpf", "unshare", "mount", "personality"] {
                #expect(confined[name] == "EPERM", "\(name): \(confined[name] ?? "no answer")")
            }
            // clone3 answers ENOSYS, so that libc falls back to clone; so does a syscall newer
            // than the profile, so that a program falls back rather than fails.
            let mseal = try msealUnderProfile(netctl)
            #expect(confined["clone3"] == "ENOSYS" && confined["mseal"] == mseal)

            // Docker's own profile, given as a file, answers the same on every line.
            if FileManager.default.fileExists(atPath: Self.mobyDefault) {
                #expect(try probe(["--security-opt", "seccomp=\(Self.mobyDefault)"]) == confined)
            }

            // With CAP_SYS_ADMIN the profile lets unshare and clone3 through, as Docker's does.
            let admin = try probe(["--cap-add", "SYS_ADMIN"], status: false)
            #expect(admin["unshare"] == "ok" && admin["clone3"] == "EINVAL" && admin["keyctl"] == "EPERM")

            // Unconfined and privileged containers get no filter.
            let unconfined = try probe(["--security-opt", "seccomp=unconfined"])
            #expect(unconfined["Seccomp"] == "0" && unconfined["keyctl"] == "ok" && unconfined["clone3"] == "EINVAL" && unconfined["mseal"] == "ok")
            #expect(try probe(["--privileged"])["Seccomp"] == "0")

            // exec'd processes get the container's filter.
            let id = try netctl.ok("run", "-d", "-v", "\(directory):/probe", "--security-opt", "no-new-privileges",
                                   "--cap-drop", "ALL", "--cap-add", "KILL", image, "sleep", "30").trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(results(try netctl.ok("exec", id, "/probe/probe"))["keyctl"] == "EPERM")
            // security show reports what the kernel says of the running container.
            let shown = try JSONSerialization.jsonObject(with: Data(try netctl.ok("security", "show", "--format", "json", id).utf8)) as! [String: Any]
            #expect(shown["seccomp"] as? Int == 2 && shown["noNewPrivs"] as? Bool == true)
            #expect(shown["capEff"] as? String == "0000000000000020" && shown["capBnd"] as? String == "0000000000000020")
            #expect(try netctl.ok("security", "show", id).contains("CAP_KILL"))
            // inspect lists the options as Docker does: the built-in profile is not named.
            let inspected = try JSONSerialization.jsonObject(with: Data(try netctl.ok("inspect", id).utf8)) as! [[String: Any]]
            #expect((inspected[0]["HostConfig"] as? [String: Any])?["SecurityOpt"] as? [String] == ["no-new-privileges"])
        }
    }

    /// Docker's profile in runtime-spec's `linux.seccomp` form for `runc spec`'s three
    /// capabilities: the rules that apply to them on x86_64, without includes/excludes.
    private func ociForm(of profile: String) throws -> [String: Any] {
        let docker = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: profile))) as! [String: Any]
        let capabilities: Set<String> = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
        var rules: [[String: Any]] = []
        for rule in docker["syscalls"] as! [[String: Any]] {
            let includes = rule["includes"] as? [String: Any] ?? [:]
            let excludes = rule["excludes"] as? [String: Any] ?? [:]
            if let caps = includes["caps"] as? [String], !Set(caps).isSubset(of: capabilities) { continue }
            if let caps = excludes["caps"] as? [String], !Set(caps).isDisjoint(with: capabilities) { continue }
            if let arches = includes["arches"] as? [String], !arches.contains("amd64") { continue }
            if let arches = excludes["arches"] as? [String], arches.contains("amd64") { continue }
            var copy = rule
            copy["includes"] = nil
            copy["excludes"] = nil
            copy["comment"] = nil
            rules.append(copy)
        }
        return ["defaultAction": docker["defaultAction"]!, "defaultErrnoRet": docker["defaultErrnoRet"] ?? 1,
                "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"], "syscalls": rules]
    }

    /// The built-in profile (as `seccomp default` prints it) and Docker's, each in the OCI
    /// form: netctl answers as runc does on every line, and as crun does except that crun
    /// 1.8 answers EPERM where a syscall is newer than the profile (runc and netctl: ENOSYS).
    @Test(arguments: ["built-in", "moby-default.json"])
    func theSameProbeAnswersAlikeUnderRuncCrunAndNetctl(_ source: String) throws {
        try withNetctl { netctl in
            let bundle = netctl.root + "-seccomp-bundle"
            defer { try? FileManager.default.removeItem(atPath: bundle) }
            var profile = Self.mobyDefault
            defer { try? FileManager.default.removeItem(atPath: netctl.root + "-default.json") }
            if source == "built-in" {
                profile = netctl.root + "-default.json"
                try netctl.ok("seccomp", "default").write(toFile: profile, atomically: true, encoding: .utf8)
            } else if !FileManager.default.fileExists(atPath: profile) {
                return  // ../shared/fixtures is not beside the checkout
            }
            let seccomp = try ociForm(of: profile)
            try OCIBundles.make(bundle, args: ["/probe/probe"]) { config in
                var linux = config["linux"] as! [String: Any]
                linux["seccomp"] = seccomp
                config["linux"] = linux
            }
            try buildProbe(in: bundle + "/rootfs/probe")
            let ours = try netctl.netctl("runtime", "run", "--bundle", bundle, uniqueName("nctoci"))
            #expect(ours.status == 0, "\(ours.stderr)")
            let runc = try runCommand(["runc", "--root", bundle + "/runc-state", "run", "--bundle", bundle, uniqueName("nctrunc")])
            #expect(runc.status == 0, "\(runc.stderr)")
            #expect(ours.stdout == runc.stdout)
            let crun = try runCommand(["unshare", "-m", "sh", "-c",
                                       "umount /sys/fs/cgroup/unified 2>/dev/null; exec crun --root '\(bundle)/crun-state' run --bundle '\(bundle)' \(uniqueName("nctcrun"))"])
            #expect(crun.status == 0, "\(crun.stderr)")
            var answers = results(ours.stdout), crunAnswers = results(crun.stdout)
            let mseal = try msealUnderProfile(netctl)
            #expect(answers.removeValue(forKey: "mseal") == mseal && crunAnswers.removeValue(forKey: "mseal") == (mseal == "ENOSYS" ? "EPERM" : mseal))
            #expect(answers == crunAnswers)
            #expect(answers["keyctl"] == "EPERM" && answers["clone3"] == "ENOSYS" && answers["getpid"] == "ok" && answers["mount"] == "EPERM")
        }
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: mobyDefault), "../shared/fixtures is not beside the checkout"))
    func checkSaysWhatIsDeniedAndWhy() throws {
        try withNetctl { netctl in
            func decisions(_ extra: [String]) throws -> [String: String] {
                let output = try netctl.ok(["seccomp", "check", "--denied"] + extra + [Self.mobyDefault])
                return Dictionary(output.split(separator: "\n").dropFirst().compactMap { line -> (String, String)? in
                    let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                    return fields.count >= 2 ? (String(fields[0]), String(fields[1])) : nil
                }, uniquingKeysWith: { first, _ in first })
            }
            let plain = try decisions([])
            #expect(plain["keyctl"] == "SCMP_ACT_ERRNO(EPERM)" && plain["unshare"] == "SCMP_ACT_ERRNO(EPERM)")
            #expect(plain["clone3"] == "SCMP_ACT_ERRNO(ENOSYS)")
            #expect(plain["getpid"] == nil && plain["read"] == nil)
            let admin = try decisions(["--cap-add", "SYS_ADMIN"])
            #expect(admin["unshare"] == nil && admin["mount"] == nil && admin["keyctl"] == "SCMP_ACT_ERRNO(EPERM)")

            // Without a PROFILE: the built-in one, which gives its reasons.
            let builtin = try netctl.ok("seccomp", "check", "--denied").split(separator: "\n")
            #expect(builtin.contains { $0.hasPrefix("keyctl ") && $0.contains("kernel keyrings are not namespaced") })
            #expect(builtin.contains { $0.hasPrefix("mount ") && $0.contains("mounting needs CAP_SYS_ADMIN") })
            let summary = { (lines: [Substring]) in lines.first { $0.hasSuffix("syscalls allowed outright") } }
            let docker = try netctl.ok("seccomp", "check", Self.mobyDefault).split(separator: "\n")
            #expect(summary(builtin) != nil && summary(builtin) == summary(docker))
            #expect(builtin.last?.contains("answer ENOSYS: they are newer than the profile") == true)
        }
    }

    @Test func recordWritesAProfileTheWorkloadRunsUnder() throws {
        try withNetctl { netctl in
            let image = try netctl.importBusybox()
            let profile = netctl.root + "-recorded.json"
            defer { try? FileManager.default.removeItem(atPath: profile) }
            let recorded = try netctl.netctl("seccomp", "record", "-o", profile, "--", "/bin/busybox", "echo", "recorded")
            #expect(recorded.status == 0 && recorded.stdout == "recorded\n")
            let names = try #require(((try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: profile))) as? [String: Any])?["syscalls"] as? [[String: Any]])?.first?["names"] as? [String])
            #expect(names.contains("write") && names.contains("execve") && !names.contains("getdents64"))
            // The workload runs under it; a syscall it never made (ls's getdents64) is denied.
            #expect(try netctl.ok("run", "--rm", "--security-opt", "seccomp=\(profile)", image, "echo", "again") == "again\n")
            let other = try netctl.netctl("run", "--rm", "--security-opt", "seccomp=\(profile)", image, "ls", "/")
            #expect(other.status != 0 && other.stderr.contains("Operation not permitted"), "\(other.stdout) \(other.stderr)")
            // Its exit code is the command's.
            #expect(try netctl.netctl("seccomp", "record", "-o", profile, "--", "/bin/busybox", "false").status == 1)
            #expect(try netctl.netctl("seccomp", "record", "-o", profile, "--", "no-such-program").status == 127)
        }
    }

    @Test func aChangedProfileIsCompiledAnew() throws {
        try withNetctl { netctl in
            let image = try netctl.importBusybox()
            let directory = netctl.root + "-cache"
            defer { try? FileManager.default.removeItem(atPath: directory) }
            try buildProbe(in: directory)
            let path = directory + "/profile.json"
            func keyctl(_ profile: String) throws -> String? {
                try profile.write(toFile: path, atomically: true, encoding: .utf8)
                return results(try netctl.ok("run", "--rm", "-v", "\(directory):/probe", "--security-opt", "seccomp=\(path)", image, "/probe/probe"))["keyctl"]
            }
            let deny = "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"keyctl\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 13}]}"
            #expect(try keyctl(deny) == "EACCES")
            #expect(try keyctl(deny) == "EACCES")  // from the cache
            #expect(try keyctl(deny.replacingOccurrences(of: "13", with: "1")) == "EPERM")
            #expect(try keyctl("{\"defaultAction\": \"SCMP_ACT_ALLOW\"}") == "ok")
            let cached = try FileManager.default.contentsOfDirectory(atPath: netctl.root + "/storage/seccomp")
            #expect(cached.count == 3)
        }
    }

    /// A bundle's linux.seccomp is compiled once and then read from the same cache as
    /// `run`'s; a bad one is refused naming the field.
    @Test func bundleProfilesAreCachedAndChecked() throws {
        try withNetctl { netctl in
            let bundle = netctl.root + "-cached-bundle"
            defer { try? FileManager.default.removeItem(atPath: bundle) }
            func make(_ seccomp: [String: Any]) throws {
                try? FileManager.default.removeItem(atPath: bundle)
                try OCIBundles.make(bundle, args: ["mkdir", "/tmp/x"]) { config in
                    var linux = config["linux"] as! [String: Any]
                    linux["seccomp"] = seccomp
                    config["linux"] = linux
                }
            }
            try make(["defaultAction": "SCMP_ACT_ALLOW", "syscalls": [["names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13]]])
            for _ in 0..<2 {
                let denied = try netctl.netctl("runtime", "run", "--bundle", bundle, uniqueName("nctoci"))
                #expect(denied.status != 0 && denied.stderr.contains("Permission denied"), "\(denied.stderr)")
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: netctl.root + "/storage/seccomp").count == 1)

            try make(["defaultAction": "SCMP_ACT_NOPE"])
            let refused = try netctl.netctl("runtime", "run", "--bundle", bundle, uniqueName("nctoci"))
            #expect(refused.status != 0 && refused.stderr.contains("linux.seccomp: seccomp profile: defaultAction \"SCMP_ACT_NOPE\" is not an action"), "\(refused.stderr)")
            #expect(refused.stderr.split(separator: "\n").count == 1)
        }
    }

    @Test func badProfilesAreRefused() throws {
        try withNetctl { netctl in
            let image = try netctl.importBusybox()
            let directory = netctl.root + "-profiles"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let cases: [(String, String)] = [
                ("{\"defaultAction\": ", "not valid JSON"),
                ("{\"defaultAction\": \"SCMP_ACT_NOPE\"}", "\"SCMP_ACT_NOPE\" is not an action"),
                ("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ERRNO\", \"args\": [{\"index\": 0, \"value\": 1, \"op\": \"SCMP_CMP_ROUGHLY\"}]}]}", "\"SCMP_CMP_ROUGHLY\" is not an operator"),
                ("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": [\"SCMP_ARCH_VAX\"]}", "\"SCMP_ARCH_VAX\" is not an architecture"),
                ("{\"syscalls\": []}", "missing field"),
            ]
            for (index, (text, message)) in cases.enumerated() {
                let path = "\(directory)/\(index).json"
                try text.write(toFile: path, atomically: true, encoding: .utf8)
                let result = try netctl.netctl("run", "--rm", "--security-opt", "seccomp=\(path)", image, "true")
                #expect(result.status == 125 && result.stderr.contains(message), "\(text): \(result.stderr)")
                #expect(result.stderr.split(separator: "\n").count == 1)
                let compiled = try netctl.netctl("seccomp", "compile", path)
                #expect(compiled.status != 0 && compiled.stderr.contains(message))
            }
            #expect(try netctl.netctl("run", "--rm", "--security-opt", "seccomp=/nonexistent.json", image, "true").stderr.contains("/nonexistent.json is missing"))
            #expect(try netctl.ok("ps", "-aq").isEmpty)
        }
    }
}
