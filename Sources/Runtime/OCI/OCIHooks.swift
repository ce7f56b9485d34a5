import CRuntimeShim
import FoundationEssentials
import Glibc

/// runtime-spec hooks: each program runs with the container's state JSON on its stdin, its
/// stdout and stderr those of the runtime; a non-zero exit or a timeout fails the step.
enum OCIHooks {
    static func run(_ hooks: [RuntimeSpec.Hook]?, kind: String, state: RuntimeState) throws {
        guard let hooks, !hooks.isEmpty else { return }
        let input = Array(try encodeJSONLine(state).utf8)
        for hook in hooks { try run(hook, kind: kind, input: input) }
    }

    private static func run(_ hook: RuntimeSpec.Hook, kind: String, input: [UInt8]) throws {
        let what = "\(kind) hook \(hook.path)"
        var fds: [Int32] = [-1, -1]
        guard shim_pipe_cloexec(&fds) == 0 else { throw RuntimeError.system("\(what): pipe") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds[0], 0)
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
        // The state is small (a pipe holds 64 KiB); a hook that does not read it gets EPIPE.
        signal(SIGPIPE, SIG_IGN)
        _ = input.withUnsafeBytes { write(fds[1], $0.baseAddress, $0.count) }
        close(fds[1])

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
        if let signal { throw RuntimeError("\(what): killed by signal \(signal)") }
        guard code == 0 else { throw RuntimeError("\(what): exit status \(code)") }
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
