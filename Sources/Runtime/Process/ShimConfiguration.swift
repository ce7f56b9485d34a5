import CRuntimeShim
import Security
import Glibc

/// Everything the child needs, prepared in Swift: what CRuntimeShim's `shim_config` holds,
/// as Swift values. `withConfig` lays it out in C memory that lives as long as the call.
struct LaunchPlan {
    struct Mount {
        var source: String?
        var target: String
        var type: String?
        var flags: UInt
        var data: String?
        var optional = false
        var makeDirectory = false
    }

    struct Device {
        var path: String
        var major: UInt32
        var minor: UInt32
        /// Permissions, with the file type (S_IFCHR, S_IFBLK, S_IFIFO) or none for a character device.
        var mode: UInt32 = 0o666
        var uid: UInt32 = 0
        var gid: UInt32 = 0
    }

    var cloneFlags: Int32 = 0
    var namespaces: [(fd: Int32, type: Int32)] = []
    var forkAfterSetns = false
    var cgroupFDs: [Int32] = []
    var stdio: [Int32] = [-1, -1, -1]
    var consoleSocket: Int32 = -1
    var newSession = false
    var parentDeathSignal: Int32 = 0

    var rootfs: String?
    var rootPropagation: UInt = 0
    var mounts: [Mount] = []
    /// How many of `mounts` come before the devices and symlinks are made (nil: all of
    /// them); the rest are the user's, which may bring host directories in.
    var systemMountCount: Int?
    var devices: [Device] = []
    var symlinks: [(target: String, path: String)] = []
    var maskedPaths: [String] = []
    var readonlyPaths: [String] = []
    var readonlyRoot = false

    var hostname: String?
    var loopbackUp = false
    /// linux.sysctl, keys as runtime-spec writes them (net.ipv4.ip_forward).
    var sysctls: [(key: String, value: String)] = []
    var preserveFDs: Int32 = 0
    var rlimits: [(resource: Int32, soft: UInt64, hard: UInt64)] = []

    var uid: UInt32 = 0
    var gid: UInt32 = 0
    var groups: [UInt32] = []
    var cwd: String?

    var capabilities: CapabilitySets?
    var noNewPrivileges = false
    var apparmorProfile: String?
    var seccompFilter: [UInt8]?
    var startFIFO: Int32 = -1
    /// With CLONE_NEWUSER: the lines of the new namespace's uid_map and gid_map
    /// ("CONTAINER HOST SIZE"), which the parent writes before the child goes on.
    var idMaps: (uid: String, gid: String)?

    var argv: [String] = []
    var env: [String] = []

    /// $PATH from the container's environment, searched by the child for argv[0].
    var searchPath: String? {
        env.last { $0.hasPrefix("PATH=") }.map { String($0.dropFirst(5)) }
    }

    func withConfig<T>(reportFD: Int32, userNamespaceSyncFD: Int32 = -1, _ body: (UnsafePointer<shim_config>) throws -> T) rethrows -> T {
        let memory = CMemory()
        defer { memory.release() }
        var c = shim_config()
        c.clone_flags = cloneFlags
        c.namespace_fds = memory.array(namespaces.map(\.fd))
        c.namespace_types = memory.array(namespaces.map(\.type))
        c.namespace_count = Int32(namespaces.count)
        c.fork_after_setns = forkAfterSetns ? 1 : 0
        c.cgroup_fds = memory.array(cgroupFDs)
        c.cgroup_count = Int32(cgroupFDs.count)
        c.stdio = (stdio[0], stdio[1], stdio[2])
        c.console_socket = consoleSocket
        c.new_session = newSession ? 1 : 0
        c.parent_death_signal = parentDeathSignal
        c.rootfs = rootfs.map(memory.string)
        c.root_propagation = rootPropagation
        c.mounts = memory.array(mounts.map { mount in
            shim_mount(source: mount.source.map(memory.string), target: memory.string(mount.target),
                       fstype: mount.type.map(memory.string), flags: mount.flags, data: mount.data.map(memory.string),
                       optional: mount.optional ? 1 : 0, make_directory: mount.makeDirectory ? 1 : 0)
        })
        c.mount_count = Int32(mounts.count)
        c.system_mount_count = Int32(systemMountCount ?? mounts.count)
        c.devices = memory.array(devices.map { device in
            shim_device(path: memory.string(device.path), mode: device.mode & 0o170000 == 0 ? 0o020000 | device.mode : device.mode,
                        major: device.major, minor: device.minor, uid: device.uid, gid: device.gid)
        })
        c.device_count = Int32(devices.count)
        c.symlinks = memory.array(symlinks.map { shim_symlink(target: memory.string($0.target), path: memory.string($0.path)) })
        c.symlink_count = Int32(symlinks.count)
        c.masked_paths = memory.stringArray(maskedPaths)
        c.masked_count = Int32(maskedPaths.count)
        c.readonly_paths = memory.stringArray(readonlyPaths)
        c.readonly_count = Int32(readonlyPaths.count)
        c.readonly_root = readonlyRoot ? 1 : 0
        c.hostname = hostname.map(memory.string)
        c.loopback_up = loopbackUp ? 1 : 0
        c.sysctl_keys = memory.stringArray(sysctls.map { String($0.key.map { $0 == "." ? "/" : $0 }) })
        c.sysctl_values = memory.stringArray(sysctls.map(\.value))
        c.sysctl_count = Int32(sysctls.count)
        c.preserve_fds = preserveFDs
        c.rlimits = memory.array(rlimits.map { shim_rlimit(resource: $0.resource, limit: rlimit(rlim_cur: rlim_t($0.soft), rlim_max: rlim_t($0.hard))) })
        c.rlimit_count = Int32(rlimits.count)
        c.uid = uid
        c.gid = gid
        c.groups = memory.array(groups)
        c.group_count = Int32(groups.count)
        c.cwd = cwd.map(memory.string)
        if let capabilities {
            c.set_capabilities = 1
            c.cap_bounding = capabilities.bounding
            c.cap_effective = capabilities.effective
            c.cap_permitted = capabilities.permitted
            c.cap_inheritable = capabilities.inheritable
            c.cap_ambient = capabilities.ambient
        }
        c.no_new_privileges = noNewPrivileges ? 1 : 0
        c.apparmor_profile = apparmorProfile.map(memory.string)
        if let seccompFilter {
            c.seccomp_filter = UnsafeRawPointer(memory.array(seccompFilter))
            c.seccomp_length = UInt16(seccompFilter.count / 8)
        }
        c.start_fifo_fd = startFIFO
        c.userns_sync_fd = userNamespaceSyncFD
        c.argv = memory.mutableStringArray(argv)
        c.envp = memory.mutableStringArray(env)
        c.path = searchPath.map(memory.string)
        c.report_fd = reportFD
        return try body(&c)
    }
}

