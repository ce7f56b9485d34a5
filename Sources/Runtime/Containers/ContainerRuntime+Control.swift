import CNM
import CRuntimeShim
import Glibc
import Netlink

extension ContainerRuntime {
    /// SIGTERM (or the image's stop signal), then SIGKILL after `timeout` seconds; returns
    /// once the supervisor has recorded the end.
    public func stop(_ reference: String, timeout: Int) throws -> ContainerRecord {
        let record = try container(reference)
        guard isRunning(record) else { return try refreshed(record) }
        Glibc.kill(record.state.pid, SIGTERM)
        if !waitForExit(record.state.pid, start: record.state.pidStart, seconds: Double(timeout)) {
            Glibc.kill(record.state.pid, SIGKILL)
            _ = waitForExit(record.state.pid, start: record.state.pidStart, seconds: 10)
        }
        return try awaitSupervisor(record)
    }

    public func kill(_ reference: String, signal: String) throws {
        let record = try container(reference)
        let number = try Signals.parse(signal)
        guard isRunning(record) else { throw RuntimeError("container \(record.name) is not running") }
        guard Glibc.kill(record.state.pid, number) == 0 else { throw RuntimeError.system("kill \(record.name)") }
    }

    /// `rm`: a running container only with `force` (killed first).
    public func remove(_ reference: String, force: Bool) throws -> ContainerRecord {
        var record = try refreshed(try container(reference))
        if isRunning(record), !force {
            throw RuntimeError("container \(record.name) is running: stop it first, or use rm -f")
        }
        // Recorded before anything changes: a kill from here on leaves a removal that
        // reconcile (or the next run) finishes.
        record.state.status = .removing
        record.state.owner = .current()
        try save(record)
        network.host.faults.reach("rm.after-mark")
        finishRemoval(record)
        return record
    }

    /// Kills the container's first process if it still runs (its supervisor then records
    /// the end and, seeing the removal, releases everything), and removes what is left.
    func finishRemoval(_ record: ContainerRecord) {
        if ProcessStamp(pid: record.state.pid, start: record.state.pidStart).isAlive {
            Glibc.kill(record.state.pid, SIGKILL)
            _ = waitForExit(record.state.pid, start: record.state.pidStart, seconds: 10)
            _ = waitForExit(record.state.supervisor, start: record.state.supervisorStart, seconds: 30)
        }
        release((try? store.get(ContainerRecord.self, "containers/\(record.id)")) ?? record, removeRecord: true)
    }

    /// `wait`: blocks until the container has ended and its end is recorded.
    public func wait(_ reference: String) throws -> ContainerRecord {
        let record = try container(reference)
        if record.state.status != .running { return record }
        _ = waitForExit(record.state.pid, start: record.state.pidStart, seconds: .infinity)
        return try awaitSupervisor(record)
    }

    /// Waits for the supervisor to record the end; if it is gone (a `run` killed with -9,
    /// a killed monitor), records and releases here instead.
    private func awaitSupervisor(_ record: ContainerRecord) throws -> ContainerRecord {
        _ = waitForExit(record.state.supervisor, start: record.state.supervisorStart, seconds: 30)
        return try refreshed(try container(record.id))
    }

    /// A record that says running although nothing runs and nobody supervises it any more
    /// is brought up to date: exited (code unknown, 255) and released.
    @discardableResult
    public func refreshed(_ record: ContainerRecord) throws -> ContainerRecord {
        guard record.state.status == .running,
              !ProcessStamp(pid: record.state.supervisor, start: record.state.supervisorStart).isAlive else { return record }
        if ProcessStamp(pid: record.state.pid, start: record.state.pidStart).isAlive { return record }
        var updated = record
        updated.state.status = .exited
        updated.state.exitCode = 255
        updated.state.error = "its supervisor ended before it did; exit code unknown"
        updated.state.finishedAt = Timestamp.now()
        try save(updated)
        release(updated, removeRecord: updated.host.autoRemove)
        return updated
    }

    /// Containers whose supervisor died: recorded as exited and released; those a killed
    /// command left being created or removed: removed; container files no record names,
    /// and what killed image imports left in staging: removed. For `system reconcile`.
    public func reconcileContainers() throws -> [String] {
        var report = try repairAbandoned()
        for record in try containers() where record.state.status == .running {
            let updated = try refreshed(record)
            if updated.state.status != .running { report.append("container \(record.name): recorded as exited, network and cgroups released") }
        }
        // A record is saved before its files are made and removed before them (see `release`), so
        // files listed before reading the records, and named by none, are a removal's remains.
        let folders = Directory.names(in: "\(storage)/containers")
        let recorded = Set(try containers().map(\.id))
        for id in folders where !recorded.contains(id) {
            removeTree(directory(of: id))
            report.append("removed \(directory(of: id)): no container record owns it")
        }
        return report + (try images.removeStaleStaging())
    }

