import CNM
import CRuntimeShim
import Glibc
import Security

/// `netctl runtime …`: runc's command line over an OCI bundle (config.json as `runc spec`
/// writes it, and a rootfs), so the same bundle runs under runc, crun and netctl.
/// Containers made here have no CNM networking of their own: the bundle says which
/// namespaces to make or join.
public final class OCIRuntime {
    let store: any Store
    let storage: String
    /// Compiled linux.seccomp filters, shared with `run`'s.
    let filters: SeccompCache
    /// How runc itself behaves, for `netctl-runc` (engines' conventions); off for
    /// `netctl runtime`, whose behaviour its own tests fix.
    public var runcCompatible = false
    /// `--systemd-cgroup`: linux.cgroupsPath is "slice:prefix:name", mapped to cgroupfs.
    public var systemdCgroup = false
    /// Warnings (an rlimit clamped): to runc's --log.
    public var warn: (String) -> Void = { _ in }

    public init(store: any Store, root: String) {
        self.store = store
        storage = "\(root)/storage/runtime"
        filters = SeccompCache(directory: "\(root)/storage/seccomp")
    }

    /// A runtime whose records live in `directory` alone (runc's --root), so engines with
    /// different roots never see each other's containers.
    public static func runc(stateDirectory directory: String) throws -> OCIRuntime {
        let runtime = OCIRuntime(store: try LocalStore(root: directory), root: directory)
        runtime.runcCompatible = true
        return runtime
    }

    struct Record: Codable {
        var id: String
        var bundle: String
        var pid: Int32
        var pidStart: UInt64
        var created: String
        var cgroups: Cgroups?
        var annotations: [String: String]?
        var rootfs: String?
        /// Kept for delete, which may come after the bundle changed.
        var poststop: [RuntimeSpec.Hook]?
    }

    /// What runc's create takes besides the bundle and id.
    public struct CreateOptions {
        public var consoleSocket: String?
        public var pidFile: String?
        public var preserveFDs: Int32 = 0

        public init(consoleSocket: String? = nil, pidFile: String? = nil, preserveFDs: Int32 = 0) {
            self.consoleSocket = consoleSocket
            self.pidFile = pidFile
            self.preserveFDs = preserveFDs
        }
    }

    private func key(_ id: String) -> String { "runtime/\(id)" }
    private func fifo(_ id: String) -> String { "\(storage)/\(id)/exec.fifo" }

    // MARK: Commands

    /// Sets everything up and leaves the first process waiting, just before execve, until
    /// `start`.
    public func create(bundle: String, id: String, options: CreateOptions = CreateOptions()) throws {
        let spec = try load(bundle: bundle, id: id)
        let config = "\(bundle)/config.json"
        if spec.process?.terminal == true && options.consoleSocket == nil {
            throw RuntimeError("\(config): process.terminal is true, which needs --console-socket; set it to false or give one")
        }
        // Only what this create made is undone: a duplicate id leaves the other's FIFO alone.
        var madeDirectory = false
        do {
            let (pid, _) = try launch(spec, bundle: bundle, id: id) { plan, opened in
                try makeDirectory("\(storage)/\(id)")
                madeDirectory = true
                // The first process opens it for writing after it became the container's user
                // (through its O_PATH descriptor, so the state directory's 0700 still guards it).
                guard mkfifo(fifo(id), 0o622) == 0, chmod(fifo(id), 0o622) == 0 else { throw RuntimeError.system("mkfifo \(fifo(id))") }
                let fifoFD = open(fifo(id), SHIM_O_PATH | O_CLOEXEC)
                guard fifoFD >= 0 else { throw RuntimeError.system("open \(fifo(id))") }
                opened.append(fifoFD)
                plan.startFIFO = fifoFD
                plan.preserveFDs = options.preserveFDs
                if spec.process?.terminal == true, let socket = options.consoleSocket {
                    plan.consoleSocket = try ConsoleSocket.connect(socket)
                    opened.append(plan.consoleSocket)
                }
            }
            do {
                try afterSpawn(spec, id: id, pid: pid, config: config)
                if let pidFile = options.pidFile { try Self.writePIDFile(pid, to: pidFile) }
            } catch {
                try? delete(id, force: true, poststop: false)
                throw error
            }
        } catch {
            if madeDirectory { removeTree("\(storage)/\(id)") }
            throw error
        }
    }

