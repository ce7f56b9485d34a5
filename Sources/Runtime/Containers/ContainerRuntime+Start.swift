import CNM
import CRuntimeShim
import Glibc
import Security
import Netlink

extension ContainerRuntime {
    /// Where the first process's stdio goes: fds for 0, 1 and 2, or a terminal of its own
    /// whose master comes back over `console`.
    struct Stdio {
        var fds: [Int32] = [-1, -1, -1]
        var console: Console?
    }

    /// Starts the container's first process as a child of this process, which becomes its
    /// supervisor: it must wait for it and call `finish`. A foreground child dies with its
    /// supervisor (so a killed `run` leaves nothing running that no one watches).
    func start(_ record: inout ContainerRecord, stdio: Stdio, foreground: Bool) throws -> pid_t {
        var plan = LaunchPlan()
        var opened: [Int32] = []
        defer { opened.forEach { close($0) } }

        plan.cloneFlags = SHIM_CLONE_NEWPID | SHIM_CLONE_NEWNS | SHIM_CLONE_NEWUTS | SHIM_CLONE_NEWIPC
        let networks = record.host.networks
        switch networks {
        case .none:
            plan.cloneFlags |= SHIM_CLONE_NEWNET
            plan.loopbackUp = true
        case .container(let reference):
            let other = try container(reference)
            guard isRunning(other) else { throw RuntimeError("--network container:\(reference): container \(other.name) is not running") }
            let fd = open("/proc/\(other.state.pid)/ns/net", O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw RuntimeError.system("--network container:\(reference)") }
            opened.append(fd)
            plan.namespaces.append((fd, SHIM_CLONE_NEWNET))
        case .host:
            break
        case .networks:
            guard let sandbox = record.sandbox else { throw RuntimeError("container \(record.name) has no network sandbox (run netctl system reconcile)") }
            let path = "\(NetworkNamespace.directory)/\(sandbox)"
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw RuntimeError.system("network namespace \(path)") }
            opened.append(fd)
            plan.namespaces.append((fd, SHIM_CLONE_NEWNET))
        }

        let image = try images.image(id: record.imageID)
        Rootfs(directory: directory(of: record.id)).plan(
            record, layers: images.layerPaths(of: image), hostNetwork: networks == .host, into: &plan)
        plan.hostname = record.config.hostname
        plan.uid = record.config.uid
        plan.gid = record.config.gid
        plan.groups = record.config.groups
        plan.cwd = record.config.workingDir
        plan.argv = [record.path] + record.args
        plan.env = record.config.env
        try confine(&plan, record, uid: record.config.uid)
        if record.security?.privileged == true || record.security?.systemPathsUnconfined == true {
            // As Docker: nothing masked or read-only.
            plan.maskedPaths = []
            plan.readonlyPaths = []
        }
        if let cgroups = record.cgroups {
            plan.cgroupFDs = try cgroups.procsDescriptors()
            opened += plan.cgroupFDs
        }
        plan.stdio = stdio.fds
        plan.consoleSocket = stdio.console?.childEnd ?? -1
        plan.newSession = !foreground
        plan.parentDeathSignal = foreground ? SIGKILL : 0

