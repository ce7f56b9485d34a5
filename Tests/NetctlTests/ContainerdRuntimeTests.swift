import Foundation
import Glibc
import Testing
import TestSupport

/// containerd 1.6's runc shim (io.containerd.runc.v2) with netctl-runc as its runtime, set
/// the way users set it: `ctr run --runc-binary PATH`. The shim calls it with runc's command
/// line (`--root /run/containerd/runc/NS --log …/log.json --log-format json create --bundle …
/// --pid-file …`, `start`, `exec --process …`, `kill`, `delete`) and reads its JSON log for
/// the error a refusal reports. Each test has a containerd of its own and checks that the
/// runtime's state and the containers are gone after.
@Suite(.serialized) struct ContainerdRuntimeTests {
    /// `ctr run` with netctl-runc in place of runc.
    private func run(_ options: [String], _ image: String, _ id: String, _ command: [String]) -> [String] {
        ["run", "--snapshotter", "native", "--runc-binary", EngineRuntime.netctlRunc] + options + [image, id] + command
    }

    @Test func aContainerRunsToCompletionWithItsOutputAndExitCode() throws {
        var directory = ""
        try withContainerd { containerd in
            directory = containerd.daemon.directory
            let image = try containerd.importBusybox()
            let id = uniqueName("nctc")
            let result = try containerd.ctr(run(["--rm"], image, id, ["sh", "-c", "echo hi; echo oops >&2; cat /proc/self/cgroup >/dev/null; exit 3"]))
            #expect(result.stdout == "hi\n")
            #expect(result.stderr.contains("oops"))
            #expect(result.status == 3)
            #expect(try containerd.ok("containers", "ls", "-q") == "")
            #expect(try EngineRuntime.containers(inStateRoot: containerd.runtimeRoot) == [])
        }
        #expect(!FileManager.default.fileExists(atPath: directory))
    }

    @Test func aDetachedContainerTakesExecKillAndDelete() throws {
        var directory = ""
        var namespacePID: Int32 = 0
        try withContainerd { containerd in
            directory = containerd.daemon.directory
            namespacePID = containerd.daemon.pid
            let image = try containerd.importBusybox()
            let id = uniqueName("nctc")
            // ctr has no `logs`: the shim writes the detached task's stdout and stderr to a file.
            let log = directory + "/task.log"
            let script = "echo started; trap 'echo stopping; exit 0' TERM; while true; do sleep 0.1; done"
            try containerd.succeeds(run(["-d", "--log-uri", "file://" + log], image, id, ["sh", "-c", script]))
            try EngineRuntime.waitFor("the task's first line in \(log)") { EngineRuntime.text(log).contains("started\n") }
            #expect(try containerd.ok("tasks", "ls").contains("RUNNING"))
            #expect(try EngineRuntime.containers(inStateRoot: containerd.runtimeRoot) == [id])
            // ctr's cgroupsPath, /NAMESPACE/ID, which netctl-runc's delete removes.
            let cgroup = "/sys/fs/cgroup/memory/\(containerd.namespace)/\(id)"
            #expect(FileManager.default.fileExists(atPath: cgroup))

            // exec: a second process in the task's namespaces, its output and code back in ctr.
            let exec = try containerd.ctr(["tasks", "exec", "--exec-id", "x1", id, "sh", "-c", "echo in $(cat /proc/1/cmdline | tr '\\0' ' '); exit 4"])
            #expect(exec.stdout == "in sh -c \(script)\n")
            #expect(exec.status == 4)

            // ps (the shim asks `ps --format json`), pause and resume (the freezer).
            let pid = try #require(try containerd.ok("tasks", "ls").split(separator: "\n").first { $0.hasPrefix(id) }?
                .split(whereSeparator: \.isWhitespace).dropFirst().first)
            #expect(try containerd.ok("tasks", "ps", id).contains(pid))
            try containerd.ok("tasks", "pause", id)
            #expect(try containerd.ok("tasks", "ls").contains("PAUSED"))
            #expect(EngineRuntime.text("/sys/fs/cgroup/freezer/\(containerd.namespace)/\(id)/freezer.state") == "FROZEN\n")
            try containerd.ok("tasks", "resume", id)
            #expect(try containerd.ok("tasks", "ls").contains("RUNNING"))

            // kill (TERM): the shell's trap runs, the task stops with its code.
            try containerd.ok("tasks", "kill", id)
            try EngineRuntime.waitFor("task \(id) to stop") { (try? containerd.ok("tasks", "ls"))?.contains("STOPPED") == true }
            #expect(EngineRuntime.text(log) == "started\nstopping\n")
            try containerd.ok("tasks", "delete", id)
            try containerd.ok("containers", "delete", id)
            #expect(try containerd.ok("tasks", "ls", "-q") == "")
            #expect(!FileManager.default.fileExists(atPath: cgroup))
            #expect(try containerd.ok("containers", "ls", "-q") == "")
            #expect(try EngineRuntime.containers(inStateRoot: containerd.runtimeRoot) == [])
        }
        #expect(!FileManager.default.fileExists(atPath: directory))
        #expect(kill(namespacePID, 0) != 0)
    }

    @Test func aContainerWithATerminal() throws {
        try withContainerd { containerd in
            let image = try containerd.importBusybox()
            let id = uniqueName("nctc")
            // ctr -t needs a terminal of its own: script(1) gives it one.
            let ctr = containerd.daemon.inside(["/usr/bin/ctr", "--address", containerd.address, "--namespace", containerd.namespace])
            let line = ctr + run(["--rm", "-t"], image, id, ["sh", "-c", "tty; test -t 0 && test -t 1 && echo both; exit 5"])
            let result = try runCommand(["script", "-qec", line.map(EngineRuntime.shellQuoted).joined(separator: " "), "/dev/null"])
            #expect(result.stdout.contains("/dev/pts/"))
            #expect(result.stdout.contains("both"))
            #expect(result.status == 5)

            // exec -t: a terminal for a second process (netctl-runc exec --console-socket).
            let sleeper = uniqueName("nctc")
            try containerd.succeeds(run(["-d", "--null-io"], image, sleeper, ["sleep", "600"]))
            let exec = ctr + ["tasks", "exec", "-t", "--exec-id", "t1", sleeper, "sh", "-c", "tty; test -t 0 && test -t 1 && echo both; exit 6"]
            let execResult = try runCommand(["script", "-qec", exec.map(EngineRuntime.shellQuoted).joined(separator: " "), "/dev/null"])
            #expect(execResult.stdout.contains("/dev/pts/"))
            #expect(execResult.stdout.contains("both"))
            #expect(execResult.status == 6)
            try containerd.ok("tasks", "kill", "-s", "SIGKILL", sleeper)
            try EngineRuntime.waitFor("task \(sleeper) to stop") { (try? containerd.ok("tasks", "ls"))?.contains("STOPPED") == true }
            try containerd.ok("tasks", "delete", sleeper)
            try containerd.ok("containers", "delete", sleeper)
            #expect(try containerd.ok("containers", "ls", "-q") == "")
            #expect(try EngineRuntime.containers(inStateRoot: containerd.runtimeRoot) == [])
        }
    }

    @Test func aBundleNetctlRefusesReachesCtrWithItsLine() throws {
        try withContainerd { containerd in
            let image = try containerd.importBusybox()
            let id = uniqueName("nctc")
            // runc takes a relative mount destination (with a warning); netctl-runc does not.
            let mount = "type=bind,src=\(containerd.daemon.directory),dst=relative,options=rbind:ro"
            let result = try containerd.ctr(run(["--rm", "--mount", mount], image, id, ["true"]))
            #expect(result.status != 0)
            // The shim read netctl-runc's line from its --log JSON file and passed it on.
            let line = result.stderr.split(separator: "\n").first { $0.contains("ctr: ") } ?? ""
            #expect(line.contains("OCI runtime create failed"))
            #expect(line.contains(#"mount destination "relative" is not absolute"#))

            // A command the image does not have: refused by create, as runc refuses it, not
            // a task that starts and exits without a word.
            let missing = try containerd.ctr(run(["--rm"], image, uniqueName("nctc"), ["/nonexistent"]))
            #expect(missing.status != 0)
            #expect(missing.stderr.contains(#"OCI runtime create failed: container init: exec: "/nonexistent": no such file or directory"#))
            #expect(try containerd.ok("containers", "ls", "-q") == "")
            #expect(try EngineRuntime.containers(inStateRoot: containerd.runtimeRoot) == [])
        }
    }
}

