import Glibc

/// `--memory`, `--cpus`, `--pids-limit` as numbers.
public struct ResourceLimits: Codable, Sendable, Equatable {
    public var memory: Int64?
    public var nanoCPUs: Int64?
    public var pids: Int64?

    public init(memory: Int64? = nil, nanoCPUs: Int64? = nil, pids: Int64? = nil) {
        self.memory = memory
        self.nanoCPUs = nanoCPUs
        self.pids = pids
    }
}

/// A container's cgroups on whichever layout the host has:
/// - v2 (/sys/fs/cgroup is cgroup2): one directory, /sys/fs/cgroup/netctl/ID;
/// - v1, and the hybrid layout (v1 controllers, plus a cgroup2 mount at
///   /sys/fs/cgroup/unified that holds no controllers we use): one directory per
///   controller, below the cgroup netctl itself runs in, so a limit on netctl's own cgroup
///   still holds for its containers.
public struct Cgroups: Codable, Sendable {
    public var version: Int
    public var directories: [String]

    static let mount = "/sys/fs/cgroup"

    /// Makes the directories and writes the limits; a limit the host cannot apply is an
    /// error that says which and why, and nothing is left behind. Without limits there is
    /// nothing to make: the container stays in the cgroup of whoever started it. (Moving a
    /// process into a new v1 cgroup can cost a whole RCU grace period, about 9 ms here,
    /// more than the rest of `run`.)
    static func create(for id: String, limits: ResourceLimits) throws -> Cgroups? {
        if limits == ResourceLimits() { return nil }
        var made = Cgroups(version: isUnified ? 2 : 1, directories: [])
        do {
            if made.version == 2 {
                try made.createV2(id: id, limits: limits)
            } else {
                try made.createV1(id: id, limits: limits)
            }
        } catch {
            made.remove()
            throw error
        }
        return made
    }

    /// The directories `create` makes for these limits, known before any exists, so that a
    /// container's record can name them first: a command killed while making them leaves
    /// nothing its record does not name.
    static func planned(for id: String, limits: ResourceLimits) -> Cgroups? {
        if limits == ResourceLimits() { return nil }
        if isUnified { return Cgroups(version: 2, directories: ["\(mount)/netctl/\(id)"]) }
        let own = ownV1Paths()
        return Cgroups(version: 1, directories: v1Controllers(limits).map { v1Parent($0, own: own) + "/\(id)" })
    }

    static var isUnified: Bool { access("\(mount)/cgroup.controllers", F_OK) == 0 }

    private static func v1Controllers(_ limits: ResourceLimits) -> [String] {
        [("memory", limits.memory != nil), ("pids", limits.pids != nil), ("cpu", limits.nanoCPUs != nil)].filter(\.1).map(\.0)
    }

    /// netctl's folder in a v1 hierarchy: below the cgroup this process runs in.
    private static func v1Parent(_ controller: String, own: [String: String]) -> String {
        "\(mount)/\(controller)" + (own[controller].map { $0 == "/" ? "" : $0 } ?? "") + "/netctl"
    }

    /// For `system info`: v2, v1, or v1 with a cgroup2 mount beside it (hybrid).
    public static var layoutDescription: String {
        if isUnified { return "v2 (\(mount))" }
        if access("\(mount)/unified/cgroup.controllers", F_OK) == 0 { return "hybrid: v1 controllers, cgroup2 at \(mount)/unified" }
        return "v1"
    }

    private mutating func createV2(id: String, limits: ResourceLimits) throws {
        let base = "\(Self.mount)/netctl"
        if mkdir(base, 0o755) != 0 && errno != EEXIST { throw RuntimeError.system("cgroup \(base)") }
        let wanted = ["memory", "pids", "cpu"]
        let available = (try? String(decoding: readFile("\(Self.mount)/cgroup.controllers", name: "cgroup.controllers", limit: .text), as: UTF8.self)) ?? ""
        let enable = wanted.filter { available.split(separator: " ").map { $0.trimmingCharacters() }.contains($0) }
        for directory in [Self.mount, base] {
            _ = try? write(enable.map { "+\($0)" }.joined(separator: " "), to: "\(directory)/cgroup.subtree_control")
        }
        let directory = "\(base)/\(id)"
        guard mkdir(directory, 0o755) == 0 else { throw RuntimeError.system("cgroup \(directory)") }
        directories = [directory]
        if let memory = limits.memory {
            try require("memory", in: enable, flag: "--memory")
            try write(String(memory), to: "\(directory)/memory.max")
            _ = try? write("0", to: "\(directory)/memory.swap.max")
        }
        if let pids = limits.pids {
            try require("pids", in: enable, flag: "--pids-limit")
            try write(pids < 0 ? "max" : String(pids), to: "\(directory)/pids.max")
        }
        if let cpus = limits.nanoCPUs {
            try require("cpu", in: enable, flag: "--cpus")
            try write("\(cpus / 10_000) 100000", to: "\(directory)/cpu.max")
        }
    }