        let pid = try Launcher.spawn(plan, what: "container init")
        record.state.status = .running
        record.state.pid = pid
        record.state.pidStart = ProcessStamp.status(of: pid)?.start ?? 0
        record.state.supervisor = getpid()
        record.state.supervisorStart = ProcessStamp.status(of: getpid())?.start ?? 0
        record.state.startedAt = Timestamp.now()
        record.state.owner = nil
        try save(record)
        return pid
    }

    /// Records how the container ended and gives back what it held: its network sandbox
    /// (endpoints and published ports) and cgroups; with `--rm`, everything.
    public func finish(_ id: String, code: Int32, signal: Int32?) {
        guard var record = try? store.get(ContainerRecord.self, "containers/\(id)") else { return }
        // Ended by `rm -f`: the removal is recorded, and finished here as well as by `rm`.
        let removing = record.state.status == .removing
        if !removing { record.state.status = .exited }
        record.state.exitCode = code
        record.state.oomKilled = signal == SIGKILL && (record.cgroups?.oomKilled() ?? false)
        record.state.finishedAt = Timestamp.now()
        // With --rm the record goes anyway; release saves what it keeps otherwise.
        release(record, removeRecord: removing || record.host.autoRemove)
    }

    /// Frees what a container holds while it runs; `removeRecord` also removes its files
    /// and record. Each part is skipped when already gone, so this also finishes a release
    /// that was interrupted.
    func release(_ record: ContainerRecord, removeRecord: Bool) {
        var record = record
        if let cgroups = record.cgroups {
            cgroups.killAll()
            cgroups.remove()
            record.cgroups = nil
        }
        if let sandbox = record.sandbox {
            _ = try? network.removeSandbox(sandbox, destroyingNamespace: true)
            record.sandbox = nil
        }
        if removeRecord {
            // The record first: an interrupted removal may leave files no record names,
            // never a record whose files are gone.
            try? store.delete("containers/\(record.id)")
            removeTree(directory(of: record.id))
        } else {
            try? save(record)
        }
    }

    // MARK: run

    /// `run` without -d: this process supervises the container and returns its exit code.
    public func runForeground(_ request: RunRequest) throws -> Int32 {
        var record = try create(request)
        let stdio: Stdio
        do {
            stdio = request.tty ? Stdio(console: try Console()) : Stdio(fds: [request.interactive ? 0 : devNull(), 1, 2])
        } catch {
            release(record, removeRecord: true)
            throw error
        }
        defer { if stdio.fds[0] > 2 { close(stdio.fds[0]) } }
        let pid: pid_t
        var master: Int32 = -1
        do {
            pid = try start(&record, stdio: stdio, foreground: true)
            if let console = stdio.console { master = try console.receiveMaster() }
        } catch {
            release(record, removeRecord: true)
            throw error
        }
        shim_forward_signals(pid)
        if master >= 0 {
            Terminal.relay(master: master, interactive: request.interactive)
            close(master)
        }
        let (code, signal) = Launcher.wait(pid)
        shim_forward_signals(-1)
        finish(record.id, code: code, signal: signal)
        return code
    }

    /// `run -d`: the container is started by a monitor process (`netctl monitor ID`) that
    /// outlives this one; this waits only until the command has exec'd or failed.
    public func runDetached(_ request: RunRequest, executable: String) throws -> ContainerRecord {
        let record = try create(request)
        network.host.faults.reach("run.after-create")
        do {
            try spawnMonitor(for: record, executable: executable)
        } catch {
            release(record, removeRecord: true)
            throw error
        }
        return try container(record.id)
    }

    private func spawnMonitor(for record: ContainerRecord, executable: String) throws {
        var fds: [Int32] = [-1, -1]
        guard shim_pipe_cloexec(&fds) == 0 else { throw RuntimeError.system("pipe") }
        let argv = [executable, "monitor", "--root", root, record.id]
        let environment = (0...).lazy.map { environ[$0] }.prefix { $0 != nil }.map { String(cString: $0!) }
        let pid = withCStrings(argv) { argv in
            withCStrings(Array(environment)) { envp in shim_spawn_daemon(executable, argv, envp, fds[1]) }
        }
        close(fds[1])
        defer { close(fds[0]) }
        guard pid > 0 else { throw RuntimeError.system("start the container monitor \(executable)") }
        // The monitor's answer: "ok", or the error and its exit code.
        var answer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = retrying { read(fds[0], &chunk, chunk.count) }
            if count <= 0 { break }
            answer += chunk[0..<count]
        }
        let text = String(decoding: answer, as: UTF8.self)
        if text == "ok" { return }
        var status: Int32 = 0
        _ = retrying { waitpid(pid, &status, 0) }
        let lines = text.split(separator: "\n", maxSplits: 1).map(String.init)
        if lines.count == 2, let code = Int32(lines[0]) { throw RuntimeError(lines[1], exitCode: code) }
        throw RuntimeError("the container monitor ended before the container started (exit status \(Launcher.decode(status).code))")
    }

    /// The monitor of a detached container: starts it with its output in the log, tells
    /// the waiting `run` how that went (on fd 3), then reaps it and records its end.
    public func monitor(_ id: String, reportFD: Int32) -> Int32 {
        signal(SIGHUP, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        signal(SIGPIPE, SIG_IGN)
        func answer(_ text: String) {
            _ = text.withCString { write(reportFD, $0, strlen($0)) }
            close(reportFD)
        }
        guard var record = try? takeOver(id) else {
            answer("125\ncontainer \(id) not found, or no longer being created")
            return 125
        }
        let log = open(logPath(of: id), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        let pid: pid_t
        var master: Int32 = -1
        do {
            let stdio = record.config.tty ? Stdio(console: try Console()) : Stdio(fds: [devNull(), log, log])
            pid = try start(&record, stdio: stdio, foreground: false)
            if let console = stdio.console { master = try console.receiveMaster() }
        } catch let error as RuntimeError {
            answer("\(error.exitCode)\n\(error.description)")
            release(record, removeRecord: true)
            return error.exitCode
        } catch {
            answer("125\n\(error)")
            release(record, removeRecord: true)
            return 125
        }
        answer("ok")
        // From here on the monitor waits; what start-up touched need not stay resident.
        // Pages the `run` that is still exiting maps too would stay, so give it a moment.
        if master >= 0 {
            Terminal.copy(from: master, to: log)
        } else if !waitForExit(pid, start: record.state.pidStart, seconds: 0.5) {
            _ = shim_release_startup_memory()
        }
        let (code, signal) = Launcher.wait(pid)
        finish(id, code: code, signal: signal)
        return 0
    }

    /// The monitor becomes the owner of the container its `run -d` created, under the lock:
    /// either before a reconcile that finds that `run` killed (which then leaves it alone)
    /// or not at all (the reconcile has claimed it for removal).
    private func takeOver(_ id: String) throws -> ContainerRecord? {
        try store.locked {
            guard var record = try store.get(ContainerRecord.self, "containers/\(id)"), record.state.status == .created else { return nil }
            record.state.owner = .current()
            try save(record)
            return record
        }
    }

    func devNull() -> Int32 { open("/dev/null", O_RDWR | O_CLOEXEC) }
}

/// argv and envp as C wants them, for the duration of `body`.
func withCStrings<T>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> T) -> T {
    let pointers = strings.map { strdup($0) } + [nil]
    defer { pointers.forEach { free($0) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}