    /// Containers a killed command left half made (`created`) or half removed (`removing`):
    /// each is claimed under the lock, then removed, so that two repairs, or a repair and a
    /// monitor taking over its container, never act on the same one.
    func repairAbandoned() throws -> [String] {
        var report: [String] = []
        for record in try containers() where [.created, .removing].contains(record.state.status) {
            guard let owner = record.state.owner, !owner.isAlive, let claimed = try claim(record.id, from: owner) else { continue }
            finishRemoval(claimed)
            let what = record.state.status == .created ? "creating" : "removing"
            report.append("container \(record.name): removed (the command \(what) it was killed)")
        }
        return report
    }

    private func claim(_ id: String, from owner: ProcessStamp) throws -> ContainerRecord? {
        try store.locked {
            guard var record = try store.get(ContainerRecord.self, "containers/\(id)"), record.state.owner == owner,
                  [.created, .removing].contains(record.state.status) else { return nil }
            record.state.status = .removing
            record.state.owner = .current()
            try save(record)
            return record
        }
    }


    /// Polls (pidfd) until the process ends or `seconds` pass; true if it ended.
    func waitForExit(_ pid: Int32, start: UInt64, seconds: Double) -> Bool {
        guard ProcessStamp(pid: pid, start: start).isAlive else { return true }
        let fd = shim_pidfd_open(pid)
        guard fd >= 0 else { return !ProcessStamp(pid: pid, start: start).isAlive }
        defer { close(fd) }
        // The pid may have been reused between the check and pidfd_open.
        guard ProcessStamp(pid: pid, start: start).isAlive else { return true }
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let timeout = seconds.isInfinite ? -1 : Int32(seconds * 1000)
        while true {
            let result = poll(&descriptor, 1, timeout)
            if result > 0 { return true }
            if result == 0 { return false }
            if errno != EINTR { return false }
        }
    }

    // MARK: logs

    /// Copies the log to `output`; with `follow`, keeps copying until the container ends.
    public func logs(_ reference: String, follow: Bool, output: Int32 = 1) throws {
        let record = try container(reference)
        let fd = open(logPath(of: record.id), O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return }
            throw RuntimeError.system("logs of \(record.name)")
        }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = retrying { read(fd, &buffer, buffer.count) }
            if count > 0 {
                guard Terminal.writeAll(output, buffer, count) else { return }
                continue
            }
            guard follow, (try? container(record.id)).map(isRunning) == true else { return }
            usleep(50_000)
        }
    }
}

/// Signal names as `kill -s` takes them: KILL, SIGKILL, sigterm, 9.
enum Signals {
    static let names: [String: Int32] = [
        "HUP": SIGHUP, "INT": SIGINT, "QUIT": SIGQUIT, "ILL": SIGILL, "TRAP": SIGTRAP, "ABRT": SIGABRT, "BUS": SIGBUS,
        "FPE": SIGFPE, "KILL": SIGKILL, "USR1": SIGUSR1, "SEGV": SIGSEGV, "USR2": SIGUSR2, "PIPE": SIGPIPE, "ALRM": SIGALRM,
        "TERM": SIGTERM, "CHLD": SIGCHLD, "CONT": SIGCONT, "STOP": SIGSTOP, "TSTP": SIGTSTP, "TTIN": SIGTTIN,
        "TTOU": SIGTTOU, "URG": SIGURG, "XCPU": SIGXCPU, "XFSZ": SIGXFSZ, "VTALRM": SIGVTALRM, "PROF": SIGPROF,
        "WINCH": SIGWINCH, "IO": SIGIO, "SYS": SIGSYS,
    ]

    static func parse(_ text: String) throws -> Int32 {
        if let number = Int32(text), number > 0, number < 65 { return number }
        var name = text.uppercased()
        if name.hasPrefix("SIG") { name.removeFirst(3) }
        guard let number = names[name] else {
            throw RuntimeError("invalid signal \"\(text)\": expected a name such as TERM or KILL, or a number from 1 to 64")
        }
        return number
    }
}
