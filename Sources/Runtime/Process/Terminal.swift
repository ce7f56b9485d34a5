import CRuntimeShim
import Glibc

/// Relaying a container's pseudo-terminal: to the user's terminal in a foreground run,
/// to the log in a detached one.
enum Terminal {
    /// Raw mode on our stdin while the relay runs; keys go to the container, its output to
    /// our stdout, until the container side closes.
    static func relay(master: Int32, interactive: Bool) {
        var saved = termios()
        let isTerminal = isatty(0) == 1
        if isTerminal {
            tcgetattr(0, &saved)
            var raw = saved
            cfmakeraw(&raw)
            tcsetattr(0, TCSANOW, &raw)
            _ = shim_copy_window_size(0, master)
        }
        defer { if isTerminal { tcsetattr(0, TCSANOW, &saved) } }
        let resized = isTerminal ? shim_window_changes() : -1
        var fds = [pollfd(fd: master, events: Int16(POLLIN), revents: 0), pollfd(fd: interactive ? 0 : -1, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: resized, events: Int16(POLLIN), revents: 0)]
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            if poll(&fds, 3, -1) < 0 {
                if errno == EINTR { continue }
                return
            }
            if fds[2].revents != 0 {
                // Drain the notifications, then pass the new size on.
                while read(resized, &buffer, buffer.count) > 0 {}
                _ = shim_copy_window_size(0, master)
            }
            if fds[0].revents != 0 {
                let count = read(master, &buffer, buffer.count)
                if count <= 0 { return }
                _ = writeAll(1, buffer, count)
            }
            if fds[1].revents != 0 {
                let count = read(0, &buffer, buffer.count)
                if count <= 0 { fds[1].fd = -1 } else { _ = writeAll(master, buffer, count) }
            }
        }
    }

    static func copy(from source: Int32, to target: Int32) {
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let count = retrying { read(source, &buffer, buffer.count) }
            if count <= 0 { return }
            guard writeAll(target, buffer, count) else { return }
        }
    }

    static func writeAll(_ fd: Int32, _ buffer: [UInt8], _ count: Int) -> Bool {
        var written = 0
        while written < count {
            let result = buffer.withUnsafeBytes { bytes in retrying { write(fd, bytes.baseAddress! + written, count - written) } }
            if result <= 0 { return false }
            written += result
        }
        return true
    }
}

/// A console socket: the child opens a terminal from its own /dev/ptmx, keeps the slave as
/// its stdio and sends the master here, to be relayed.
final class Console {
    let parentEnd: Int32
    private(set) var childEnd: Int32

    init() throws {
        var fds: [Int32] = [-1, -1]
        guard shim_console_pair(&fds) == 0 else { throw RuntimeError.system("-t: socketpair") }
        parentEnd = fds[0]
        childEnd = fds[1]
    }

    /// After the spawn: the terminal's master.
    func receiveMaster() throws -> Int32 {
        closeChildEnd()
        let master = shim_receive_fd(parentEnd)
        guard master >= 0 else { throw RuntimeError.system("-t: receive the container's terminal") }
        return master
    }

    func closeChildEnd() {
        if childEnd >= 0 { close(childEnd) }
        childEnd = -1
    }

    deinit {
        closeChildEnd()
        close(parentEnd)
    }
}
