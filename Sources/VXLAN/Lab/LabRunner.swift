import Glibc
import Netlink
import Synchronization

/// The lab's processes: commands run to their end (netctl on a host, tcpdump, ping) and
/// services left running (agents), all spawned fresh with posix_spawn, never forked, and
/// stopped by pid.
enum LabRunner {
    struct Result: Sendable {
        var status: Int32
        var output: String
        var error: String
        /// The last line of standard error, or of standard output: what a failure says.
        var reason: String {
            let text = error.isEmpty ? output : error
            return text.split(separator: "\n").last.map { String($0).labReplacingPrefix("Error: ", with: "") } ?? "no output"
        }
    }

    /// Runs `argv` to its end with its output collected. `environment` replaces this
    /// process's when given.
    static func run(_ argv: [String], environment: [String: String]? = nil) throws -> Result {
        // Output goes to unlinked files opened close-on-exec: a pipe's write end could leak
        // into a child another thread spawns at the same moment and hold its reader open.
        let output = try anonymousFile(), errors = try anonymousFile()
        defer { close(output); close(errors) }
        let pid = try spawn(argv, environment: environment, stdin: nil, stdout: output, stderr: errors, newSession: false)
        let status = wait(pid)
        return Result(status: status, output: readAll(output), error: readAll(errors))
    }

    private static func anonymousFile() throws -> Int32 {
        let path = "/tmp/netctl-lab-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw LabError("\(path): \(String(cString: strerror(errno)))") }
        unlink(path)
        return fd
    }

    private static func readAll(_ fd: Int32) -> String {
        lseek(fd, 0, SEEK_SET)
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = read(fd, &chunk, chunk.count)
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            bytes += chunk[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Starts `argv` in a session of its own with its output appended to `log`, and
    /// returns at once: a service that outlives this process.
    /// `environment` nil: this process's own.
    static func startService(_ argv: [String], environment: [String: String]?, log: String) throws -> pid_t {
        let fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw LabError("\(log): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        return try spawn(argv, environment: environment, stdin: nil, stdout: fd, stderr: fd, newSession: true)
    }

    /// Marks every descriptor above stderr close-on-exec. Services the lab leaves running
    /// (etcd, agents) must not hold what netctl's caller gave it: Foundation's Process, for
    /// one, waits for a socket it hands each child to close, and would wait for etcd.
    static func keepDescriptorsFromChildren() {
        for name in Directory.names(in: "/proc/self/fd") {
            guard let fd = Int32(name), fd > 2 else { continue }
            let flags = fcntl(fd, F_GETFD)
            if flags >= 0 { _ = fcntl(fd, F_SETFD, flags | FD_CLOEXEC) }
        }
    }

    /// The exit status of a child: its code, or 128 + the signal that ended it.
    static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 { if errno != EINTR { return -1 } }
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    private static func spawn(_ argv: [String], environment: [String: String]?, stdin: Int32?, stdout: Int32, stderr: Int32,
                              newSession: Bool) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let stdin { posix_spawn_file_actions_adddup2(&actions, stdin, 0) } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | (newSession ? spawnSetSID : 0)))
        let environ = environment.map { $0.map { "\($0.key)=\($0.value)" } } ?? currentEnvironment()
        var pid: pid_t = 0
        let error = LabRunner.withCStrings(argv) { argv in
            LabRunner.withCStrings(environ) { envp in posix_spawnp(&pid, argv[0]!, &actions, &attributes, argv, envp) }
        }
        guard error == 0 else { throw LabError("\(argv[0]): \(String(cString: strerror(error)))") }
        return pid
    }

    /// POSIX_SPAWN_SETSID (glibc 2.26), which Glibc's module leaves out with the GNU extensions.
    private static let spawnSetSID: Int32 = 0x80

    static func currentEnvironment() -> [String] {
        var result: [String] = []
        var index = 0
        while let entry = environ[index] {
            result.append(String(cString: entry))
            index += 1
        }
        return result
    }

