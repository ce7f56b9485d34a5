import Foundation

public struct PodmanResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// Podman with netctl-runc as its OCI runtime, isolated in a temporary directory: its own
/// storage (vfs), run root, tmpdir, containers.conf and the runtime's state (--root), so
/// nothing is shared with the host's podman or another test. The runtime is a small
/// script that adds `--root` (podman's `--runtime-flag` does not reach the cleanup that
/// conmon runs after the container exits).
public final class PodmanSetup {
    public let directory: String
    public let runtime: String
    public let runtimeRoot: String
    public let image = "docker.io/nctest/busybox:latest"

    /// netctl-runc beside the netctl binary under test.
    public static var netctlRunc: String {
        URL(fileURLWithPath: NetctlHarness.binary).deletingLastPathComponent().appendingPathComponent("netctl-runc").path
    }

    /// What podman leaves on the host, as it was before this setup.
    private let leftovers: PodmanLeftovers
    private var cleaned = false

    /// Takes the engine lock (one engine test at a time), given back by `cleanUp`.
    public init() throws {
        takeEngineLock()
        leftovers = PodmanLeftovers.read()
        directory = NSTemporaryDirectory() + uniqueName("netctl-podman-")
        runtimeRoot = directory + "/runc"
        runtime = directory + "/bin/netctl-runc"
        do {
            try writeConfiguration()
        } catch {
            cleanUp()
            throw error
        }
        let loaded: PodmanResult
        do { loaded = try podman("load", "-i", try TestImages.busybox().archive) } catch { cleanUp(); throw error }
        guard loaded.status == 0 else {
            cleanUp()
            throw HarnessError("podman load: \(loaded.stderr)")
        }
    }

    private func writeConfiguration() throws {
        let files = FileManager.default
        try files.createDirectory(atPath: directory + "/bin", withIntermediateDirectories: true)
        try files.createDirectory(atPath: directory + "/tmp", withIntermediateDirectories: true)
        // podman asks the runtime for --log-format json only when it knows the runtime by
        // name; the default nofile ulimit (1048576) is above this host's hard limit, which
        // netctl-runc clamps (crun needs `default_ulimits = []` here instead).
        try """
        [containers]
        [engine]
        cgroup_manager = "cgroupfs"
        events_logger = "file"
        runtime_supports_json = ["netctl-runc"]
        """.write(toFile: directory + "/containers.conf", atomically: true, encoding: .utf8)
        try """
        [storage]
        driver = "vfs"
        runroot = "\(directory)/run"
        graphroot = "\(directory)/storage"
        """.write(toFile: directory + "/storage.conf", atomically: true, encoding: .utf8)
        try """
        #!/bin/sh
        exec '\(Self.netctlRunc)' --root '\(runtimeRoot)' "$@"
        """.write(toFile: runtime, atomically: true, encoding: .utf8)
        try files.setAttributes([.posixPermissions: 0o755], ofItemAtPath: runtime)
    }

    public var environment: [String: String] {
        ["CONTAINERS_CONF": directory + "/containers.conf", "CONTAINERS_STORAGE_CONF": directory + "/storage.conf"]
    }

    public var globalFlags: [String] {
        ["podman", "--root", directory + "/storage", "--runroot", directory + "/run", "--storage-driver", "vfs",
         "--cgroup-manager", "cgroupfs", "--events-backend", "file", "--tmpdir", directory + "/tmp", "--runtime", runtime]
    }

    public func podman(_ arguments: String...) throws -> PodmanResult { try podman(arguments) }

    /// Foundation's Process learns of its child's exit from a socket the child inherits;
    /// conmon (which outlives `podman run -d`) would inherit it too and hold the call until
    /// the container ends. So every descriptor above 2 is closed before podman starts, and
    /// output goes through files.
    public static let closingInheritedDescriptors =
        "for fd in $(ls /proc/$$/fd); do if [ \"$fd\" -gt 2 ]; then eval \"exec $fd>&-\" 2>/dev/null; fi; done; "

    public func podman(_ arguments: [String]) throws -> PodmanResult {
        let output = directory + "/" + uniqueName("output-")
        defer { try? FileManager.default.removeItem(atPath: output + ".out"); try? FileManager.default.removeItem(atPath: output + ".err") }
        let result = try runCommand(["bash", "-c", Self.closingInheritedDescriptors + "\"$@\" </dev/null >'\(output).out' 2>'\(output).err'", "bash"]
                                    + globalFlags + arguments,
                                    environment: environment)
        let read = { (suffix: String) in (try? String(contentsOfFile: output + suffix, encoding: .utf8)) ?? "" }
        return PodmanResult(status: result.status, stdout: read(".out"), stderr: read(".err"))
    }

    /// A podman command under a pseudo-terminal (script(1)), for `run -t`.
    public func podmanWithTerminal(_ arguments: [String]) throws -> CommandResult {
        let line = (globalFlags + arguments).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        return try runCommand(["bash", "-c", Self.closingInheritedDescriptors + "exec \"$@\"", "bash", "timeout", "60", "script", "-qec", line, "/dev/null"],
                              environment: environment)
    }

    /// Pids of processes whose command line names this setup's directory: conmon, the
    /// runtime, podman's cleanup. None should be left.
    public func processes() -> [Int32] {
        let mine = getpid()
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            guard pid != mine, let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            return String(decoding: data, as: UTF8.self).contains(directory)
        }
    }

    /// The processes left after podman's own cleanup (`container cleanup`, which conmon
    /// starts when a container ends, finishes on its own time): waits for them, bounded.
    public func lingeringProcesses() -> [Int32] {
        for _ in 0..<500 {
            if processes().isEmpty { return [] }
            usleep(10_000)
        }
        return processes()
    }

    /// Mounts below this setup's directory.
    public func mounts() -> [String] {
        let table = (try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)) ?? ""
        return table.split(separator: "\n").map { $0.split(separator: " ") }.filter { $0.count > 1 && $0[1].hasPrefix(directory) }.map { String($0[1]) }
    }

    /// Removes every container and image, kills what is left of ours by pid, unmounts and
    /// deletes the directory.
    public func cleanUp() {
        guard !cleaned else { return }
        cleaned = true
        _ = try? podman("rm", "--all", "--force", "--time", "0")
        _ = try? podman("rmi", "--all", "--force")
        for pid in processes() { kill(pid, SIGKILL) }
        for point in mounts().sorted(by: >) { _ = umount2(point, Int32(MNT_DETACH)) }
        try? FileManager.default.removeItem(atPath: directory)
        leftovers.remove()
        giveEngineLock()
    }
}
