import Foundation
import Testing
import TestSupport

/// netctl-runc answers runc's command line as runc does: the same bundle through runc
/// (/usr/sbin/runc) and netctl-runc gives the same state documents, statuses, exit codes
/// and error shapes.
@Suite struct RuncCLITests {
    struct Outcome {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// One runtime binary with a state root of its own.
    struct Runtime {
        var binary: String
        var root: String
        var globalFlags: [String] = []

        /// The command's stdout and stderr go to files: a created container keeps the
        /// runtime's stdio as its own, and a pipe would stay open as long as it runs.
        func call(_ arguments: [String], log: String? = nil) throws -> Outcome {
            var global = ["--root", root] + globalFlags
            if let log { global += ["--log", log, "--log-format", "json"] }
            let output = NSTemporaryDirectory() + uniqueName("netctl-runc-out-")
            defer { try? FileManager.default.removeItem(atPath: output + ".out"); try? FileManager.default.removeItem(atPath: output + ".err") }
            let result = try runCommand(["sh", "-c", "\"$@\" </dev/null >'\(output).out' 2>'\(output).err'", "sh", binary] + global + arguments)
            let read = { (suffix: String) in (try? String(contentsOfFile: output + suffix, encoding: .utf8)) ?? "" }
            return Outcome(status: result.status, stdout: read(".out"), stderr: read(".err"))
        }

        func call(_ arguments: String...) throws -> Outcome { try call(arguments) }

        func state(_ id: String) throws -> [String: Any] {
            let result = try call("state", id)
            guard result.status == 0, let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] else {
                throw HarnessError("state \(id): \(result.stderr)")
            }
            return object
        }

        func status(_ id: String) throws -> String { try state(id)["status"] as? String ?? "" }

        /// Waits (bounded) until the container is stopped, after a kill.
        func waitStopped(_ id: String) throws -> String {
            for _ in 0..<500 {
                let status = try self.status(id)
                if status == "stopped" { return status }
                usleep(10_000)
            }
            return try status(id)
        }
    }

    static let runc = "/usr/sbin/runc"
    static var netctlRunc: String { PodmanSetup.netctlRunc }

    /// A directory for one test: bundles and state roots below it, removed at the end.
    final class Scratch {
        let directory = NSTemporaryDirectory() + uniqueName("netctl-runc-cli-")
        var cleanups: [() -> Void] = []

        init() {
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }

        func runtime(_ binary: String) -> Runtime {
            Runtime(binary: binary, root: directory + "/root-" + URL(fileURLWithPath: binary).lastPathComponent)
        }

        /// A bundle running `args`, in a cgroup of its own (/nctruncN) that the test can read.
        func bundle(_ name: String, args: [String], edit: (inout [String: Any]) -> Void = { _ in }) throws -> (path: String, cgroup: String) {
            let path = directory + "/" + name
            let cgroup = "/" + uniqueName("nctrunc")
            try OCIBundles.make(path, args: args) { config in
                var linux = config["linux"] as? [String: Any] ?? [:]
                linux["cgroupsPath"] = cgroup
                config["linux"] = linux
                edit(&config)
            }
            return (path, cgroup)
        }

        func delete(_ runtime: Runtime, _ id: String) {
            cleanups.append { _ = try? runtime.call("delete", "--force", id) }
        }