extension Containerd {
    /// `ctr ARGS…` that must succeed.
    func succeeds(_ arguments: [String]) throws {
        let result = try ctr(arguments)
        guard result.status == 0 else { throw HarnessError("ctr \(arguments.joined(separator: " ")) exited \(result.status): \(result.stderr)") }
    }

    /// The runtime's state root as the runc shim gives it (`--root`), seen from the host.
    var runtimeRoot: String { daemon.run + "/containerd/runc/" + namespace }
}

/// netctl-runc as the engine tests use it, and what they check with it.
enum EngineRuntime {
    /// netctl-runc, next to the netctl binary under test. NETCTL_ENGINE_RUNTIME points the
    /// engine tests at another runtime (/usr/sbin/runc) to tell a fixture's fault from netctl's.
    static var netctlRunc: String {
        if let path = ProcessInfo.processInfo.environment["NETCTL_ENGINE_RUNTIME"], !path.isEmpty { return path }
        return PodmanSetup.netctlRunc
    }

    /// The containers the runtime lists in state root `root` (`RUNTIME --root ROOT list -q`),
    /// none when the root was never made.
    static func containers(inStateRoot root: String) throws -> [String] {
        guard FileManager.default.fileExists(atPath: root) else { return [] }
        let result = try runCommand([netctlRunc, "--root", root, "list", "-q"])
        guard result.status == 0 else { throw HarnessError("\(netctlRunc) --root \(root) list -q exited \(result.status): \(result.stderr)") }
        return result.stdout.split(separator: "\n").map(String.init).sorted()
    }

    static func text(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

    /// Waits, up to 30 s, for `condition`: a readiness deadline, not a timing assertion.
    static func waitFor(_ what: String, _ condition: () -> Bool) throws {
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if condition() { return }
            usleep(50_000)
        }
        throw HarnessError("waited 30 s for \(what)")
    }

    static func shellQuoted(_ word: String) -> String { "'" + word.replacingOccurrences(of: "'", with: #"'\''"#) + "'" }
}
