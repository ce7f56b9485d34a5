import Foundation
import Testing
import TestSupport

/// `netctl runtime` against runc's bundle format, and against crun itself.
@Suite struct OCIRuntimeTests {
    /// What the test compares: PID 1, the hostname, every mount point with its type, and
    /// which namespaces differ from the host's.
    private let probe = """
    echo pid=$$; hostname
    while read source point type rest; do echo "mount $point $type"; done < /proc/mounts | sort
    for ns in cgroup ipc mnt net pid uts; do [ "$(readlink /proc/1/ns/$ns)" = "HOST_$ns" ] || echo "new $ns"; done
    """

    @Test func theSameBundleRunsAlikeUnderCrunAndNetctl() throws {
        try withNetctl { netctl in
            var script = probe
            for ns in ["cgroup", "ipc", "mnt", "net", "pid", "uts"] {
                let link = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/\(ns)")
                script = script.replacingOccurrences(of: "HOST_\(ns)", with: link)
            }
            let bundle = netctl.root + "-bundle"
            defer { try? FileManager.default.removeItem(atPath: bundle) }
            try OCIBundles.make(bundle, args: ["sh", "-c", script])

            let ours = try netctl.netctl("runtime", "run", "--bundle", bundle, uniqueName("nctoci"))
            #expect(ours.status == 0, "\(ours.stderr)")
            // crun refuses this host's hybrid cgroup layout; it runs where the cgroup2 mount
            // at /sys/fs/cgroup/unified is not there, in a mount namespace of its own.
            let crunID = uniqueName("nctcrun")
            let crun = try runCommand(["unshare", "-m", "sh", "-c",
                                       "umount /sys/fs/cgroup/unified 2>/dev/null; exec crun --root '\(bundle)/crun-state' run --bundle '\(bundle)' \(crunID)"])
            #expect(crun.status == 0, "\(crun.stderr)")
            #expect(ours.stdout == crun.stdout)
            let lines = ours.stdout.split(separator: "\n")
            #expect(lines.first == "pid=1" && lines.dropFirst().first == "runc")
            // runc spec's namespaces (the cgroup namespace is compared with crun's above).
            #expect(Set(lines.filter { $0.hasPrefix("new ") }).isSuperset(of: ["new ipc", "new mnt", "new net", "new pid", "new uts"]))
            #expect(lines.contains("mount / ext4") || lines.contains { $0.hasPrefix("mount / ") })
            #expect(lines.contains("mount /proc/keys devtmpfs") && lines.contains("mount /proc/sys proc"))
        }
    }