        deinit {
            cleanups.reversed().forEach { $0() }
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    // MARK: lifecycle

    @Test func createStartKillDeleteMatchRunc() throws {
        let scratch = Scratch()
        let bundle = try scratch.bundle("life", args: ["sleep", "100"])
        var seen: [[String]] = []
        for binary in [Self.runc, Self.netctlRunc] {
            let runtime = scratch.runtime(binary)
            let id = uniqueName("nctlife")
            scratch.delete(runtime, id)
            let pidFile = scratch.directory + "/\(id).pid"
            let created = try runtime.call("create", "--bundle", bundle.path, "--pid-file", pidFile, id)
            try #require(created.status == 0, "\(binary): \(created.stderr)")
            let state = try runtime.state(id)
            let pid = try String(contentsOfFile: pidFile, encoding: .utf8)
            #expect(String(describing: state["pid"]!) == pid.trimmingCharacters(in: .whitespacesAndNewlines), "\(binary)")
            #expect(state["bundle"] as? String == bundle.path && state["rootfs"] as? String == bundle.path + "/rootfs", "\(binary): \(state)")
            #expect((state["created"] as? String)?.hasSuffix("Z") == true)
            var statuses = [state["status"] as? String ?? ""]
            let duplicate = try runtime.call("create", "--bundle", bundle.path, id)
            #expect(duplicate.status == 1, "\(binary): a second create with the same id")
            #expect(try runtime.call("start", id).status == 0, "\(binary): start after a refused duplicate")
            statuses.append(try runtime.status(id))
            let again = try runtime.call("start", id)
            #expect(again.status == 1, "\(binary): a second start")
            let deleteRunning = try runtime.call("delete", id)
            #expect(deleteRunning.status == 1, "\(binary): delete of a running container")
            #expect(try runtime.call("kill", id, "KILL").status == 0)
            statuses.append(try runtime.waitStopped(id))
            #expect(try runtime.state(id)["pid"] as? Int == 0)
            let killStopped = try runtime.call("kill", id)
            #expect(killStopped.status == 1, "\(binary): kill of a stopped container")
            #expect(try runtime.call("delete", id).status == 0)
            seen.append(statuses + [Array(state.keys).sorted().joined(separator: ",")])
            #expect(FileManager.default.fileExists(atPath: "/sys/fs/cgroup/memory" + bundle.cgroup) == false, "\(binary) left its cgroup")

            let missing = try runtime.call("delete", id)
            #expect(missing.status == 1 && missing.stderr.contains("container does not exist"), "\(binary): \(missing.stderr)")
            #expect(try runtime.call("delete", "--force", id).status == 0, "\(binary): delete --force of a missing id")
        }
        #expect(seen.count == 2 && seen[0] == seen[1], "runc and netctl-runc differ: \(seen)")
        #expect(seen.first?.prefix(3) == ["created", "running", "stopped"])
    }

    /// Two starts of one container at once: one starts it, the other is refused, neither
    /// waits forever; a start after the first process was killed is refused too.
    @Test func concurrentStartsAndAStartAfterAKill() throws {
        let scratch = Scratch()
        let bundle = try scratch.bundle("starts", args: ["sleep", "100"])
        let runtime = scratch.runtime(Self.netctlRunc)
        let id = uniqueName("nctstarts")
        scratch.delete(runtime, id)
        try #require(try runtime.call("create", "--bundle", bundle.path, id).status == 0)
        let starts = try runConcurrently(Array(repeating: ["timeout", "20", Self.netctlRunc, "--root", runtime.root, "start", id], count: 2))
        #expect(starts.map(\.status).sorted() == [0, 1], "\(starts.map { "\($0.status): \($0.stderr)" })")
        #expect(starts.contains { $0.stderr.contains("cannot start an already running container") }, "\(starts.map(\.stderr))")
        #expect(try runtime.status(id) == "running")

        let killed = uniqueName("nctkilled")
        scratch.delete(runtime, killed)
        try #require(try runtime.call("create", "--bundle", bundle.path, killed).status == 0)
        let pid = try #require(try runtime.state(killed)["pid"] as? Int)
        kill(pid_t(pid), SIGKILL)
        let start = try runCommand(["timeout", "20", Self.netctlRunc, "--root", runtime.root, "start", killed])
        #expect(start.status == 1, "start of a container whose process was killed: \(start.status) \(start.stderr)")
    }

    @Test func signalsByNameAndNumberAndKillAll() throws {
        let scratch = Scratch()
        // PID 1 traps TERM (exit 7 would end the container), children sleep.
        let bundle = try scratch.bundle("signals", args: ["sh", "-c", "trap 'exit 7' USR1; sleep 100 & sleep 100 & while true; do sleep 1; done"])
        let runtime = scratch.runtime(Self.netctlRunc)
        let id = uniqueName("nctsig")
        scratch.delete(runtime, id)
        try #require(try runtime.call("run", "--detach", "--bundle", bundle.path, id).status == 0)
        for _ in 0..<200 where try runtime.call("ps", "--format", "json", id).stdout.split(separator: ",").count < 3 { usleep(10_000) }
        let pids = try JSONSerialization.jsonObject(with: Data(try runtime.call("ps", "--format", "json", id).stdout.utf8)) as? [Int] ?? []
        #expect(pids.count >= 3, "\(pids)")
        #expect(pids.contains(try runtime.state(id)["pid"] as? Int ?? -1))
        let bad = try runtime.call("kill", id, "SIGNOPE")
        #expect(bad.status == 1 && bad.stderr.contains("SIGNOPE"), "\(bad.stderr)")
        #expect(try runtime.call("kill", "--all", id, "9").status == 0)
        #expect(try runtime.waitStopped(id) == "stopped")
        for pid in pids { #expect(!isRunning(Int32(pid)), "process \(pid) survived kill --all") }
        #expect(try runtime.call("delete", id).status == 0)
    }

    // MARK: pause, update, exec

    @Test func pauseFreezesAndUpdateWritesTheCgroup() throws {
        let scratch = Scratch()
        let bundle = try scratch.bundle("freeze", args: ["sleep", "100"])
        for binary in [Self.runc, Self.netctlRunc] {
            let runtime = scratch.runtime(binary)
            let id = uniqueName("nctfreeze")
            scratch.delete(runtime, id)
            try #require(try runtime.call("run", "-d", "--bundle", bundle.path, id).status == 0)
            #expect(try runtime.call("pause", id).status == 0)
            #expect(try runtime.status(id) == "paused", "\(binary)")
            let freezer = "/sys/fs/cgroup/freezer\(bundle.cgroup)/freezer.state"
            #expect(try String(contentsOfFile: freezer, encoding: .utf8) == "FROZEN\n", "\(binary)")
            #expect(try runtime.call("resume", id).status == 0)
            #expect(try runtime.status(id) == "running", "\(binary)")
            #expect(try String(contentsOfFile: freezer, encoding: .utf8) == "THAWED\n", "\(binary)")

            #expect(try runtime.call("update", "--memory", "64m", "--pids-limit", "50", id).status == 0, "\(binary)")
            #expect(try String(contentsOfFile: "/sys/fs/cgroup/memory\(bundle.cgroup)/memory.limit_in_bytes", encoding: .utf8) == "67108864\n", "\(binary)")
            #expect(try String(contentsOfFile: "/sys/fs/cgroup/pids\(bundle.cgroup)/pids.max", encoding: .utf8) == "50\n", "\(binary)")
            let resources = scratch.directory + "/resources-\(id).json"
            try #"{"memory":{"limit":33554432},"pids":{"limit":20}}"#.write(toFile: resources, atomically: true, encoding: .utf8)
            #expect(try runtime.call("update", "--resources", resources, id).status == 0, "\(binary)")
            #expect(try String(contentsOfFile: "/sys/fs/cgroup/pids\(bundle.cgroup)/pids.max", encoding: .utf8) == "20\n", "\(binary)")
            #expect(try String(contentsOfFile: "/sys/fs/cgroup/memory\(bundle.cgroup)/memory.limit_in_bytes", encoding: .utf8) == "33554432\n", "\(binary)")
            #expect(try runtime.call("delete", "--force", id).status == 0)
        }
    }

    @Test func execDetachedWritesThePIDOfAProcessInTheContainer() throws {
        let scratch = Scratch()
        let bundle = try scratch.bundle("exec", args: ["sleep", "100"])
        var execFlags: [String] = []
        for binary in [Self.runc, Self.netctlRunc] {
            let runtime = scratch.runtime(binary)
            let id = uniqueName("nctexec")
            scratch.delete(runtime, id)
            try #require(try runtime.call("run", "-d", "--bundle", bundle.path, id).status == 0)
            let initPID = try runtime.state(id)["pid"] as? Int ?? 0
            let pidFile = scratch.directory + "/exec-\(id).pid"
            let detached = try runtime.call("exec", "--detach", "--pid-file", pidFile, id, "sleep", "50")
            #expect(detached.status == 0, "\(binary): \(detached.stderr)")
            let pid = Int32(try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
            #expect(pid > 0)
            let theirs = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/pid")
            #expect(theirs == (try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(initPID)/ns/pid")), "\(binary)")
            let cmdline = try String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)
            #expect(cmdline == "sleep\u{0}50\u{0}", "\(binary)")

            // In the foreground: output and exit code; with --process, runtime-spec's Process.
            let foreground = try runtime.call("exec", id, "sh", "-c", "echo out; exit 5")
            #expect(foreground.status == 5 && foreground.stdout == "out\n", "\(binary): \(foreground.stderr)")
            let process = scratch.directory + "/process-\(id).json"
            try #"{"terminal":false,"user":{"uid":0,"gid":0},"args":["sh","-c","echo $GREETING; pwd"],"env":["GREETING=hello","PATH=/bin:/usr/bin"],"cwd":"/tmp"}"#
                .write(toFile: process, atomically: true, encoding: .utf8)
            let withProcess = try runtime.call("exec", "--process", process, id)
            #expect(withProcess.status == 0 && withProcess.stdout == "hello\n/tmp\n", "\(binary): \(withProcess.stdout) \(withProcess.stderr)")
            let flags = try runtime.call("exec", "--cap", "CAP_NET_ADMIN", "--additional-gids", "27", "--cwd", "/etc", "--env", "X=y", id,
                                         "sh", "-c", "grep -E '^Cap(Eff|Bnd)' /proc/self/status; id -G; pwd; echo $X")
            #expect(flags.status == 0, "\(binary): \(flags.stderr)")
            execFlags.append(flags.stdout)
            if binary == Self.netctlRunc {
                // (uid_t)-1 is setresuid's "unchanged": the process would stay root.
                let reserved = try runtime.call("exec", "--user", "4294967295", id, "id", "-u")
                #expect(reserved.status != 0 && reserved.stdout.isEmpty && reserved.stderr.contains("4294967295"), "\(reserved.stdout) \(reserved.stderr)")
            }
            #expect(try runtime.call("delete", "--force", id).status == 0)
            #expect(!isRunning(pid), "\(binary): the exec'd process survived delete --force")
        }
        #expect(execFlags.count == 2 && execFlags[0] == execFlags[1], "runc and netctl-runc differ: \(execFlags)")
        #expect(execFlags.first?.hasSuffix("0 27\n/etc\ny\n") == true, "\(execFlags)")
    }

    @Test func namespacePathsAndSystemdCgroupPaths() throws {
        let scratch = Scratch()
        // A network namespace by path, as podman's /run/netns/... and a systemd-form
        // cgroupsPath mapped to cgroupfs (no systemd here).
        let netns = uniqueName("nctruncns")
        #expect(try runCommand(["ip", "netns", "add", netns]).status == 0)
        defer { _ = try? runCommand(["ip", "netns", "delete", netns]) }
        let slice = uniqueName("nctrunc") + ".slice"
        let id = uniqueName("nctsysd")
        let bundle = try scratch.bundle("paths", args: ["sleep", "100"]) { config in
            var linux = config["linux"] as! [String: Any]
            linux["namespaces"] = (linux["namespaces"] as! [[String: Any]]).map { namespace in
                namespace["type"] as? String == "network" ? ["type": "network", "path": "/run/netns/\(netns)"] : namespace
            }
            linux["cgroupsPath"] = "\(slice):nctest:\(id)"
            config["linux"] = linux
        }
        let runtime = scratch.runtime(Self.netctlRunc)
        scratch.delete(runtime, id)
        var systemd = runtime
        systemd.globalFlags = ["--systemd-cgroup"]
        let created = try systemd.call("run", "-d", "--bundle", bundle.path, id)
        try #require(created.status == 0, "\(created.stderr)")
        let pid = try runtime.state(id)["pid"] as? Int ?? 0
        let theirs = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/net")
        let wanted = try FileManager.default.attributesOfItem(atPath: "/run/netns/\(netns)")[.systemFileNumber] as? UInt64
        #expect(theirs == "net:[\(wanted ?? 0)]", "\(theirs)")
        let scope = "/sys/fs/cgroup/memory/\(slice)/nctest-\(id).scope"
        #expect(FileManager.default.fileExists(atPath: scope), "no \(scope)")
        let procs = (try? String(contentsOfFile: scope + "/cgroup.procs", encoding: .utf8)) ?? ""
        #expect(procs.split(separator: "\n").contains(Substring(String(pid))), "\(procs)")
        #expect(try runtime.call("delete", "--force", id).status == 0)
        #expect(!FileManager.default.fileExists(atPath: scope))
        // The slice was made for this test: its directories go too.
        for hierarchy in (try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup")) ?? [] {
            rmdir("/sys/fs/cgroup/\(hierarchy)/\(slice)")
        }
    }

    @Test func aHardLimitAboveTheHostsIsClampedWithAWarning() throws {
        let scratch = Scratch()
        var host = rlimit()
        getrlimit(__rlimit_resource_t(7), &host)
        let bundle = try scratch.bundle("rlimit", args: ["sh", "-c", "ulimit -Hn; ulimit -n"]) { config in
            var process = config["process"] as! [String: Any]
            process["rlimits"] = [["type": "RLIMIT_NOFILE", "hard": 1 << 30, "soft": 1 << 30]]
            config["process"] = process
        }
        let runtime = scratch.runtime(Self.netctlRunc)
        let log = scratch.directory + "/rlimit.log"
        let run = try runtime.call(["run", "--bundle", bundle.path, uniqueName("nctrlim")], log: log)
        #expect(run.status == 0 && run.stdout == "\(host.rlim_max)\n\(host.rlim_max)\n", "\(run.stdout) \(run.stderr)")
        let entries = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
            .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(entries.contains { $0["level"] as? String == "warning" && ($0["msg"] as? String)?.contains("RLIMIT_NOFILE") == true }, "\(entries)")
    }

    @Test func concurrentRunsInOneRootAllSucceedAndLeaveNothing() throws {
        let scratch = Scratch()
        // No cgroupsPath: each gets /netctl-runc/ID, and the parent goes with the last one.
        let bundle = try scratch.bundle("parallel", args: ["sh", "-c", "echo ran"]) { config in
            var linux = config["linux"] as! [String: Any]
            linux.removeValue(forKey: "cgroupsPath")
            config["linux"] = linux
        }
        let runtime = scratch.runtime(Self.netctlRunc)
        let ids = (0..<12).map { _ in uniqueName("nctpar") }
        let results = try runConcurrently(ids.map { [Self.netctlRunc, "--root", runtime.root, "run", "--bundle", bundle.path, $0] })
        for (id, result) in zip(ids, results) {
            #expect(result.status == 0 && result.stdout == "ran\n", "\(id): \(result.stderr)")
        }
        #expect(try runtime.call("list", "--quiet").stdout.isEmpty)
        let left = ((try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup/memory/netctl-runc")) ?? [])
            .filter { ids.contains($0) }
        #expect(left.isEmpty, "cgroups left: \(left)")
    }

    // MARK: console socket

    @Test func consoleSocketReceivesTheTerminalsMaster() throws {
        let scratch = Scratch()
        let bundle = try scratch.bundle("console", args: ["sh", "-c", "tty; echo console-ok; sleep 100"]) { config in
            var process = config["process"] as! [String: Any]
            process["terminal"] = true
            config["process"] = process
        }
        let runtime = scratch.runtime(Self.netctlRunc)
        let id = uniqueName("nctcons")
        scratch.delete(runtime, id)
        let path = scratch.directory + "/console.sock"
        let listener = try ConsoleListener(path: path)
        defer { listener.close() }
        let created = try runtime.call("create", "--bundle", bundle.path, "--console-socket", path, id)
        try #require(created.status == 0, "\(created.stderr)")
        let master = try listener.receive()
        defer { Foundation.close(master) }
        #expect(try runtime.call("start", id).status == 0)
        let output = listener.read(master, until: "console-ok")
        #expect(output.contains("/dev/pts/0") && output.contains("console-ok"), "\(output)")
        #expect(try runtime.call("delete", "--force", id).status == 0)

        // Without --console-socket a terminal bundle is refused, naming the field.
        let refused = try runtime.call("create", "--bundle", bundle.path, uniqueName("nctcons"))
        #expect(refused.status == 1 && refused.stderr.contains("process.terminal"), "\(refused.stderr)")
    }

    /// A Unix socket a runtime sends a pty master to, as conmon and containerd's shim listen.
    final class ConsoleListener {
        let fd: Int32

        init(path: String) throws {
            fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { target in
                for (index, byte) in path.utf8.enumerated() { target[index] = byte }
            }
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard bound == 0, listen(fd, 1) == 0 else { throw HarnessError("console socket \(path): errno \(errno)") }
        }

        /// Accepts the runtime's connection and takes the descriptor it sent (SCM_RIGHTS).
        func receive() throws -> Int32 {
            var pollfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pollfd, 1, 10_000) == 1 else { throw HarnessError("no connection on the console socket") }
            let connection = accept(fd, nil, nil)
            guard connection >= 0 else { throw HarnessError("accept: errno \(errno)") }
            defer { Foundation.close(connection) }
            var data = [UInt8](repeating: 0, count: 256)
            var control = [UInt8](repeating: 0, count: 64)
            let received: Int = data.withUnsafeMutableBytes { dataBytes in
                control.withUnsafeMutableBytes { controlBytes in
                    var vector = iovec(iov_base: dataBytes.baseAddress, iov_len: dataBytes.count)
                    return withUnsafeMutablePointer(to: &vector) { vectorPointer in
                        var message = msghdr()
                        message.msg_iov = vectorPointer
                        message.msg_iovlen = 1
                        message.msg_control = controlBytes.baseAddress
                        message.msg_controllen = controlBytes.count
                        let count = recvmsg(connection, &message, 0)
                        return count < 0 ? -1 : message.msg_controllen
                    }
                }
            }
            // struct cmsghdr { size_t len; int level; int type; } then the descriptor.
            guard received >= 20 else { throw HarnessError("no descriptor on the console socket") }
            let level = control.withUnsafeBytes { $0.load(fromByteOffset: 8, as: Int32.self) }
            let type = control.withUnsafeBytes { $0.load(fromByteOffset: 12, as: Int32.self) }
            guard level == SOL_SOCKET, type == 1 /* SCM_RIGHTS */ else { throw HarnessError("unexpected control message \(level)/\(type)") }
            return control.withUnsafeBytes { $0.load(fromByteOffset: 16, as: Int32.self) }
        }

        /// Reads the terminal until `marker` appears (or 10 s without it).
        func read(_ master: Int32, until marker: String) -> String {
            var output = ""
            var buffer = [UInt8](repeating: 0, count: 4096)
            while !output.contains(marker) {
                var pollfd = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
                guard poll(&pollfd, 1, 10_000) == 1 else { break }
                let count = Foundation.read(master, &buffer, buffer.count)
                if count <= 0 { break }
                output += String(decoding: buffer[0..<count], as: UTF8.self)
            }
            return output
        }

        func close() { Foundation.close(fd) }
    }

    // MARK: errors, hooks, features, version

    @Test func errorsAreOneLineAndJSONInTheLog() throws {
        let scratch = Scratch()
        let log = scratch.directory + "/log.json"
        for binary in [Self.runc, Self.netctlRunc] {
            let runtime = scratch.runtime(binary)
            try? FileManager.default.removeItem(atPath: log)
            let missing = try runtime.call(["start", "nctmissing"], log: log)
            #expect(missing.status == 1, "\(binary)")
            let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
            let entry = lines.last.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            #expect(entry?["level"] as? String == "error" && entry?["msg"] as? String == "container does not exist", "\(binary): \(lines)")
            #expect(entry?["time"] is String)
        }
        let runtime = scratch.runtime(Self.netctlRunc)
        // A bundle without config.json, with broken JSON, and without its rootfs: one line naming the file.
        let empty = scratch.directory + "/empty"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        let noConfig = try runtime.call("create", "--bundle", empty, "nctbad")
        #expect(noConfig.status == 1 && noConfig.stderr.contains("\(empty)/config.json") && noConfig.stderr.split(separator: "\n").count == 1, "\(noConfig.stderr)")
        try "{ not json".write(toFile: empty + "/config.json", atomically: true, encoding: .utf8)
        let badJSON = try runtime.call("create", "--bundle", empty, "nctbad")
        #expect(badJSON.status == 1 && badJSON.stderr.contains("config.json") && badJSON.stderr.contains("JSON"), "\(badJSON.stderr)")
        let bundle = try scratch.bundle("norootfs", args: ["true"])
        try FileManager.default.removeItem(atPath: bundle.path + "/rootfs")
        let noRootfs = try runtime.call("create", "--bundle", bundle.path, "nctbad")
        #expect(noRootfs.status == 1 && noRootfs.stderr.contains("root.path") && noRootfs.stderr.contains("rootfs"), "\(noRootfs.stderr)")
        let noCommand = try scratch.bundle("nocommand", args: ["nctnosuchcommand"])
        let missing = try runtime.call("create", "--bundle", noCommand.path, "nctbad")
        #expect(missing.status == 1 && missing.stderr.contains("exec: \"nctnosuchcommand\": executable file not found in $PATH"), "\(missing.stderr)")
        #expect(FileManager.default.fileExists(atPath: "/sys/fs/cgroup/memory" + noCommand.cgroup) == false)
        let unknown = try runtime.call("frobnicate")
        #expect(unknown.status == 1 && unknown.stderr.contains("\"frobnicate\"") && unknown.stderr.contains("expected"), "\(unknown.stderr)")
        let badFlag = try runtime.call("create", "--bogus", "x")
        #expect(badFlag.status == 1 && badFlag.stderr.contains("bogus"), "\(badFlag.stderr)")
        #expect((try? FileManager.default.contentsOfDirectory(atPath: runtime.root + "/runtime")) ?? [] == [])
    }

    @Test func hooksSeeTheStateAndAFailingHookUndoesCreate() throws {
        let scratch = Scratch()
        let record = scratch.directory + "/hooks.log"
        let hook = { (name: String) -> [String: Any] in
            ["path": "/bin/sh", "args": ["sh", "-c", "echo \(name) $(cat) >> \(record)"], "env": ["PATH=/usr/bin:/bin"]]
        }
        let bundle = try scratch.bundle("hooks", args: ["sleep", "100"]) { config in
            // startContainer runs in the container: its /bin/sh, its /dev/shm, its hostname.
            let inside: [String: Any] = ["path": "/bin/sh", "args": ["sh", "-c", "{ cat; echo; hostname; } > /dev/shm/started-hook"]]
            config["hooks"] = ["prestart": [hook("prestart")], "createRuntime": [hook("createRuntime")], "startContainer": [inside],
                               "poststart": [hook("poststart")], "poststop": [hook("poststop")]]
        }
        let runtime = scratch.runtime(Self.netctlRunc)
        let id = uniqueName("ncthook")
        scratch.delete(runtime, id)
        #expect(try runtime.call("create", "--bundle", bundle.path, id).status == 0)
        let pid = try runtime.state(id)["pid"] as? Int ?? 0
        #expect(try runtime.call("start", id).status == 0)
        let inside = try String(contentsOfFile: "/proc/\(pid)/root/dev/shm/started-hook", encoding: .utf8).split(separator: "\n")
        let insideState = inside.first.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(insideState?["id"] as? String == id && insideState?["status"] as? String == "created", "\(inside)")
        #expect(inside.last == "runc", "the startContainer hook did not see the container's hostname: \(inside)")
        #expect(try runtime.call("delete", "--force", id).status == 0)
        let lines = try String(contentsOfFile: record, encoding: .utf8).split(separator: "\n")
        #expect(lines.map { $0.split(separator: " ").first.map(String.init) ?? "" } == ["prestart", "createRuntime", "poststart", "poststop"], "\(lines)")
        let prestart = lines.first.map { try? JSONSerialization.jsonObject(with: Data($0.dropFirst("prestart ".count).utf8)) as? [String: Any] } ?? nil
        #expect(prestart?["id"] as? String == id && prestart?["pid"] as? Int == pid && prestart?["status"] as? String == "created", "\(lines)")

        let failing = try scratch.bundle("failing", args: ["sleep", "100"]) { config in
            config["hooks"] = ["prestart": [["path": "/bin/sh", "args": ["sh", "-c", "echo nctreason >&2; exit 3"]]]]
        }
        let failed = try runtime.call("create", "--bundle", failing.path, uniqueName("ncthook"))
        // One line naming the hook, its status and what it said; nothing of it on our stdout.
        #expect(failed.status == 1 && failed.stderr == "prestart hook /bin/sh: exit status 3: nctreason\n", "\(failed.stderr)")
        #expect(failed.stdout.isEmpty)
        #expect((try? FileManager.default.contentsOfDirectory(atPath: runtime.root + "/runtime")) ?? [] == [])
        #expect(FileManager.default.fileExists(atPath: "/sys/fs/cgroup/memory" + failing.cgroup) == false)
    }

    @Test func featuresAndVersionAreRuncShaped() throws {
        let scratch = Scratch()
        let runtime = scratch.runtime(Self.netctlRunc)
        let features = try runtime.call("features")
        #expect(features.status == 0)
        let document = try JSONSerialization.jsonObject(with: Data(features.stdout.utf8)) as? [String: Any]
        let linux = document?["linux"] as? [String: Any]
        #expect(Set(linux?["namespaces"] as? [String] ?? []) == ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"])
        #expect((document?["mountOptions"] as? [String] ?? []).contains("rbind"))
        #expect((document?["hooks"] as? [String] ?? []).contains("prestart"))
        #expect((linux?["capabilities"] as? [String] ?? []).contains("CAP_NET_ADMIN"))
        for flag in ["--version", "-v"] {
            let version = try runtime.call(flag).stdout.split(separator: "\n")
            #expect(version.first?.hasPrefix("runc version ") == true && version.contains { $0.hasPrefix("spec: 1.") }, "\(version)")
        }
    }
}

/// A process that exists and is not a zombie (an orphan nobody reaped yet is gone for us).
func isRunning(_ pid: Int32) -> Bool {
    guard pid > 0, let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return false }
    return stat[stat.index(close, offsetBy: 2)] != "Z"
}
