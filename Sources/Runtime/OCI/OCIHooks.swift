import CRuntimeShim
import FoundationEssentials
import Glibc

/// runtime-spec hooks: each program runs with the container's state JSON on its stdin; a
/// non-zero exit or a timeout fails the step, with what the hook printed. Its stdout and
/// stderr go to an unlinked file, as runc captures them: not into the runtime's own stdio,
/// which for `create` is the container's log.
enum OCIHooks {
    static func run(_ hooks: [RuntimeSpec.Hook]?, kind: String, state: RuntimeState) throws {
        guard let hooks, !hooks.isEmpty else { return }
        let input = Array(try encodeJSONLine(state).utf8)
        for hook in hooks { try run(hook, kind: kind, input: input) }
    }

    /// Writes the state to a hook's stdin; a hook that does not read it gets EPIPE, not
    /// SIGPIPE for us (the state is small: a pipe holds 64 KiB).
    static func feed(_ fd: Int32, _ input: [UInt8]) {
        signal(SIGPIPE, SIG_IGN)
        _ = input.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    private static func run(_ hook: RuntimeSpec.Hook, kind: String, input: [UInt8]) throws {
        let what = "\(kind) hook \(hook.path)"
        var fds: [Int32] = [-1, -1]
        guard shim_pipe_cloexec(&fds) == 0 else { throw RuntimeError.system("\(what): pipe") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds[0], 0)
        let output = try outputFile(what: what)
        defer { close(output) }
        posix_spawn_file_actions_adddup2(&actions, output, 1)
        posix_spawn_file_actions_adddup2(&actions, output, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv = (hook.args?.isEmpty == false ? hook.args! : [hook.path])
        var pid: pid_t = 0
        let error = withCStrings(argv) { argv in
            withCStrings(hook.env ?? []) { envp in posix_spawn(&pid, hook.path, &actions, &attributes, argv, envp) }
        }
        close(fds[0])
        guard error == 0 else {
            close(fds[1])
            throw RuntimeError("\(what): \(String(cString: strerror(error)))")
        }
        feed(fds[1], input)

        try wait(pid, for: hook, what: what, output: output)
    }

    /// An unlinked temporary file for a hook's stdout and stderr.
    static func outputFile(what: String) throws -> Int32 {
        let directory = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        var template = Array("\(directory)/netctl-hook-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw RuntimeError.system("\(what): a file for its output in \(directory)") }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        return fd
    }

    /// The first 2 KiB a hook printed, on one line.
    private static func printed(_ fd: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 2048)
        let count = pread(fd, &buffer, buffer.count, 0)
        guard count > 0 else { return "" }
        let text = String(decoding: buffer[0..<count], as: UTF8.self)
        return text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters() }.filter { !$0.isEmpty }.joined(separator: "; ")
    }

    /// Waits for a hook's process, within its timeout (killed after it): its failure is
    /// an error naming the hook.
    static func wait(_ pid: pid_t, for hook: RuntimeSpec.Hook, what: String, output: Int32) throws {
        let deadline = hook.timeout.map { monotonicSeconds() + Double(max($0, 1)) }
        var status: Int32 = 0
        while true {
            let result = waitpid(pid, &status, deadline == nil ? 0 : WNOHANG)
            if result == pid { break }
            if result < 0 && errno != EINTR { throw RuntimeError.system("\(what): wait") }
            if let deadline, monotonicSeconds() > deadline {
                kill(pid, SIGKILL)
                _ = retrying { waitpid(pid, &status, 0) }
                throw RuntimeError("\(what): timed out after \(hook.timeout!) s")
            }
            if deadline != nil { usleep(2_000) }
        }
        let (code, signal) = Launcher.decode(status)
        let said = printed(output)
        let detail = said.isEmpty ? "" : ": \(said)"
        if let signal { throw RuntimeError("\(what): killed by signal \(signal)\(detail)") }
        guard code == 0 else { throw RuntimeError("\(what): exit status \(code)\(detail)") }
    }

    static func monotonicSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }

    /// NULL-terminated C strings for the length of `body`.
    static func withCStrings<T>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> T) -> T {
        let copies = strings.map { strdup($0) } + [nil]
        defer { copies.forEach { free($0) } }
        return body(copies)
    }
}

/// One line of JSON, as runc prints state and hooks read it.
func encodeJSONLine<T: Encodable>(_ value: T) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}
