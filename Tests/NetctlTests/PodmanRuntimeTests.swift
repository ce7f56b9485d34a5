import Foundation
import Testing
import TestSupport

/// Podman (Debian's podman 4.3 with conmon) running containers through netctl-runc as its
/// OCI runtime: the real client of runc's command line.
@Suite(.serialized) struct PodmanRuntimeTests {
    /// Cgroups podman asked for (linux.cgroupsPath /libpod_parent/libpod-ID) that exist.
    private func cgroups(of id: String) -> [String] {
        ["memory", "pids", "freezer", "cpu"].map { "/sys/fs/cgroup/\($0)/libpod_parent/libpod-\(id)" }
            .filter { FileManager.default.fileExists(atPath: $0) }
    }

    @Test func runRemovePrintsAndExitCodesPropagate() throws {
        let podman = try PodmanSetup()
        defer { podman.cleanUp() }
        let hello = try podman.podman("run", "--rm", "--pull", "never", "--network", "none", podman.image, "echo", "hi")
        #expect(hello.status == 0 && hello.stdout == "hi\n", "\(hello.stderr)")
        let three = try podman.podman("run", "--rm", "--pull", "never", "--network", "none", podman.image, "sh", "-c", "exit 3")
        #expect(three.status == 3, "\(three.stderr)")
        // A command the image lacks fails create, as with runc: podman's 127 and the runtime's line.
        let missing = try podman.podman("run", "--rm", "--pull", "never", "--network", "none", podman.image, "nctnosuchcommand")
        #expect(missing.status == 127 && missing.stderr.contains("exec: \"nctnosuchcommand\": executable file not found in $PATH"), "\(missing.stderr)")
        // -i: podman's stdin reaches the process through conmon.
        let input = podman.directory + "/input.txt"
        try "through-stdin\n".write(toFile: input, atomically: true, encoding: .utf8)
        let piped = try runCommand(["bash", "-c", PodmanSetup.closingInheritedDescriptors + "\"$@\" < '\(input)'", "bash"] + podman.globalFlags
                                   + ["run", "--rm", "-i", "--pull", "never", "--network", "none", podman.image, "cat"], environment: podman.environment)
        #expect(piped.status == 0 && piped.stdout == "through-stdin\n", "\(piped.stdout) \(piped.stderr)")
        // What the bundle asks for reaches the process: a sysctl in its own network
        // namespace, the OOM score, the hostname, and the nofile limit clamped to the host's.
        let probe = try podman.podman("run", "--rm", "--pull", "never", "--network", "none", "--sysctl", "net.ipv4.ping_group_range=0 0",
                                      "--oom-score-adj", "100", "--hostname", "nctpodman", podman.image, "sh", "-c",
                                      "cat /proc/sys/net/ipv4/ping_group_range /proc/self/oom_score_adj; hostname; ulimit -Hn")
        var hostLimit = rlimit()
        getrlimit(__rlimit_resource_t(7), &hostLimit)
        #expect(probe.status == 0, "\(probe.stderr)")
        #expect(probe.stdout.split(separator: "\n").map { $0.split(whereSeparator: \.isWhitespace).joined(separator: " ") }
                    == ["0 0", "100", "nctpodman", String(min(hostLimit.rlim_max, 1_048_576))], "\(probe.stdout)")
        #expect(try String(contentsOfFile: "/proc/sys/net/ipv4/ping_group_range", encoding: .utf8) != "0\t0\n")
        let left = try podman.podman("ps", "--all", "--quiet")
        #expect(left.stdout.isEmpty, "\(left.stdout)")
        #expect(podman.lingeringProcesses().isEmpty)
        #expect(podman.mounts().isEmpty, "\(podman.mounts())")
    }

    @Test func detachedContainerExecLogsStopRemove() throws {
        let podman = try PodmanSetup()
        defer { podman.cleanUp() }
        let started = try podman.podman("run", "-d", "--pull", "never", "--network", "none", podman.image, "sh", "-c", "echo started; exec sleep 100")
        try #require(started.status == 0, "\(started.stderr)")
        let id = started.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let conmon = Int32(try podman.podman("inspect", "--format", "{{.State.ConmonPid}}", id).stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        let pid = Int32(try podman.podman("inspect", "--format", "{{.State.Pid}}", id).stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        #expect(conmon > 0 && pid > 0)
        #expect(!cgroups(of: id).isEmpty, "podman's cgroupsPath was not made")

        let exec = try podman.podman("exec", id, "sh", "-c", "echo from-exec; cat /proc/1/cmdline")
        #expect(exec.status == 0 && exec.stdout.hasPrefix("from-exec\nsleep"), "\(exec.stdout) \(exec.stderr)")
        let failing = try podman.podman("exec", id, "sh", "-c", "exit 4")
        #expect(failing.status == 4, "\(failing.stderr)")
        let terminal = try podman.podmanWithTerminal(["exec", "-t", id, "sh", "-c", "tty; echo exec-terminal"])
        #expect(terminal.status == 0 && terminal.stdout.contains("/dev/pts/") && terminal.stdout.contains("exec-terminal"), "\(terminal.stdout)")
        let top = try podman.podman("top", id)
        #expect(top.status == 0 && top.stdout.contains("sleep 100"), "\(top.stdout) \(top.stderr)")

        // pause freezes through the freezer cgroup; podman reads the status back from `state`.
        #expect(try podman.podman("pause", id).status == 0)
        #expect(try podman.podman("inspect", "--format", "{{.State.Status}}", id).stdout == "paused\n")
        let freezer = "/sys/fs/cgroup/freezer/libpod_parent/libpod-\(id)/freezer.state"
        #expect((try? String(contentsOfFile: freezer, encoding: .utf8)) == "FROZEN\n")
        #expect(try podman.podman("unpause", id).status == 0)
        #expect(try podman.podman("inspect", "--format", "{{.State.Status}}", id).stdout == "running\n")

        let logs = try podman.podman("logs", id)
        #expect(logs.stdout == "started\n", "\(logs.stdout) \(logs.stderr)")

        let stopped = try podman.podman("stop", "--time", "1", id)
        #expect(stopped.status == 0, "\(stopped.stderr)")
        let state = try podman.podman("inspect", "--format", "{{.State.Status}}", id)
        #expect(state.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "exited", "\(state.stdout)")
        let removed = try podman.podman("rm", id)
        #expect(removed.status == 0, "\(removed.stderr)")

        #expect(!isRunning(pid) && !isRunning(conmon), "the container (\(pid)) or conmon (\(conmon)) survived")
        #expect(podman.lingeringProcesses().isEmpty)
        #expect(cgroups(of: id).isEmpty, "\(cgroups(of: id))")
        #expect(podman.mounts().isEmpty, "\(podman.mounts())")
        let records = (try? FileManager.default.contentsOfDirectory(atPath: podman.runtimeRoot + "/runtime")) ?? []
        #expect(records.isEmpty, "netctl-runc kept \(records)")
    }

    @Test func podmansOptionsReachTheProcess() throws {
        let podman = try PodmanSetup()
        defer { podman.cleanUp() }
        func run(_ options: [String], _ script: String) throws -> PodmanResult {
            try podman.podman(["run", "--rm", "--pull", "never", "--network", "none"] + options + [podman.image, "sh", "-c", script])
        }
        // A user, extra groups and one capability (the start FIFO must open as that user).
        let user = try run(["--user", "1000:1000", "--group-add", "27", "--cap-drop", "all", "--cap-add", "NET_RAW"],
                           "id -u; id -G; grep CapEff /proc/self/status")
        #expect(user.status == 0, "\(user.stderr)")
        #expect(user.stdout == "1000\n27 1000\nCapEff:\t0000000000002000\n" || user.stdout == "1000\n1000 27\nCapEff:\t0000000000002000\n", "\(user.stdout)")
        // A user namespace of the runtime's making.
        let mapped = try run(["--uidmap", "0:200000:65536", "--gidmap", "0:200000:65536"], "id -u; cat /proc/self/uid_map")
        #expect(mapped.status == 0, "\(mapped.stderr)")
        #expect(mapped.stdout.split(whereSeparator: \.isWhitespace) == ["0", "0", "200000", "65536"], "\(mapped.stdout)")
        // A device node from linux.devices, with its mode; limits in the container's cgroup.
        let device = try run(["--device", "/dev/null:/dev/nctnull", "--memory", "64m", "--pids-limit", "30"],
                             "stat -c '%A %t,%T' /dev/nctnull; cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max")
        #expect(device.status == 0, "\(device.stderr)")
        #expect(device.stdout == "crw-rw-rw- 1,3\n67108864\n30\n", "\(device.stdout)")
        // The devices cgroup: a node the container makes (it has CAP_MKNOD) cannot be
        // opened unless the bundle allows it, as with runc; --privileged allows every device.
        let loop = "mknod /tmp/loop b 7 0 && head -c 1 /tmp/loop >/dev/null 2>&1 && echo opened || echo refused"
        let confined = try run([], loop)
        #expect(confined.status == 0 && confined.stdout == "refused\n", "\(confined.stdout) \(confined.stderr)")
        let privileged = try run(["--privileged"], loop + "; test -e /dev/cpu/0/cpuid && echo nested")
        #expect(privileged.status == 0 && privileged.stdout == "opened\nnested\n", "\(privileged.stdout) \(privileged.stderr)")
        // A read-only rootfs with podman's tmpfs mounts (tmpcopyup) and a read-only bind.
        let readOnly = try run(["--read-only", "--tmpfs", "/scratch", "-v", "\(podman.directory)/tmp:/hostdir:ro"],
                               "touch /x 2>/dev/null || echo ro; touch /scratch/y /tmp/y && echo tmpfs; touch /hostdir/z 2>/dev/null || echo bind-ro")
        #expect(readOnly.status == 0, "\(readOnly.stderr)")
        #expect(readOnly.stdout == "ro\ntmpfs\nbind-ro\n", "\(readOnly.stdout)")
        #expect(podman.lingeringProcesses().isEmpty)
    }

    @Test func terminalOutputReachesPodman() throws {
        let podman = try PodmanSetup()
        defer { podman.cleanUp() }
        let result = try podman.podmanWithTerminal(["run", "--rm", "-t", "--pull", "never", "--network", "none", podman.image,
                                                    "sh", "-c", "tty; echo through-the-terminal"])
        #expect(result.status == 0, "\(result.stdout) \(result.stderr)")
        #expect(result.stdout.contains("/dev/pts/0"), "\(result.stdout)")
        #expect(result.stdout.contains("through-the-terminal"), "\(result.stdout)")
    }

    @Test func aBundleNetctlRefusesReachesPodmanAsItsOneLine() throws {
        let podman = try PodmanSetup()
        defer { podman.cleanUp() }
        // SCMP_ACT_NOTIFY needs a listener netctl does not provide: the runtime refuses it.
        let profile = podman.directory + "/seccomp.json"
        try #"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getpid"],"action":"SCMP_ACT_NOTIFY"}]}"#
            .write(toFile: profile, atomically: true, encoding: .utf8)
        let refused = try podman.podman("run", "--rm", "--pull", "never", "--network", "none", "--security-opt", "seccomp=\(profile)",
                                        podman.image, "echo", "never")
        #expect(refused.status != 0)
        #expect(!refused.stdout.contains("never"))
        let line = refused.stderr.split(separator: "\n").last.map(String.init) ?? ""
        #expect(line.contains("OCI runtime error") && line.contains("linux.seccomp") && line.contains("SCMP_ACT_NOTIFY"), "\(refused.stderr)")
        let left = try podman.podman("ps", "--all", "--quiet")
        #expect(left.stdout.isEmpty, "\(left.stdout)")
        #expect(podman.lingeringProcesses().isEmpty)
    }
}