/// C memory for one launch, freed together.
private final class CMemory {
    private var blocks: [UnsafeMutableRawPointer] = []

    func string(_ text: String) -> UnsafePointer<CChar> {
        let copy = strdup(text)!
        blocks.append(copy)
        return UnsafePointer(copy)
    }

    func array<T>(_ items: [T]) -> UnsafePointer<T>? {
        if items.isEmpty { return nil }
        let pointer = UnsafeMutablePointer<T>.allocate(capacity: items.count)
        pointer.initialize(from: items, count: items.count)
        blocks.append(UnsafeMutableRawPointer(pointer))
        return UnsafePointer(pointer)
    }

    func stringArray(_ items: [String]) -> UnsafePointer<UnsafePointer<CChar>?>? {
        array(items.map { Optional(string($0)) })
    }

    /// NULL-terminated, as execve wants argv and envp.
    func mutableStringArray(_ items: [String]) -> UnsafePointer<UnsafeMutablePointer<CChar>?>? {
        array(items.map { Optional(UnsafeMutablePointer(mutating: string($0))) } + [nil])
    }

    func release() {
        for block in blocks { free(block) }
        blocks.removeAll()
    }
}

extension LaunchPlan {
    /// Joins a running container's process `pid`: its namespaces that are not this
    /// process's own (user first, mount last; pid by a second clone, as setns on a pid
    /// namespace moves only children) and its cgroups. Descriptors it opens are added to
    /// `opened`, for the caller to close after the spawn.
    mutating func join(_ pid: pid_t, cgroups: Cgroups?, container: String, opened: inout [Int32]) throws {
        var kinds: [(String, Int32)] = [("ipc", SHIM_CLONE_NEWIPC), ("uts", SHIM_CLONE_NEWUTS), ("net", SHIM_CLONE_NEWNET),
                                        ("pid", SHIM_CLONE_NEWPID), ("cgroup", SHIM_CLONE_NEWCGROUP), ("mnt", SHIM_CLONE_NEWNS)]
        if access("/proc/\(pid)/ns/user", F_OK) == 0 { kinds.insert(("user", SHIM_CLONE_NEWUSER), at: 0) }
        for (name, type) in kinds where !Self.sameNamespace(pid, name) {
            let fd = open("/proc/\(pid)/ns/\(name)", O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw RuntimeError.system("container \(container): \(name) namespace") }
            opened.append(fd)
            namespaces.append((fd, type))
        }
        forkAfterSetns = true
        if let cgroups {
            cgroupFDs = try cgroups.procsDescriptors()
            opened += cgroupFDs
        }
    }

    /// Whether `pid` is in this process's namespace of `kind`.
    static func sameNamespace(_ pid: Int32, _ kind: String) -> Bool {
        var theirs = stat(), ours = stat()
        guard stat("/proc/\(pid)/ns/\(kind)", &theirs) == 0, stat("/proc/self/ns/\(kind)", &ours) == 0 else { return false }
        return theirs.st_ino == ours.st_ino && theirs.st_dev == ours.st_dev
    }
}
