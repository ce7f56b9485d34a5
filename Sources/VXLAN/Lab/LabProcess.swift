import Glibc

/// Child processes of the lab (etcd, openssl), started with posix_spawn (never fork: see
/// DESIGN.md) and stopped by their pid.
enum LabProcess {
    /// Starts `arguments` (the first is looked up in PATH) in a session of its own (a
    /// terminal's ^C to the command that started it does not reach it; it is stopped by
    /// pid), with stdin from /dev/null, stdout and stderr appended to `log`, and default
    /// signal dispositions whatever this process set, so that SIGTERM stops it.
    static func spawn(_ arguments: [String], log: String) throws -> pid_t {
        do {
            return try LabRunner.startService(arguments, environment: nil, log: log)
        } catch {
            throw EtcdError(.setup, "start \(arguments[0]): \(error)")
        }
    }

    /// Runs `arguments` to its end; a failure names the command and the last line it wrote.
    static func run(_ arguments: [String], log: String) throws {
        let pid = try spawn(arguments, log: log)
        let status = waitForExit(pid, timeout: 30)
        guard status == 0 else {
            let last = lastLines(of: log, count: 1)
            throw EtcdError(.setup, "\(arguments.prefix(2).joined(separator: " ")) failed (\(status.map { "status \($0)" } ?? "no exit in 30 s")): \(last)")
        }
    }

    /// Waits for `pid` to exit and reaps it; its exit status (128 + signal when killed), or
    /// nil if it is still running at the deadline.
    static func waitForExit(_ pid: pid_t, timeout: Double) -> Int32? {
        let deadline = monotonicSeconds() + timeout
        while true {
            if let status = exitStatus(pid) { return status }
            if monotonicSeconds() >= deadline { return nil }
            usleep(10_000)
        }
    }

    /// The exit status if `pid` has exited (reaping it), nil while it runs. For a process
    /// this one did not start (the lab's etcd, stopped by a later command), -1 once it is
    /// gone.
    static func exitStatus(_ pid: pid_t) -> Int32? {
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        if result == 0 { return nil }
        if result < 0 { return kill(pid, 0) == 0 || errno == EPERM ? nil : -1 }
        if status & 0x7f == 0 { return (status >> 8) & 0xff }
        return 128 + (status & 0x7f)
    }

    /// SIGTERM, then SIGKILL if it has not exited within `grace` seconds; reaps it.
    static func stop(_ pid: pid_t, grace: Double = 10) {
        guard kill(pid, SIGTERM) == 0 else { _ = exitStatus(pid); return }
        if waitForExit(pid, timeout: grace) == nil {
            kill(pid, SIGKILL)
            _ = waitForExit(pid, timeout: grace)
        }
    }

    /// The last `count` non-empty lines of a log file, joined by " | ", for one-line errors.
    static func lastLines(of path: String, count: Int) -> String {
        guard let file = fopen(path, "r") else { return "(no log)" }
        defer { fclose(file) }
        var lines: [String] = []
        var buffer = [CChar](repeating: 0, count: 4096)
        while fgets(&buffer, Int32(buffer.count), file) != nil {
            let line = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                .split(whereSeparator: \.isNewline).joined()
            if !line.isEmpty { lines.append(line) }
            if lines.count > count { lines.removeFirst() }
        }
        return lines.isEmpty ? "(empty log)" : lines.joined(separator: " | ")
    }
}