    /// This process's environment as a dictionary.
    static func environmentDictionary() -> [String: String] {
        var result: [String: String] = [:]
        for entry in currentEnvironment() {
            guard let equals = entry.firstIndex(of: "=") else { continue }
            result[String(entry[..<equals])] = String(entry[entry.index(after: equals)...])
        }
        return result
    }

    /// The path of the running binary (for `netctl` on a lab host: this same build).
    static var ownExecutable: String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/self/exe", &buffer, Int(PATH_MAX))
        return count > 0 ? String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self) : "netctl"
    }

    static func withCStrings<T>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> T) -> T {
        var pointers = strings.map { strdup($0) }
        pointers.append(nil)
        defer { pointers.forEach { free($0) } }
        return body(pointers)
    }

    /// Runs `body` for every item at once, a thread each: the work is mostly waiting for
    /// child processes (netctl on a host) and the kernel, so the items must not queue for
    /// the two cores as they would on a pool. The first error is thrown once all finished.
    static func inParallel<T: Sendable>(_ items: [T], _ body: @escaping @Sendable (T) throws -> Void) throws {
        let failure = FirstError()
        let threads = items.map { item in
            Threads.start {
                do { try body(item) } catch { failure.record(error) }
            }
        }
        threads.forEach { Threads.join($0) }
        if let error = failure.error { throw error }
    }

    /// Runs two pieces of work at once; the first error is thrown once both finished.
    static func together(_ first: () throws -> Void, _ second: @escaping @Sendable () throws -> Void) throws {
        let failure = FirstError()
        let thread = Threads.start {
            do { try second() } catch { failure.record(error) }
        }
        do { try first() } catch { failure.record(error) }
        Threads.join(thread)
        if let error = failure.error { throw error }
    }
}

/// The first error of several threads.
private final class FirstError: Sendable {
    private let value = Mutex<(any Error)?>(nil)
    func record(_ error: any Error) { value.withLock { if $0 == nil { $0 = error } } }
    var error: (any Error)? { value.withLock { $0 } }
}

/// A plain thread (Foundation's Thread is not in FoundationEssentials).
/// A process the lab started, by pid and start time, so that a pid the kernel has since
/// handed to another process is never signalled.
public struct LabProcessStamp: Codable, Sendable, Equatable {
    public var pid: Int32
    public var startTime: UInt64

    init?(pid: Int32) {
        guard let start = Self.startTime(of: pid) else { return nil }
        self.pid = pid
        startTime = start
    }

    /// Still running, and still the process that was started.
    public var isAlive: Bool { Self.startTime(of: pid) == startTime && !Self.isZombie(pid) }

    /// SIGTERM, then SIGKILL after `grace` seconds; reaps it when it is a child.
    func stop(grace: Double = 3) {
        guard isAlive else { return }
        kill(pid, SIGTERM)
        var waited = 0.0
        while waited < grace {
            if waitpid(pid, nil, WNOHANG) == pid || !isAlive { return }
            usleep(20_000)
            waited += 0.02
        }
        if isAlive { kill(pid, SIGKILL) }
        _ = waitpid(pid, nil, WNOHANG)
    }

    /// Field 22 of /proc/PID/stat: when the process started, in clock ticks since boot.
    static func startTime(of pid: Int32) -> UInt64? {
        guard let text = try? LabFiles.read("/proc/\(pid)/stat", limit: 4096),
              let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // After the command come the state (field 3) … starttime (field 22).
        return fields.count > 19 ? UInt64(fields[19]) : nil
    }

    static func isZombie(_ pid: Int32) -> Bool {
        guard let text = try? LabFiles.read("/proc/\(pid)/stat", limit: 4096), let close = text.lastIndex(of: ")") else { return true }
        return text[text.index(after: close)...].split(separator: " ").first == "Z"
    }
}

extension String {
    func labReplacingPrefix(_ prefix: String, with replacement: String) -> String {
        hasPrefix(prefix) ? replacement + dropFirst(prefix.count) : self
    }
}
