import Foundation
import Glibc
import Testing
import TestSupport

/// Debian's dockerd 20.10 with netctl-runc added as a runtime (`--add-runtime
/// netctl=PATH`) and containers run with `docker run --runtime netctl`. dockerd's containerd
/// shim calls netctl-runc as it calls runc, with the spec dockerd wrote: a prestart hook
/// (`/proc/DOCKERD/exe libnetwork-setkey …`, which dockerd adds even for `--network none`),
/// its cgroup parent, its masked and read-only paths. Each test has a dockerd of its own in a
/// network namespace of its own and checks that nothing is left after.
@Suite(.serialized) struct DockerRuntimeTests {
    private let runtimes = ["netctl": EngineRuntime.netctlRunc]

    @Test func aContainerRunsToCompletionWithItsOutputAndExitCode() throws {
        let before = HostNetworkState.read()
        var directory = ""
        try withTestNamespace { namespace in
            try withDockerd(netns: namespace.name, runtimes: runtimes) { docker in
                directory = docker.daemon.directory
                let image = try docker.loadBusybox()
                let result = try docker.docker(["run", "--rm", "--runtime", "netctl", "--network", "none", image,
                                                "sh", "-c", "echo hi; echo oops >&2; exit 3"])
                #expect(result.stdout == "hi\n")
                #expect(result.stderr.contains("oops"))
                #expect(result.status == 3)

                // --network host: no network namespace in the spec (and no hook); the container
                // sees dockerd's namespace, the test's, with the link made there.
                let link = uniqueName("ncd")
                #expect(try namespace.run(["ip", "link", "add", link, "type", "veth", "peer", "name", link + "p"]).status == 0)
                let host = try docker.docker(["run", "--rm", "--runtime", "netctl", "--network", "host", image, "cat", "/proc/net/dev"])
                #expect(host.status == 0)
                #expect(host.stdout.contains(link + ":"))
                #expect(try docker.ok("ps", "-aq") == "")
                #expect(try EngineRuntime.containers(inStateRoot: docker.runtimeRoot) == [])
            }
        }
        #expect(HostNetworkState.read() == before)
        #expect(!FileManager.default.fileExists(atPath: directory))
    }

    @Test func aDetachedContainerTakesExecLogsStopAndRm() throws {
        try withTestNamespace { namespace in
            try withDockerd(netns: namespace.name, runtimes: runtimes) { docker in
                let image = try docker.loadBusybox()
                let name = uniqueName("nctd")
                let script = "echo started; trap 'echo stopping; exit 0' TERM; while true; do sleep 0.1; done"
                let id = try docker.ok("run", "-d", "--name", name, "--runtime", "netctl", "--network", "none", image, "sh", "-c", script)
                    .trimmingCharacters(in: .whitespacesAndNewlines)
                try EngineRuntime.waitFor("\(name)'s first line in docker logs") { (try? docker.ok("logs", name)) == "started\n" }
                #expect(try docker.ok("inspect", "-f", "{{.State.Status}} {{.HostConfig.Runtime}}", name) == "running netctl\n")
                #expect(try EngineRuntime.containers(inStateRoot: docker.runtimeRoot) == [id])
                // dockerd's cgroupsPath, /PARENT/ID, which netctl-runc's delete removes.
                let cgroup = "/sys/fs/cgroup/memory/\(docker.cgroupParent)/\(id)"
                #expect(FileManager.default.fileExists(atPath: cgroup))
                // The spec's device rules (deny all, then Docker's list) in the devices cgroup.
                let devices = EngineRuntime.text("/sys/fs/cgroup/devices/\(docker.cgroupParent)/\(id)/devices.list")
                #expect(devices.contains("c 1:3 rwm") && !devices.contains("a *:* rwm"), "devices.list: \(devices)")
                // The prestart hook ran with the container's state: libnetwork-setkey bound the
                // container's network namespace at its sandbox key (in dockerd's mount namespace).
                let fields = try docker.ok("inspect", "-f", "{{.State.Pid}} {{.NetworkSettings.SandboxKey}}", name).split(whereSeparator: \.isWhitespace).map(String.init)
                let inode = { (path: String) in try runCommand(docker.daemon.inside(["stat", "-L", "-c", "%i", path])).stdout }
                try #require(fields.count == 2)
                let key = try inode(fields[1]), namespaceOfPID = try inode("/proc/\(fields[0])/ns/net")
                #expect(!key.isEmpty && key == namespaceOfPID)

                // exec: a second process in the container's namespaces, its output and code back in docker.
                let exec = try docker.docker(["exec", name, "sh", "-c", "echo in $(cat /proc/1/cmdline | tr '\\0' ' '); exit 4"])
                #expect(exec.stdout == "in sh -c \(script)\n")
                #expect(exec.status == 4)

                // top (the shim asks the runtime's `ps`), pause and unpause (the freezer).
                #expect(try docker.ok("top", name).contains("while true"))
                try docker.ok("pause", name)
                #expect(try docker.ok("inspect", "-f", "{{.State.Status}}", name) == "paused\n")
                #expect(EngineRuntime.text("/sys/fs/cgroup/freezer/\(docker.cgroupParent)/\(id)/freezer.state") == "FROZEN\n")
                try docker.ok("unpause", name)
                #expect(try docker.ok("inspect", "-f", "{{.State.Status}}", name) == "running\n")

                // stop: TERM first; the shell's trap runs and the container exits 0 well before the KILL.
                try docker.ok("stop", name)
                #expect(try docker.ok("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", name) == "exited 0\n")
                #expect(try docker.ok("logs", name) == "started\nstopping\n")
                try docker.ok("rm", name)
                #expect(try docker.ok("ps", "-aq") == "")
                #expect(!FileManager.default.fileExists(atPath: cgroup))
                #expect(try EngineRuntime.containers(inStateRoot: docker.runtimeRoot) == [])
            }
        }
    }