    private mutating func createV1(id: String, limits: ResourceLimits) throws {
        let own = Self.ownV1Paths()
        for controller in Self.v1Controllers(limits) {
            let root = "\(Self.mount)/\(controller)"
            guard access("\(root)/cgroup.procs", F_OK) == 0 else {
                throw RuntimeError("\(flag(for: controller)): this host has no \(controller) cgroup controller mounted at \(root)")
            }
            var directory = Self.v1Parent(controller, own: own)
            if mkdir(directory, 0o755) != 0 && errno != EEXIST { throw RuntimeError.system("cgroup \(directory)") }
            directory += "/\(id)"
            guard mkdir(directory, 0o755) == 0 else { throw RuntimeError.system("cgroup \(directory)") }
            directories.append(directory)
            switch controller {
            case "memory":
                if let memory = limits.memory {
                    try write(String(memory), to: "\(directory)/memory.limit_in_bytes")
                    // No swap beyond the limit, so the limit ends in an OOM kill as on v2.
                    if access("\(directory)/memory.memsw.limit_in_bytes", F_OK) == 0 {
                        try write(String(memory), to: "\(directory)/memory.memsw.limit_in_bytes")
                    }
                }
            case "pids":
                if let pids = limits.pids { try write(pids < 0 ? "max" : String(pids), to: "\(directory)/pids.max") }
            case "cpu":
                if let cpus = limits.nanoCPUs {
                    try write("100000", to: "\(directory)/cpu.cfs_period_us")
                    try write(String(cpus / 10_000), to: "\(directory)/cpu.cfs_quota_us")
                }
            default: break
            }
        }
    }

    private func flag(for controller: String) -> String {
        ["memory": "--memory", "pids": "--pids-limit", "cpu": "--cpus"][controller] ?? controller
    }

    private func require(_ controller: String, in enabled: [String], flag: String) throws {
        guard enabled.contains(controller) else {
            throw RuntimeError("\(flag): the \(controller) controller is not available in \(Self.mount)/cgroup.controllers")
        }
    }

    /// This process's cgroup in each v1 hierarchy, from /proc/self/cgroup.
    static func ownV1Paths() -> [String: String] {
        guard let bytes = try? readFile("/proc/self/cgroup", name: "/proc/self/cgroup", limit: .text) else { return [:] }
        var paths: [String: String] = [:]
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            for controller in fields[1].split(separator: ",") { paths[String(controller)] = String(fields[2]) }
        }
        return paths
    }

    /// Open cgroup.procs files: the child writes "0" to each to move itself in.
    func procsDescriptors() throws -> [Int32] {
        var fds: [Int32] = []
        for directory in directories {
            let fd = open("\(directory)/cgroup.procs", O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else {
                fds.forEach { close($0) }
                throw RuntimeError.system("cgroup \(directory)")
            }
            fds.append(fd)
        }
        return fds
    }

    /// Whether the kernel's OOM killer killed a process of this container.
    func oomKilled() -> Bool {
        for directory in directories {
            for file in ["memory.events", "memory.oom_control"] {
                guard let bytes = try? readFile("\(directory)/\(file)", name: file, limit: .text) else { continue }
                for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
                    let fields = line.split(separator: " ")
                    if fields.count == 2, fields[0] == "oom_kill", let count = Int(fields[1]), count > 0 { return true }
                }
            }
        }
        return false
    }

    /// Signals every process left in the container's cgroups (an exec'd process that
    /// outlived PID 1 is killed with its pid namespace; this covers the host network case).
    func killAll() {
        for directory in directories {
            guard let bytes = try? readFile("\(directory)/cgroup.procs", name: "cgroup.procs", limit: .text) else { continue }
            for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
                if let pid = Int32(line) { kill(pid, SIGKILL) }
            }
        }
    }

    /// rmdir, retried briefly while the last processes are being reaped.
    func remove() {
        for directory in directories {
            for _ in 0..<200 {
                if rmdir(directory) == 0 || errno == ENOENT { break }
                if errno != EBUSY { break }
                usleep(5_000)
            }
        }
    }

    func write(_ text: String, to path: String) throws {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw RuntimeError.system("cgroup \(path)") }
        defer { close(fd) }
        let written = text.withCString { Glibc.write(fd, $0, strlen($0)) }
        guard written >= 0 else { throw RuntimeError.system("cgroup: write \(text) to \(path)") }
    }
}

extension Cgroups {
    /// A `cgroup` mount for a container at `target` (host path, before pivot_root): on v2
    /// a cgroup2 mount; on v1 and hybrid hosts a tmpfs with each v1 hierarchy bound below
    /// it read-only, the container's own cgroup where it has one, as runc and crun do.
    func mounts(at target: String, flags: UInt) -> [LaunchPlan.Mount] {
        if version == 2 {
            return [.init(source: "cgroup", target: target, type: "cgroup2", flags: flags, data: nil)]
        }
        let nosuidNodevNoexec = UInt(MS_NOSUID | MS_NODEV | MS_NOEXEC)
        var mounts: [LaunchPlan.Mount] = [.init(source: "cgroup", target: target, type: "tmpfs", flags: nosuidNodevNoexec, data: "size=1024k")]
        guard let bytes = try? readFile("/proc/self/mounts", name: "/proc/self/mounts", limit: .text) else { return mounts }
        let own = Self.ownV1Paths()
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count >= 4, fields[2] == "cgroup", fields[1].hasPrefix("\(Self.mount)/") else { continue }
            let mountpoint = String(fields[1])
            let name = String(mountpoint.dropFirst(Self.mount.count + 1))
            let keys = fields[3].split(separator: ",").map(String.init)
            let source = directories.first { $0.hasPrefix(mountpoint + "/") }
                ?? keys.compactMap { own[$0] }.first.map { mountpoint + ($0 == "/" ? "" : $0) } ?? mountpoint
            mounts.append(.init(source: source, target: "\(target)/\(name)", type: nil,
                                flags: UInt(MS_BIND | MS_REC | MS_RDONLY) | nosuidNodevNoexec, data: nil, makeDirectory: true))
        }
        return mounts
    }
}
