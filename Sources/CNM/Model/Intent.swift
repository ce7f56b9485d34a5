import Glibc

/// A process, named so that a recycled pid is never taken for it: the pid and field 22 of
/// /proc/PID/stat (when it started, in clock ticks since boot).
public struct ProcessStamp: Codable, Sendable, Equatable {
    public var pid: Int32
    public var start: UInt64

    public init(pid: Int32, start: UInt64) {
        self.pid = pid
        self.start = start
    }

    /// This process.
    public static func current() -> ProcessStamp {
        let pid = getpid()
        return ProcessStamp(pid: pid, start: status(of: pid)?.start ?? 0)
    }

    /// The same process still runs (and has not ended as a zombie).
    public var isAlive: Bool {
        guard let info = Self.status(of: pid) else { return false }
        return info.start == start && info.state != "Z"
    }

    /// The state letter and start time of a process, from /proc/PID/stat.
    public static func status(of pid: Int32) -> (state: Character, start: UInt64)? {
        guard pid > 0 else { return nil }
        let fd = open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 1024)
        let count = read(fd, &buffer, buffer.count)
        guard count > 0 else { return nil }
        let text = String(decoding: buffer.prefix(count), as: UTF8.self)
        // The command name may hold spaces and parentheses; fields start after the last ')'.
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 19, let state = fields[0].first, let start = UInt64(fields[19]) else { return nil }
        return (state, start)
    }

    /// When process `pid` started, in seconds since the epoch (boot time plus its start
    /// ticks), or nil when there is no such process.
    static func startedAt(_ pid: Int32) -> Double? {
        guard let start = status(of: pid)?.start, let boot = bootTime else { return nil }
        return Double(boot) + Double(start) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    private static var bootTime: Int? {
        guard let file = fopen("/proc/stat", "r") else { return nil }
        defer { fclose(file) }
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0 {
            let text = String(cString: line!)
            if text.hasPrefix("btime ") { return Int(text.dropFirst(6).trimmingTrailingNewline()) }
        }
        return nil
    }
}

private extension Substring {
    func trimmingTrailingNewline() -> Substring { hasSuffix("\n") ? dropLast() : self }
}

/// What a multi-step change is about to do, written before its first kernel change and
/// removed after its last (`intents/ID`), so that a command killed in between can be rolled
/// back: by `system reconcile`, or by the next command that takes the store's lock. Intents
/// are written and removed under the lock, so one found by a lock holder is a dead
/// command's.
public struct IntentRecord: Codable, Sendable {
    public enum Operation: String, Codable, Sendable {
        /// A sandbox's namespace `/run/netns/NAME` is about to be made.
        case createSandbox = "sandbox-create"
    }

    public var id: String
    public var operation: Operation
    public var process: ProcessStamp
    /// The sandbox record the operation ends with (its id and name).
    public var sandboxID: String?
    public var sandboxName: String?
}