    /// A new user namespace from linux.uidMappings/gidMappings: root inside is 100000
    /// outside, the rootfs's host-root files show as the overflow id, devices are the
    /// host's bound in; crun, given the same bundle, prints the same.
    @Test func aUserNamespaceMapsRootAsCrunDoes() throws {
        try withNetctl { netctl in
            let bundle = netctl.root + "-userns"
            defer { try? FileManager.default.removeItem(atPath: bundle) }
            let script = """
            id; cat /proc/self/uid_map /proc/self/gid_map; stat -c '%n %u:%g' /bin /dev/null
            grep -E '^Cap(Eff|Bnd)' /proc/self/status; [ "$(readlink /proc/self/ns/user)" = "HOST" ] || echo "new user"
            echo hi > /dev/null && head -c 4 /dev/zero | wc -c; mkdir /tmp/x 2>&1 | sed 's/.*: //'
            """.replacingOccurrences(of: "HOST", with: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/user"))
            try OCIBundles.make(bundle, args: ["sh", "-c", script]) { config in
                var linux = config["linux"] as! [String: Any]
                linux["namespaces"] = (linux["namespaces"] as! [[String: Any]]) + [["type": "user"]]
                linux["uidMappings"] = [["containerID": 0, "hostID": 100000, "size": 65536]]
                linux["gidMappings"] = [["containerID": 0, "hostID": 100000, "size": 65536]]
                config["linux"] = linux
            }
            let ours = try netctl.netctl("runtime", "run", "--bundle", bundle, uniqueName("nctoci"))
            #expect(ours.status == 0, "\(ours.stderr)")
            #expect(ours.stdout.hasPrefix("uid=0(root) gid=0(root)\n         0     100000      65536\n         0     100000      65536\n/bin 65534:65534\n"), "\(ours.stdout)")
            #expect(ours.stdout.contains("/dev/null 65534:65534\n"), "\(ours.stdout)")
            #expect(ours.stdout.contains("new user\n4\nRead-only file system\n"), "\(ours.stdout)")
            // The host's device stays the host's (nothing chowned through the bind mount).
            var device = stat()
            #expect(stat("/dev/null", &device) == 0 && device.st_uid == 0 && device.st_gid == 0)
            // crun 1.8 chowns its stdio to the container's root when that is a user
            // namespace, /dev/null included: its stdin is a pipe here.
            let crun = try runCommand(["unshare", "-m", "sh", "-c",
                                       "umount /sys/fs/cgroup/unified 2>/dev/null; true | crun --root '\(bundle)/crun-state' run --bundle '\(bundle)' \(uniqueName("nctcrun"))"])
            #expect(crun.status == 0, "\(crun.stderr)")
            #expect(ours.stdout == crun.stdout)

            // Without the mappings, or without root mapped, the bundle is refused up front.
            for (uid, message) in [([[String: Any]](), "needs linux.uidMappings"),
                                   ([["containerID": 1, "hostID": 100000, "size": 10]], "does not map containerID 0")] {
                try? FileManager.default.removeItem(atPath: bundle)
                try OCIBundles.make(bundle, args: ["true"]) { config in
                    var linux = config["linux"] as! [String: Any]
                    linux["namespaces"] = (linux["namespaces"] as! [[String: Any]]) + [["type": "user"]]
                    linux["uidMappings"] = uid
                    linux["gidMappings"] = [["containerID": 0, "hostID": 100000, "size": 65536]]
                    config["linux"] = linux
                }
                let refused = try netctl.netctl("runtime", "run", "--bundle", bundle, uniqueName("nctoci"))
                #expect(refused.status == 125 && refused.stderr.contains(message), "\(refused.stderr)")
            }
        }
    }

    @Test func createStartStateKillDelete() throws {
        try withNetctl { netctl in
            let bundle = netctl.root + "-lifecycle"
            defer { try? FileManager.default.removeItem(atPath: bundle) }
            try OCIBundles.make(bundle, args: ["sleep", "60"])
            let id = uniqueName("nctoci")
            func state() throws -> [String: Any] {
                try JSONSerialization.jsonObject(with: Data(try netctl.ok("runtime", "state", id).utf8)) as! [String: Any]
            }
            // The waiting process keeps the stdio it was created with, as under runc: not the
            // pipes this test reads until they close.
            let create = try runCommand(["sh", "-c", "exec \"$0\" runtime create --bundle \"$1\" \"$2\" >/dev/null 2>&1 </dev/null",
                                         NetctlHarness.binary, bundle, id], environment: netctl.environment)
            #expect(create.status == 0)
            #expect(try state()["status"] as? String == "created")
            let pid = try #require(try state()["pid"] as? Int)
            // Waiting before execve: not yet the command.
            #expect(try String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8) != "sleep\n")
            try netctl.ok("runtime", "start", id)
            #expect(try state()["status"] as? String == "running")
            #expect(try String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8) == "sleep\n")
            #expect(try netctl.netctl("runtime", "delete", id).status != 0)
            try netctl.ok("runtime", "kill", id, "KILL")
            for _ in 0..<100 where try state()["status"] as? String != "stopped" { usleep(20_000) }
            #expect(try state()["status"] as? String == "stopped")
            try netctl.ok("runtime", "delete", id)
            #expect(try netctl.netctl("runtime", "state", id).stderr.contains("does not exist"))
        }
    }

    @Test func badBundlesAreRefused() throws {
        try withNetctl { netctl in
            let bundle = netctl.root + "-bad"
            defer { try? FileManager.default.removeItem(atPath: bundle) }
            try OCIBundles.make(bundle, args: ["true"]) { config in
                var process = config["process"] as! [String: Any]
                var capabilities = process["capabilities"] as! [String: Any]
                capabilities["bounding"] = ["CAP_NOT_A_THING"]
                process["capabilities"] = capabilities
                config["process"] = process
            }
            let unknown = try netctl.netctl("runtime", "run", "--bundle", bundle, uniqueName("nctoci"))
            #expect(unknown.status == 125 && unknown.stderr.contains("unknown capability \"CAP_NOT_A_THING\""))
            // A hard rlimit above the host's needs CAP_SYS_RESOURCE, which this machine's
            // bounding set lacks: refused up front with the reason (podman fails midway).
            let high = netctl.root + "-rlimit"
            defer { try? FileManager.default.removeItem(atPath: high) }
            try OCIBundles.make(high, args: ["true"]) { config in
                var process = config["process"] as! [String: Any]
                process["rlimits"] = [["type": "RLIMIT_NOFILE", "hard": 1 << 30, "soft": 1024]]
                config["process"] = process
            }
            var current = rlimit()
            getrlimit(__rlimit_resource_t(7), &current)
            let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
            let effective = status.split(separator: "\n").first { $0.hasPrefix("CapEff:") }.flatMap { UInt64($0.dropFirst(7).trimmingCharacters(in: .whitespaces), radix: 16) } ?? 0
            if current.rlim_max < 1 << 30 && effective & (1 << 24) == 0 {
                let refused = try netctl.netctl("runtime", "run", "--bundle", high, uniqueName("nctoci"))
                #expect(refused.status == 125 && refused.stderr.contains("CAP_SYS_RESOURCE"), "\(refused.stderr)")
            }
            try "{".write(toFile: bundle + "/config.json", atomically: true, encoding: .utf8)
            let broken = try netctl.netctl("runtime", "run", "--bundle", bundle, uniqueName("nctoci"))
            #expect(broken.status == 125 && broken.stderr.contains("config.json: not valid JSON"))
        }
    }

    /// A CPU quota whose nanoseconds overflow Int64, or a period of 0, trapped (overflow,
    /// division by zero) instead of being refused (Fuzz/Corpus/FuzzOCI/crash-cpu-*).
    @Test(arguments: [
        (quota: Int64.max, period: 100_000, error: "linux.resources.cpu.quota 9223372036854775807: expected at most"),
        (quota: 50_000, period: 0, error: "linux.resources.cpu.period 0: expected 1000 to 1000000"),
    ])
    func cpuQuotasOutOfRangeAreRefused(quota: Int64, period: Int, error: String) throws {
        try withNetctl { netctl in
            let bundle = netctl.root + "-cpu"
            defer { try? FileManager.default.removeItem(atPath: bundle) }
            try OCIBundles.make(bundle, args: ["true"]) { config in
                var linux = config["linux"] as! [String: Any]
                linux["resources"] = ["cpu": ["quota": quota, "period": period]]
                config["linux"] = linux
            }
            let id = uniqueName("nctoci")
            let refused = try netctl.netctl("runtime", "run", "--bundle", bundle, id)
            #expect(refused.status == 125 && refused.stderr.contains(error), "\(refused.status) \(refused.stderr)")
            #expect(try netctl.netctl("runtime", "state", id).stderr.contains("does not exist"))
        }
    }
}