    /// With the first process made and waiting: its OOM score, then the hooks runtime-spec
    /// runs in create (prestart, createRuntime, createContainer; all from the runtime's
    /// namespaces here, createContainer too: an approximation of "in the container's mount
    /// namespace").
    private func afterSpawn(_ spec: RuntimeSpec, id: String, pid: pid_t, config: String) throws {
        if let score = spec.process?.oomScoreAdj {
            do {
                try writeFile(Array(String(score).utf8), to: "/proc/\(pid)/oom_score_adj")
            } catch {
                throw RuntimeError("\(config): process.oomScoreAdj \(score): \(error)")
            }
        }
        let state = try state(id)
        try OCIHooks.run(spec.hooks?.prestart, kind: "prestart", state: state)
        try OCIHooks.run(spec.hooks?.createRuntime, kind: "createRuntime", state: state)
        try OCIHooks.run(spec.hooks?.createContainer, kind: "createContainer", state: state)
    }

    /// runc's --pid-file: written whole (a temporary file renamed over it) before create returns.
    static func writePIDFile(_ pid: pid_t, to path: String) throws {
        let temporary = "\(path).\(getpid()).tmp"
        try writeFile(Array(String(pid).utf8), to: temporary, mode: 0o644)
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            throw RuntimeError.system("pid file \(path)")
        }
    }

    /// Lets a created container's process exec its command. startContainer hooks run just
    /// before (in the container's namespaces, by the runtime rather than by its first
    /// process), poststart hooks just after.
    public func start(_ id: String) throws {
        let record = try record(id)
        // One start at a time per container: a second waits for the first, then finds the
        // container running (its read of the FIFO would otherwise wait for a writer forever).
        let lock = open("\(storage)/\(id)", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard lock >= 0 else { throw RuntimeError.system("start \(id): open \(storage)/\(id)") }
        defer { close(lock) }
        _ = retrying { flock(lock, LOCK_EX) }
        let status = try state(id).status
        guard status == "created" else {
            guard runcCompatible else { throw RuntimeError("container \"\(id)\" is not in the created state") }
            throw RuntimeError(status == "stopped" ? "cannot start a container that has stopped" : "cannot start an already running container")
        }
        let hooks = runcCompatible ? (try? load(bundle: record.bundle, id: id))?.hooks : nil
        if let hooks {
            do {
                try runStartContainerHooks(hooks.startContainer, id: id)
            } catch {
                try? delete(id, force: true, poststop: false)
                throw error
            }
        }
        // Opened without blocking, and read as the first process writes its byte, while that
        // process lives: one killed before `start` never opens the FIFO, as runc has it.
        let fd = open(fifo(id), O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw RuntimeError.system("start \(id): open \(fifo(id))") }
        let process = ProcessStamp(pid: record.pid, start: record.pidStart)
        var byte: UInt8 = 0
        var count = -1
        while count != 1 {
            var ready = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&ready, 1, 100) > 0 {
                count = read(fd, &byte, 1)
                if count == 0 { break }  // the writer closed without its byte: it failed
            } else if !process.isAlive {
                break
            }
        }
        close(fd)
        unlink(fifo(id))
        guard count == 1 else { throw RuntimeError("start \(id): the container process (pid \(record.pid)) is gone") }
        if let hooks { try OCIHooks.run(hooks.poststart, kind: "poststart", state: try state(id)) }
    }

    /// Ids of every container made here.
    public func list() throws -> [String] {
        try store.keys(under: "runtime").map { String($0.dropFirst("runtime/".count)) }
    }

    public func state(_ id: String) throws -> RuntimeState {
        let record = try record(id)
        let alive = ProcessStamp(pid: record.pid, start: record.pidStart).isAlive
        var status = !alive ? "stopped" : access(fifo(id), F_OK) == 0 ? "created" : "running"
        if status == "running", record.cgroups?.isFrozen == true { status = "paused" }
        return RuntimeState(id: id, pid: alive ? record.pid : 0, status: status, bundle: record.bundle,
                            rootfs: runcCompatible ? record.rootfs : nil, created: runcCompatible ? record.created : nil,
                            owner: runcCompatible ? "" : nil, annotations: record.annotations)
    }

    /// Signals the first process, or with `all` every process in the container's cgroup.
    public func kill(_ id: String, signal: String, all: Bool = false) throws {
        let record = try record(id)
        let number = try Signals.parse(signal)
        guard ProcessStamp(pid: record.pid, start: record.pidStart).isAlive else {
            throw RuntimeError(runcCompatible ? "container not running" : "container \"\(id)\" is not running")
        }
        // A frozen process gets its signal when thawed; SIGKILL must not wait for that.
        let thaw = number == SIGKILL && record.cgroups?.isFrozen == true
        defer { if thaw { try? record.cgroups?.freeze(false) } }
        if all, let cgroups = record.cgroups {
            for pid in cgroups.processes { Glibc.kill(pid, number) }
            return
        }
        guard Glibc.kill(record.pid, number) == 0 else { throw RuntimeError.system("kill \(id)") }
    }

    public func delete(_ id: String, force: Bool) throws {
        try delete(id, force: force, poststop: true)
    }

    /// `poststop` off undoes a create that failed: its container never ran.
    private func delete(_ id: String, force: Bool, poststop: Bool) throws {
        let record = try record(id)
        if ProcessStamp(pid: record.pid, start: record.pidStart).isAlive {
            guard force || access(fifo(id), F_OK) == 0 else {
                let status = try state(id).status
                throw RuntimeError(runcCompatible ? "cannot delete container \(id) that is not stopped: \(status)"
                                                  : "container \"\(id)\" is running: kill it first, or use delete --force")
            }
            if record.cgroups?.isFrozen == true { try? record.cgroups?.freeze(false) }
            Glibc.kill(record.pid, SIGKILL)
            for _ in 0..<1000 where ProcessStamp(pid: record.pid, start: record.pidStart).isAlive { usleep(2_000) }
        }
        if record.cgroups?.isFrozen == true { try? record.cgroups?.freeze(false) }
        removeCgroups(record.cgroups, id: id)
        removeTree("\(storage)/\(id)")
        try store.delete(key(id))
        // runtime-spec: a poststop hook's failure is a warning; the container is gone.
        guard poststop else { return }
        do {
            let state = RuntimeState(id: id, pid: 0, status: "stopped", bundle: record.bundle, annotations: record.annotations)
            try OCIHooks.run(record.poststop, kind: "poststop", state: state)
        } catch {
            warn("\(error)")
        }
    }

    /// create + start + wait, in the foreground: returns the command's exit code.
    public func run(bundle: String, id: String, options: CreateOptions = CreateOptions()) throws -> Int32 {
        let spec = try load(bundle: bundle, id: id)
        var console: Console?
        let (pid, cgroups) = try launch(spec, bundle: bundle, id: id) { plan, opened in
            plan.parentDeathSignal = SIGKILL
            plan.preserveFDs = options.preserveFDs
            if spec.process?.terminal == true {
                if let socket = options.consoleSocket {
                    plan.consoleSocket = try ConsoleSocket.connect(socket)
                    opened.append(plan.consoleSocket)
                } else {
                    console = try Console()
                    plan.consoleSocket = console!.childEnd
                }
            }
        }
        defer {
            removeCgroups(cgroups, id: id)
            try? store.delete(key(id))
        }
        do {
            try afterSpawn(spec, id: id, pid: pid, config: "\(bundle)/config.json")
            if let pidFile = options.pidFile { try Self.writePIDFile(pid, to: pidFile) }
            try OCIHooks.run(spec.hooks?.poststart, kind: "poststart", state: try state(id))
        } catch {
            Glibc.kill(pid, SIGKILL)
            _ = Launcher.wait(pid)
            throw error
        }
        let code = try Launcher.waitForwarding(pid, console: console, interactive: true)
        try? OCIHooks.run(spec.hooks?.poststop, kind: "poststop",
                          state: RuntimeState(id: id, pid: 0, status: "stopped", bundle: bundle, annotations: spec.annotations))
        return code
    }

    /// Kills what is left in a container's cgroups and removes them; the default parent
    /// (/netctl-runc) goes with its last container (a create racing with that makes it again).
    private func removeCgroups(_ cgroups: Cgroups?, id: String) {
        guard let cgroups else { return }
        cgroups.killAll()
        cgroups.remove()
        guard runcCompatible else { return }
        for directory in cgroups.directories where directory.hasSuffix("/netctl-runc/\(id)") {
            rmdir(String(directory.dropLast(id.count + 1)))
        }
    }

    /// Reserves the id, makes the cgroups, spawns the first process with the plan as
    /// `configure` finishes it (descriptors it adds to `opened` are closed after the spawn),
    /// and records it. A failure undoes all of it.
    private func launch(_ spec: RuntimeSpec, bundle: String, id: String,
                        configure: (inout LaunchPlan, inout [Int32]) throws -> Void) throws -> (pid_t, Cgroups?) {
        let config = "\(bundle)/config.json"
        let cgroupPath = runcCompatible ? try Self.cgroupPath(spec.linux?.cgroupsPath, id: id, systemd: systemdCgroup, config: config) : ""
        // The record names the cgroups before they exist: a create killed while making them
        // leaves nothing `delete` does not find.
        let planned = runcCompatible ? Cgroups.planned(path: cgroupPath) : Cgroups.planned(for: "oci-\(id)", limits: try Self.limits(spec, config: config))
        try store.locked {
            if try store.get(Record.self, key(id)) != nil { throw RuntimeError("container \"\(id)\" already exists") }
            try store.put(key(id), Record(id: id, bundle: bundle, pid: 0, pidStart: 0, created: Timestamp.now(), cgroups: planned))
        }
        var cgroups: Cgroups?
        do {
            if runcCompatible {
                cgroups = try Cgroups.create(path: cgroupPath)
                try cgroups!.apply(try Self.cgroupSettings(spec.linux?.resources, cgroups: cgroups!, field: "\(config): linux.resources"))
                try cgroups!.restrictDevices(try Self.deviceRules(spec, config: config))
            } else {
                cgroups = try Cgroups.create(for: "oci-\(id)", limits: Self.limits(spec, config: config))
            }
            var opened: [Int32] = []
            defer { opened.forEach { close($0) } }
            var plan = try plan(spec, bundle: bundle, cgroups: cgroups, opened: &opened)
            try configure(&plan, &opened)
            let pid = try Launcher.spawn(plan, what: "container init")
            try store.put(key(id), Record(id: id, bundle: bundle, pid: pid, pidStart: ProcessStamp.status(of: pid)?.start ?? 0,
                                          created: Timestamp.now(), cgroups: cgroups, annotations: spec.annotations,
                                          rootfs: spec.root.map { $0.path.hasPrefix("/") ? $0.path : "\(bundle)/\($0.path)" },
                                          poststop: spec.hooks?.poststop))
            return (pid, cgroups)
        } catch {
            cgroups?.remove()
            try? store.delete(key(id))
            throw error
        }
    }

    func record(_ id: String) throws -> Record {
        guard let record = try store.get(Record.self, key(id)) else {
            throw RuntimeError(runcCompatible ? "container does not exist" : "container \"\(id)\" does not exist")
        }
        return record
    }

    // MARK: config.json

    func load(bundle: String, id: String) throws -> RuntimeSpec {
        let allowed = id.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x61 && $0 <= 0x7a) || [0x2d, 0x2e, 0x5f].contains($0) }
        guard !id.isEmpty, id.utf8.count <= 128, allowed, !id.hasPrefix(".") else {
            throw RuntimeError("invalid container id \"\(id)\": expected letters, digits, '-', '.' and '_'")
        }
        let spec = try decodeJSON(RuntimeSpec.self, try readFile("\(bundle)/config.json", name: "\(bundle)/config.json"), what: "\(bundle)/config.json")
        if let root = spec.root {
            let rootfs = root.path.hasPrefix("/") ? root.path : "\(bundle)/\(root.path)"
            var info = stat()
            guard stat(rootfs, &info) == 0 else { throw RuntimeError.system("\(bundle)/config.json: root.path \(rootfs)") }
            guard info.st_mode & S_IFMT == S_IFDIR else {
                throw RuntimeError("\(bundle)/config.json: root.path \(rootfs): not a directory")
            }
        }
        guard spec.ociVersion.hasPrefix("1.") else {
            throw RuntimeError("\(bundle)/config.json: ociVersion \"\(spec.ociVersion)\" is not supported (expected 1.x)")
        }
        _ = try Self.limits(spec, config: "\(bundle)/config.json")
        return spec
    }

    /// The cgroup limits a bundle asks for. A CPU quota becomes a number of CPUs; a period
    /// outside the kernel's range (cpu.cfs_period_us: 1 ms to 1 s) or a quota whose
    /// nanoseconds overflow is refused (they trapped on overflow or division by zero: seen
    /// while writing Fuzz/Sources/FuzzOCI, whose seeds Fuzz/Corpus/FuzzOCI/crash-cpu-* hit it).
    static func limits(_ spec: RuntimeSpec, config: String) throws -> ResourceLimits {
        let resources = spec.linux?.resources
        var cpus: Int64?
        if let quota = resources?.cpu?.quota, quota > 0 {
            let period = resources?.cpu?.period ?? 100_000
            guard (1_000...1_000_000).contains(period) else {
                throw RuntimeError("\(config): linux.resources.cpu.period \(period): expected 1000 to 1000000 (microseconds)")
            }
            let (nanoseconds, overflow) = quota.multipliedReportingOverflow(by: 1_000_000_000)
            guard !overflow else {
                throw RuntimeError("\(config): linux.resources.cpu.quota \(quota): expected at most \(Int64.max / 1_000_000_000) (microseconds)")
            }
            cpus = nanoseconds / Int64(period)
        }
        return ResourceLimits(memory: resources?.memory?.limit, nanoCPUs: cpus, pids: resources?.pids?.limit)
    }

    private static let namespaceFlags: [String: Int32] = [
        "pid": SHIM_CLONE_NEWPID, "network": SHIM_CLONE_NEWNET, "mount": SHIM_CLONE_NEWNS, "ipc": SHIM_CLONE_NEWIPC,
        "uts": SHIM_CLONE_NEWUTS, "cgroup": SHIM_CLONE_NEWCGROUP, "user": SHIM_CLONE_NEWUSER,
    ]

    static let rlimitNumbers: [String: Int32] = [
        "RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3, "RLIMIT_CORE": 4, "RLIMIT_RSS": 5,
        "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7, "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9, "RLIMIT_LOCKS": 10,
        "RLIMIT_SIGPENDING": 11, "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13, "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15,
    ]

    /// A new user namespace's uid_map and gid_map from linux.uidMappings/gidMappings: both
    /// needed, root (container id 0) mapped, ranges of at least one id.
    static func idMaps(_ linux: RuntimeSpec.Linux?, config: String) throws -> (uid: String, gid: String) {
        func lines(_ mappings: [RuntimeSpec.IDMapping]?, _ field: String) throws -> String {
            guard let mappings, !mappings.isEmpty else {
                throw RuntimeError("\(config): a user namespace needs linux.\(field) (containerID, hostID, size)")
            }
            for mapping in mappings where mapping.size == 0 {
                throw RuntimeError("\(config): linux.\(field): size 0 for containerID \(mapping.containerID) (expected at least 1)")
            }
            guard mappings.contains(where: { $0.containerID == 0 }) else {
                throw RuntimeError("\(config): linux.\(field) does not map containerID 0 (the container's root)")
            }
            return mappings.map { "\($0.containerID) \($0.hostID) \($0.size)\n" }.joined()
        }
        return (try lines(linux?.uidMappings, "uidMappings"), try lines(linux?.gidMappings, "gidMappings"))
    }

    /// The launch plan for a bundle: its namespaces, mounts (made inside its rootfs, every
    /// path resolved inside it), paths, identity, limits and capabilities.
    private func plan(_ spec: RuntimeSpec, bundle: String, cgroups: Cgroups?, opened: inout [Int32]) throws -> LaunchPlan {
        let config = "\(bundle)/config.json"
        guard let process = spec.process, let args = process.args, !args.isEmpty else {
            throw RuntimeError("\(config): process.args is empty")
        }
        guard let root = spec.root else { throw RuntimeError("\(config): root is missing") }
        let rootfs = root.path.hasPrefix("/") ? root.path : "\(bundle)/\(root.path)"
        var plan = LaunchPlan()

        for namespace in spec.linux?.namespaces ?? [] {
            guard let flag = Self.namespaceFlags[namespace.type] else {
                throw RuntimeError("\(config): namespace type \"\(namespace.type)\" is not supported (expected pid, network, mount, ipc, uts, cgroup, user)")
            }
            if flag == SHIM_CLONE_NEWUSER {
                plan.idMaps = try Self.idMaps(spec.linux, config: config)
                guard namespace.path == nil else {
                    throw RuntimeError("\(config): joining a user namespace by path is not supported (give uidMappings and gidMappings for a new one)")
                }
            }
            if let path = namespace.path {
                let fd = open(path, O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { throw RuntimeError.system("\(config): namespace \(namespace.type) path \(path)") }
                opened.append(fd)
                plan.namespaces.append((fd, flag))
            } else {
                plan.cloneFlags |= flag
            }
        }
        guard plan.cloneFlags & SHIM_CLONE_NEWNS != 0 else {
            throw RuntimeError("\(config): netctl needs a new mount namespace (linux.namespaces has no \"mount\")")
        }
        // A new network namespace gets its loopback up, as runc does.
        plan.loopbackUp = plan.cloneFlags & SHIM_CLONE_NEWNET != 0

        // The rootfs is bound onto itself so that it is a mount point pivot_root accepts.
        plan.rootfs = rootfs
        plan.rootPropagation = try MountOptions.propagation(spec.linux?.rootfsPropagation)
        plan.mounts = [.init(source: rootfs, target: rootfs, type: nil, flags: UInt(MS_BIND | MS_REC), data: nil)]
        let points = MountPoints(root: try RootDirectory(path: rootfs))
        var mounted: [String] = []
        var hasDev = false
        for mount in spec.mounts ?? [] {
            guard mount.destination.hasPrefix("/") else {
                throw RuntimeError("\(config): mount destination \"\(mount.destination)\" is not absolute")
            }
            let destination = "/" + RootDirectory.components(of: mount.destination).joined(separator: "/")
            guard destination != "/" else {
                throw RuntimeError("\(config): mount destination \"\(mount.destination)\" is the root itself; expected a path below it")
            }
            let target = rootfs + destination
            // Below an earlier mount (/dev/pts in the /dev tmpfs) the child makes the
            // directory; anywhere else it is made now, inside the rootfs.
            let underEarlier = mounted.contains { destination.hasPrefix($0 + "/") }
            var (flags, data) = MountOptions.parse(mount.options ?? [])
            if mount.type == "bind" { flags |= UInt(MS_BIND) }
            if mount.type == "cgroup" {
                if !underEarlier { try points.ensure(destination, directory: true) }
                var cgroupMounts = (cgroups ?? Cgroups(version: Cgroups.isUnified ? 2 : 1, directories: [])).mounts(at: target, flags: flags)
                cgroupMounts[0].makeDirectory = underEarlier
                plan.mounts += cgroupMounts
            } else {
                var source = mount.source
                var isDirectory = true
                if flags & UInt(MS_BIND) != 0, let given = source {
                    source = given.hasPrefix("/") ? given : "\(bundle)/\(given)"
                    var info = stat()
                    guard stat(source!, &info) == 0 else { throw RuntimeError.system("\(config): mount source \(source!)") }
                    isDirectory = info.st_mode & FileType.mask == FileType.directory
                }
                if !underEarlier { try points.ensure(destination, directory: isDirectory) }
                plan.mounts.append(.init(source: source, target: target, type: mount.type == "bind" ? nil : mount.type,
                                         flags: flags, data: data, makeDirectory: underEarlier))
            }
            // A /dev bound from the host gets nothing made in it, as runc leaves it.
            if destination == "/dev" { hasDev = flags & UInt(MS_BIND) == 0 }
            mounted.append(destination)
        }
        if hasDev {
            plan.devices = Rootfs.devices(under: rootfs)
            plan.symlinks = Rootfs.symlinks(under: rootfs)
        }
        plan.maskedPaths = spec.linux?.maskedPaths ?? []
        plan.readonlyPaths = spec.linux?.readonlyPaths ?? []
        plan.readonlyRoot = root.readonly ?? false
        plan.hostname = spec.hostname
        plan.sysctls = (spec.linux?.sysctl ?? [:]).sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        for (key, _) in plan.sysctls where key.isEmpty || key.contains("/") || key.hasPrefix(".") || key.contains("..") {
            throw RuntimeError("\(config): linux.sysctl key \"\(key)\": expected a dotted name like net.ipv4.ip_forward")
        }
        for device in spec.linux?.devices ?? [] {
            let types: [String: UInt32] = ["c": 0o020000, "u": 0o020000, "b": 0o060000, "p": 0o010000]
            guard let type = types[device.type] else {
                throw RuntimeError("\(config): linux.devices \(device.path): type \"\(device.type)\" (expected c, b, u or p)")
            }
            guard device.path.hasPrefix("/dev/"), !RootDirectory.components(of: device.path).contains("..") else {
                throw RuntimeError("\(config): linux.devices path \"\(device.path)\": expected a path below /dev")
            }
            guard hasDev else { continue }
            plan.devices.removeAll { $0.path == rootfs + device.path }
            plan.devices.append(.init(path: rootfs + device.path, major: UInt32(device.major ?? 0), minor: UInt32(device.minor ?? 0),
                                      mode: type | ((device.fileMode ?? 0o666) & 0o7777), uid: device.uid ?? 0, gid: device.gid ?? 0))
        }

        try applyProcess(process, args: args, spec: spec, source: config, config: config, to: &plan)
        if let cgroupFDs = try? cgroups?.procsDescriptors() {
            plan.cgroupFDs = cgroupFDs
            opened += cgroupFDs
        }
        return plan
    }

    /// process.rlimits as setrlimit arguments. A hard limit above this host's cannot be set
    /// without CAP_SYS_RESOURCE: refused, or (runc-compatible: engines ask for more than
    /// this host allows, podman's nofile 1048576) clamped to the host's, with a warning.
    /// The plan's process, as config.json or exec's process.json (`source`) gives it: ids,
    /// command, environment, limits, privileges, AppArmor, and the bundle's linux.seccomp
    /// (from `config`), which every process of the container is under.
    func applyProcess(_ process: RuntimeSpec.Process, args: [String], spec: RuntimeSpec, source: String, config: String,
                      to plan: inout LaunchPlan) throws {
        plan.rlimits = try rlimits(process, config: source)
        try UserLookup.check(process.user.uid, "uid", in: "\(source): process.user")
        try UserLookup.check(process.user.gid, "gid", in: "\(source): process.user")
        for gid in process.user.additionalGids ?? [] { try UserLookup.check(gid, "additionalGids entry", in: "\(source): process.user") }
        plan.uid = process.user.uid
        plan.gid = process.user.gid
        plan.groups = process.user.additionalGids ?? []
        plan.cwd = process.cwd
        plan.argv = args
        plan.env = process.env ?? []
        plan.capabilities = try process.capabilities.map { try Self.capabilitySets($0, config: source) }
        plan.noNewPrivileges = process.noNewPrivileges ?? false
        if let profile = spec.linux?.seccomp {
            plan.seccompFilter = try filters.filter(
                profile, capabilities: plan.capabilities?.bounding ?? CapabilitySets.all, context: "\(config): linux.seccomp: ")
        }
        if let profile = process.apparmorProfile, !profile.isEmpty {
            guard access("/sys/kernel/security/apparmor", F_OK) == 0 else {
                throw RuntimeError("\(source): apparmorProfile \"\(profile)\" is set, but this kernel has no AppArmor")
            }
            plan.apparmorProfile = profile
        }
    }

    func rlimits(_ process: RuntimeSpec.Process, config: String) throws -> [(resource: Int32, soft: UInt64, hard: UInt64)] {
        var result: [(resource: Int32, soft: UInt64, hard: UInt64)] = []
        for limit in process.rlimits ?? [] {
            guard let number = Self.rlimitNumbers[limit.type] else {
                throw RuntimeError("\(config): rlimit type \"\(limit.type)\" is unknown")
            }
            guard limit.soft <= limit.hard else { throw RuntimeError("\(config): \(limit.type): soft limit \(limit.soft) is above the hard limit \(limit.hard)") }
            var current = rlimit()
            getrlimit(__rlimit_resource_t(UInt32(number)), &current)
            var (soft, hard) = (limit.soft, limit.hard)
            if hard > UInt64(current.rlim_max) && !Self.hasCapability(24) {
                guard runcCompatible else {
                    throw RuntimeError("\(config): \(limit.type) hard limit \(limit.hard) is above this host's \(current.rlim_max), and raising it needs CAP_SYS_RESOURCE, which is not in netctl's bounding set here")
                }
                hard = UInt64(current.rlim_max)
                soft = min(soft, hard)
                warn("\(config): \(limit.type) \(limit.soft):\(limit.hard) clamped to \(soft):\(hard), this host's hard limit (raising it needs CAP_SYS_RESOURCE)")
            }
            result.append((number, soft, hard))
        }
        return result
    }

    /// process.capabilities as the five masks.
    static func capabilitySets(_ caps: RuntimeSpec.Capabilities, config: String) throws -> CapabilitySets {
        do {
            return CapabilitySets(
                bounding: try Capability.mask(caps.bounding ?? [], field: "process.capabilities.bounding"),
                effective: try Capability.mask(caps.effective ?? [], field: "process.capabilities.effective"),
                permitted: try Capability.mask(caps.permitted ?? [], field: "process.capabilities.permitted"),
                inheritable: try Capability.mask(caps.inheritable ?? [], field: "process.capabilities.inheritable"),
                ambient: try Capability.mask(caps.ambient ?? [], field: "process.capabilities.ambient"))
        } catch let error as CapabilityError {
            throw RuntimeError("\(config): \(error.description)")
        }
    }

    /// Whether this process has a capability in its effective set.
    static func hasCapability(_ number: Int) -> Bool {
        guard let bytes = try? readFile("/proc/self/status", name: "status", limit: .text) else { return false }
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix("CapEff:") {
            let hex = line.dropFirst(7).trimmingCharacters()
            return (UInt64(hex, radix: 16) ?? 0) & (1 << UInt64(number)) != 0
        }
        return false
    }
}
