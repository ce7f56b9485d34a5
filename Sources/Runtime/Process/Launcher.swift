import CRuntimeShim
import Glibc

/// Starts a process through CRuntimeShim and waits until it has either exec'd (the report
/// pipe closes with nothing on it) or failed at a named step.
enum Launcher {
    /// The pid of the process that runs the command (for an exec, the grandchild).
    static func spawn(_ plan: LaunchPlan, what: String) throws -> pid_t {
        var pipeFDs: [Int32] = [-1, -1]
        guard shim_pipe_cloexec(&pipeFDs) == 0 else { throw RuntimeError.system("pipe") }
        var mapsFDs: [Int32] = [-1, -1]
        if plan.idMaps != nil, shim_pipe_cloexec(&mapsFDs) != 0 {
            close(pipeFDs[0])
            close(pipeFDs[1])
            throw RuntimeError.system("pipe")
        }
        let child = plan.withConfig(reportFD: pipeFDs[1], userNamespaceSyncFD: mapsFDs[0]) { shim_spawn($0) }
        let spawnError = errno
        close(pipeFDs[1])
        if mapsFDs[0] >= 0 { close(mapsFDs[0]) }
        defer { close(pipeFDs[0]) }
        guard child > 0 else {
            if mapsFDs[1] >= 0 { close(mapsFDs[1]) }
            throw RuntimeError.system("\(what): clone", spawnError)
        }
        if let maps = plan.idMaps {
            // The child waits for its user namespace's maps; closing the pipe without the
            // byte makes it give up.
            defer { close(mapsFDs[1]) }
            do {
                try writeFile(Array(maps.uid.utf8), to: "/proc/\(child)/uid_map")
                try writeFile(Array(maps.gid.utf8), to: "/proc/\(child)/gid_map")
            } catch {
                kill(child, SIGKILL)
                var status: Int32 = 0
                _ = retrying { waitpid(child, &status, 0) }
                throw RuntimeError("\(what): writing the user namespace's id maps: \(error)")
            }
            _ = retrying { write(mapsFDs[1], "1", 1) }
        }

        var target = child
        var report = shim_report()
        while true {
            let count = withUnsafeMutableBytes(of: &report) { bytes in
                retrying { read(pipeFDs[0], bytes.baseAddress, bytes.count) }
            }
            if count == 0 { break }
            guard count == MemoryLayout<shim_report>.size else {
                throw RuntimeError.system("\(what): reading the start report")
            }
            if report.kind == Int32(SHIM_REPORT_PID) {
                target = report.pid
                continue
            }
            // Set up and waiting for `start`: what follows is for the start to see.
            if report.kind == Int32(SHIM_REPORT_READY) { break }
            // The child failed: reap it (and a grandchild that got as far as being one).
            var status: Int32 = 0
            _ = retrying { waitpid(target, &status, 0) }
            if target != child { _ = retrying { waitpid(child, &status, 0) } }
            throw failure(report, what: what)
        }
        if target != child {
            // The process in the middle exits as soon as it has passed the pid on.
            var status: Int32 = 0
            _ = retrying { waitpid(child, &status, 0) }
        }
        return target
    }

    private static func failure(_ report: shim_report, what: String) -> RuntimeError {
        let step = withUnsafeBytes(of: report.step) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        let detail = withUnsafeBytes(of: report.detail) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        let reason = String(cString: strerror(report.error))
        if step == "exec" {
            // As Docker words them, with its exit codes.
            if report.error == ENOENT {
                let message = detail.contains("/") ? "no such file or directory" : "executable file not found in $PATH"
                return RuntimeError("\(what): exec: \"\(detail)\": \(message)", exitCode: 127)
            }
            return RuntimeError("\(what): exec: \"\(detail)\": \(reason.lowercased())", exitCode: 126)
        }
        return RuntimeError("\(what): \(step)\(detail.isEmpty ? "" : " \(detail)"): \(reason)")
    }

    /// waitpid until the process ends: its exit code, or 128 + the signal, as a shell.
    /// Waits for a process this one started in the foreground (a bundle's, an exec'd
    /// command) with this one's signals forwarded to it and, with a console, its terminal
    /// relayed to this one's: its exit code.
    static func waitForwarding(_ pid: pid_t, console: Console?, interactive: Bool) throws -> Int32 {
        shim_forward_signals(pid)
        defer { shim_forward_signals(-1) }
        if let console {
            let master = try console.receiveMaster()
            Terminal.relay(master: master, interactive: interactive)
            close(master)
        }
        return wait(pid).code
    }

    static func wait(_ pid: pid_t) -> (code: Int32, signal: Int32?) {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return (255, nil) }
        }
        return decode(status)
    }

    static func decode(_ status: Int32) -> (code: Int32, signal: Int32?) {
        let signal = status & 0x7f
        if signal == 0 { return ((status >> 8) & 0xff, nil) }
        return (128 + signal, signal)
    }
}