    @Test func aContainerWithATerminal() throws {
        try withTestNamespace { namespace in
            try withDockerd(netns: namespace.name, runtimes: runtimes) { docker in
                let image = try docker.loadBusybox()
                // docker run -t needs a terminal of its own: script(1) gives it one.
                let client = ["env", "DOCKER_CONFIG=" + docker.daemon.directory + "/cli", "/usr/bin/docker", "-H", "unix://" + docker.socket]
                let withTerminal = { (arguments: [String]) in
                    try runCommand(["script", "-qec", (client + arguments).map(EngineRuntime.shellQuoted).joined(separator: " "), "/dev/null"])
                }
                let result = try withTerminal(["run", "--rm", "-t", "--runtime", "netctl", "--network", "none", image,
                                               "sh", "-c", "tty; test -t 0 && test -t 1 && echo both; exit 5"])
                #expect(result.stdout.contains("/dev/pts/"))
                #expect(result.stdout.contains("both"))
                #expect(result.status == 5)

                // exec -t: a terminal for a second process (netctl-runc exec --console-socket).
                let name = uniqueName("nctd")
                try docker.ok("run", "-d", "--name", name, "--runtime", "netctl", "--network", "none", image, "sleep", "600")
                let exec = try withTerminal(["exec", "-t", name, "sh", "-c", "tty; test -t 0 && test -t 1 && echo both; exit 6"])
                #expect(exec.stdout.contains("/dev/pts/"))
                #expect(exec.stdout.contains("both"))
                #expect(exec.status == 6)
                try docker.ok("rm", "-f", name)
                #expect(try docker.ok("ps", "-aq") == "")
            }
        }
    }

    @Test func aBundleNetctlRefusesReachesDockerWithItsLine() throws {
        try withTestNamespace { namespace in
            try withDockerd(netns: namespace.name, runtimes: runtimes) { docker in
                let image = try docker.loadBusybox()
                // runc makes a device node anywhere; netctl-runc only below /dev.
                let result = try docker.docker(["run", "--rm", "--runtime", "netctl", "--network", "none",
                                                "--device", "/dev/null:/srv/null", image, "true"])
                #expect(result.status == 125)
                // The shim read netctl-runc's line from its --log JSON file; dockerd passed it on.
                let line = result.stderr.split(separator: "\n").first { $0.hasPrefix("docker: Error response from daemon") } ?? ""
                #expect(line.contains("OCI runtime create failed"))
                #expect(line.contains(#"linux.devices path "/srv/null": expected a path below /dev"#))

                // A command the image does not have: refused by create, with Docker's words
                // and exit code, as with runc.
                for (command, words) in [("/nonexistent", "no such file or directory"), ("nonexistent", "executable file not found in $PATH")] {
                    let missing = try docker.docker(["run", "--rm", "--runtime", "netctl", "--network", "none", image, command])
                    #expect(missing.status == 127)
                    #expect(missing.stderr.contains("OCI runtime create failed: container init: exec: \"\(command)\": \(words)"))
                }
                #expect(try docker.ok("ps", "-aq") == "")
                #expect(try EngineRuntime.containers(inStateRoot: docker.runtimeRoot) == [])
            }
        }
    }
}

extension DockerDaemon {
    /// The runtime's state root as dockerd's shim gives it (`--root`), seen from the host:
    /// dockerd 20.10 gives every runtime runc's.
    var runtimeRoot: String { daemon.run + "/docker/runtime-runc/moby" }
}
