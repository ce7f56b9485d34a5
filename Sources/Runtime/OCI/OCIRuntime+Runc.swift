import CNM
import CRuntimeShim
import FoundationEssentials
import Glibc
import Security

/// runc's commands beyond create/start/state/kill/delete: exec, ps, pause, resume, update,
/// and the cgroup conventions engines rely on.
extension OCIRuntime {
    // MARK: cgroups

    /// linux.cgroupsPath as a cgroupfs path: "/docker/ID", "/libpod_parent/libpod-ID" as
    /// given; with --systemd-cgroup "slice:prefix:name" becomes /…slice/prefix-name.scope
    /// (no systemd here: the same directories, made directly). None given: /netctl-runc/ID.
    static func cgroupPath(_ given: String?, id: String, systemd: Bool, config: String) throws -> String {
        guard let given, !given.isEmpty else { return systemd ? "/system.slice/netctl-runc-\(id).scope" : "/netctl-runc/\(id)" }
        guard !RootDirectory.components(of: given).contains("..") else {
            throw RuntimeError("\(config): linux.cgroupsPath \"\(given)\": expected no \"..\"")
        }
        // The container's processes are killed through its cgroup: never a hierarchy's root.
        guard systemd || !RootDirectory.components(of: given).isEmpty else {
            throw RuntimeError("\(config): linux.cgroupsPath \"\(given)\": expected a cgroup below the root (/docker/ID)")
        }
        guard systemd else { return given }
        let parts = given.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3 else {
            throw RuntimeError("\(config): linux.cgroupsPath \"\(given)\": with --systemd-cgroup expected slice:prefix:name")
        }
        let slice = parts[0].isEmpty ? "system.slice" : parts[0]
        guard slice.hasSuffix(".slice") else {
            throw RuntimeError("\(config): linux.cgroupsPath \"\(given)\": slice \"\(slice)\" does not end in .slice")
        }
        // systemd nests a-b-c.slice as a.slice/a-b.slice/a-b-c.slice.
        let words = slice.dropLast(".slice".count).split(separator: "-")
        var path = ""
        if slice != "-.slice" {
            for count in 1...max(words.count, 1) { path += "/" + words.prefix(count).joined(separator: "-") + ".slice" }
        }
        let unit = parts[2].hasSuffix(".slice") ? parts[2] : (parts[1].isEmpty ? parts[2] : "\(parts[1])-\(parts[2])") + ".scope"
        return path + "/" + unit
    }

    /// The devices cgroup's rules, as runc writes them: the bundle's (podman and Docker
    /// start with "deny all"), then every device the bundle makes, then runc's defaults
    /// (mknod of anything; null, zero, full, tty, random, urandom, ptmx, pts, tun).
    static func deviceRules(_ spec: RuntimeSpec, config: String) throws -> [(allow: Bool, rule: String)] {
        func number(_ value: Int64?) -> String { value.map { $0 < 0 ? "*" : String($0) } ?? "*" }
        var rules: [(Bool, String)] = []
        for (index, rule) in (spec.linux?.resources?.devices ?? []).enumerated() {
            let type = rule.type ?? "a"
            let access = rule.access ?? "rwm"
            guard ["a", "c", "b"].contains(type) else {
                throw RuntimeError("\(config): linux.resources.devices[\(index)].type \"\(type)\": expected a, c or b")
            }
            guard !access.isEmpty, access.allSatisfy({ "rwm".contains($0) }) else {
                throw RuntimeError("\(config): linux.resources.devices[\(index)].access \"\(access)\": expected letters of rwm")
            }
            rules.append((rule.allow, type == "a" ? "a *:* \(access)" : "\(type) \(number(rule.major)):\(number(rule.minor)) \(access)"))
        }
        for device in spec.linux?.devices ?? [] where ["c", "u", "b"].contains(device.type) {
            rules.append((true, "\(device.type == "b" ? "b" : "c") \(number(device.major)):\(number(device.minor)) rwm"))
        }
        let defaults = ["c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 5:0 rwm", "c 1:8 rwm", "c 1:9 rwm",
                        "c 5:2 rwm", "c 136:* rwm", "c 10:200 rwm"]
        return rules + defaults.map { (true, $0) }
    }

    /// runtime-spec LinuxResources as cgroup files for this host's layout, in the order they
    /// must be written (period before quota, memory+swap around the limit).
    static func cgroupSettings(_ resources: RuntimeSpec.Resources?, cgroups: Cgroups, field: String) throws -> [(file: String, value: String)] {
        guard let resources else { return [] }
        var settings: [(file: String, value: String)] = []
        let v2 = cgroups.version == 2
        if let memory = resources.memory {
            if let limit = memory.limit {
                let value = limit <= 0 ? (v2 ? "max" : "-1") : String(limit)
                if let swap = memory.swap {
                    let swapValue = swap <= 0 ? (v2 ? "max" : "-1") : v2 ? String(max(swap - max(limit, 0), 0)) : String(swap)
                    let swapFile = v2 ? "memory.swap.max" : "memory.memsw.limit_in_bytes"
                    // Raising both: the larger memsw first; lowering: the limit first.
                    let current = Int64(cgroups.read(v2 ? "memory.max" : "memory.limit_in_bytes") ?? "") ?? Int64.max
                    if !v2 && (limit > current || limit <= 0) {
                        settings += [(swapFile, swapValue), ("memory.limit_in_bytes", value)]
                    } else {
                        settings += [(v2 ? "memory.max" : "memory.limit_in_bytes", value), (swapFile, swapValue)]
                    }
                } else {
                    settings.append((v2 ? "memory.max" : "memory.limit_in_bytes", value))
                }
            }
            if let reservation = memory.reservation {
                settings.append((v2 ? "memory.low" : "memory.soft_limit_in_bytes", reservation <= 0 ? (v2 ? "0" : "-1") : String(reservation)))
            }
        }
        if let pids = resources.pids {
            settings.append(("pids.max", pids.limit <= 0 ? "max" : String(pids.limit)))
        }
        if let cpu = resources.cpu {
            if let shares = cpu.shares, shares > 0 {
                guard (2...262_144).contains(shares) else { throw RuntimeError("\(field).cpu.shares \(shares): expected 2 to 262144") }
                settings.append(v2 ? ("cpu.weight", String(1 + ((shares - 2) * 9999) / 262_142)) : ("cpu.shares", String(shares)))
            }
            if let period = cpu.period, period > 0, !(1_000...1_000_000).contains(period) {
                throw RuntimeError("\(field).cpu.period \(period): expected 1000 to 1000000 (microseconds)")
            }
            if v2 {
                if cpu.quota != nil || cpu.period != nil {
                    let quota = cpu.quota.map { $0 > 0 ? String($0) : "max" } ?? "max"
                    settings.append(("cpu.max", "\(quota) \(cpu.period.map { $0 > 0 ? $0 : 100_000 } ?? 100_000)"))
                }
            } else {
                if let period = cpu.period, period > 0 { settings.append(("cpu.cfs_period_us", String(period))) }
                if let quota = cpu.quota { settings.append(("cpu.cfs_quota_us", quota > 0 ? String(quota) : "-1")) }
            }
            if let cpus = cpu.cpus, !cpus.isEmpty { settings.append(("cpuset.cpus", cpus)) }
            if let mems = cpu.mems, !mems.isEmpty { settings.append(("cpuset.mems", mems)) }
        }
        return settings
    }

    /// `update`: new limits for a container's cgroups, from runtime-spec LinuxResources JSON
    /// and runc's flags (which win).
    public func update(_ id: String, resourcesJSON: [UInt8]?, what: String, flags: [String: String]) throws {
        let record = try record(id)
        guard let cgroups = record.cgroups else { throw RuntimeError("container \(id) has no cgroups to update") }
        var resources = try resourcesJSON.map { try decodeJSON(RuntimeSpec.Resources.self, $0, what: what) }
            ?? RuntimeSpec.Resources()
        func number(_ flag: String) throws -> Int64? {
            guard let text = flags[flag] else { return nil }
            guard let value = Self.parseSize(text) else {
                throw RuntimeError("update --\(flag) \"\(text)\": expected a number (with k, m or g for sizes)")
            }
            return value
        }
        if let limit = try number("memory") { resources.memory = resources.memory ?? .init(); resources.memory!.limit = limit }
        if let swap = try number("memory-swap") { resources.memory = resources.memory ?? .init(); resources.memory!.swap = swap }
        if let reservation = try number("memory-reservation") {
            resources.memory = resources.memory ?? .init()
            resources.memory!.reservation = reservation
        }
        if let pids = try number("pids-limit") { resources.pids = .init(limit: pids) }
        if let shares = try number("cpu-shares") { resources.cpu = resources.cpu ?? .init(); resources.cpu!.shares = UInt64(max(shares, 0)) }
        if let quota = try number("cpu-quota") { resources.cpu = resources.cpu ?? .init(); resources.cpu!.quota = quota }
        if let period = try number("cpu-period") { resources.cpu = resources.cpu ?? .init(); resources.cpu!.period = UInt64(max(period, 0)) }
        if let cpus = flags["cpuset-cpus"] { resources.cpu = resources.cpu ?? .init(); resources.cpu!.cpus = cpus }
        if let mems = flags["cpuset-mems"] { resources.cpu = resources.cpu ?? .init(); resources.cpu!.mems = mems }
        try cgroups.apply(try Self.cgroupSettings(resources, cgroups: cgroups, field: what))
    }

    /// "64m" → 67108864; plain numbers as they are (-1 for unlimited).
    static func parseSize(_ text: String) -> Int64? {
        let lower = text.lowercased()
        let units: [(String, Int64)] = [("kb", 1 << 10), ("mb", 1 << 20), ("gb", 1 << 30), ("k", 1 << 10), ("m", 1 << 20), ("g", 1 << 30), ("b", 1)]
        for (suffix, scale) in units where lower.hasSuffix(suffix) {
            guard let value = Int64(lower.dropLast(suffix.count)) else { return nil }
            let (result, overflow) = value.multipliedReportingOverflow(by: scale)
            return overflow ? nil : result
        }
        return Int64(lower)
    }

    // MARK: pause, resume, ps

    public func pause(_ id: String) throws {
        let record = try record(id)
        guard try state(id).status == "running" else { throw RuntimeError("container not running") }
        guard let cgroups = record.cgroups else { throw RuntimeError("container \(id) has no cgroups to freeze") }
        try cgroups.freeze(true)
    }

    public func resume(_ id: String) throws {
        let record = try record(id)
        guard try state(id).status == "paused" else { throw RuntimeError("container not paused") }
        try record.cgroups?.freeze(false)
    }

    /// The pids of the container's processes, as the host sees them.
    public func processes(_ id: String) throws -> [Int32] {
        let record = try record(id)
        if let cgroups = record.cgroups { return cgroups.processes.sorted() }
        return ProcessStamp(pid: record.pid, start: record.pidStart).isAlive ? [record.pid] : []
    }

    // MARK: exec

    /// What runc's exec takes: a process (process.json, or built from the command line)
    /// and how to connect it.
    public struct ExecOptions {
        public var processJSON: [UInt8]?
        public var processFile = "process.json"
        public var args: [String] = []
        public var env: [String] = []
        public var cwd: String?
        public var user: String?
        public var tty = false
        public var detach = false
        public var pidFile: String?
        public var consoleSocket: String?
        public var preserveFDs: Int32 = 0
        /// runc's --cap, --additional-gids, --no-new-privs and --apparmor, over the bundle's process.
        public var capabilities: [String] = []
        public var additionalGids: [UInt32] = []
        public var noNewPrivileges = false
        public var apparmorProfile: String?

        public init() {}
    }

    /// Runs a process in a running container: its namespaces (pid by a second clone), its
    /// cgroups, the bundle's seccomp filter. Detached: returns 0 once the process exec'd
    /// (its pid in --pid-file); otherwise waits and returns its exit code.
    public func exec(_ id: String, _ options: ExecOptions) throws -> Int32 {
        let record = try record(id)
        let status = try state(id).status
        guard status == "running" || status == "created" else {
            throw RuntimeError(status == "paused" ? "cannot exec in a paused container (use resume first)" : "cannot exec in a stopped container")
        }
        let spec = try load(bundle: record.bundle, id: id)
        var process: RuntimeSpec.Process
        if let json = options.processJSON {
            process = try decodeJSON(RuntimeSpec.Process.self, json, what: options.processFile)
        } else {
            guard var base = spec.process else { throw RuntimeError("\(record.bundle)/config.json: process is missing") }
            guard !options.args.isEmpty else { throw RuntimeError("exec: no command given (expected a command after the container id, or --process)") }
            base.args = options.args
            base.terminal = options.tty
            base.env = (base.env ?? []) + options.env
            if let cwd = options.cwd { base.cwd = cwd }
            if let user = options.user {
                let parts = user.split(separator: ":", maxSplits: 1).map(String.init)
                guard let uid = UInt32(parts[0]), parts.count == 1 || UInt32(parts[1]) != nil else {
                    throw RuntimeError("exec --user \"\(user)\": expected UID[:GID] as numbers")
                }
                base.user = RuntimeSpec.User(uid: uid, gid: parts.count == 2 ? UInt32(parts[1])! : 0, additionalGids: nil)
            }
            process = base
        }
        if !options.capabilities.isEmpty {
            // As runc: each added to bounding, effective and permitted; to ambient only
            // where the process has inheritable capabilities to carry it.
            var caps = process.capabilities ?? RuntimeSpec.Capabilities()
            for cap in options.capabilities {
                let name = cap.uppercased().hasPrefix("CAP_") ? cap.uppercased() : "CAP_" + cap.uppercased()
                caps.bounding = (caps.bounding ?? []) + [name]
                caps.effective = (caps.effective ?? []) + [name]
                caps.permitted = (caps.permitted ?? []) + [name]
                if caps.inheritable != nil { caps.ambient = (caps.ambient ?? []) + [name] }
            }
            process.capabilities = caps
        }
        if !options.additionalGids.isEmpty { process.user.additionalGids = (process.user.additionalGids ?? []) + options.additionalGids }
        if options.noNewPrivileges { process.noNewPrivileges = true }
        if let profile = options.apparmorProfile { process.apparmorProfile = profile }
        guard let args = process.args, !args.isEmpty else { throw RuntimeError("\(options.processFile): args is empty") }
        guard process.cwd.hasPrefix("/") else { throw RuntimeError("\(options.processFile): cwd \"\(process.cwd)\" is not absolute") }
        if process.terminal == true && options.consoleSocket == nil && options.detach {
            throw RuntimeError("exec: a terminal in a detached exec needs --console-socket")
        }

        var plan = LaunchPlan()
        var opened: [Int32] = []
        defer { opened.forEach { close($0) } }
        try Self.enter(record, id: id, plan: &plan, opened: &opened)
        try applyProcess(process, args: args, spec: spec, source: options.processFile, config: "\(record.bundle)/config.json", to: &plan)
        plan.preserveFDs = options.preserveFDs
        var console: Console?
        if process.terminal == true {
            if let socket = options.consoleSocket {
                plan.consoleSocket = try ConsoleSocket.connect(socket)
                opened.append(plan.consoleSocket)
            } else {
                console = try Console()
                plan.consoleSocket = console!.childEnd
            }
        }
        let pid = try Launcher.spawn(plan, what: "exec in \(id)")
        if let pidFile = options.pidFile { try Self.writePIDFile(pid, to: pidFile) }
        if options.detach { return 0 }
        let code = try Launcher.waitForwarding(pid, console: console, interactive: true)
        return code
    }

    /// A plan that joins a running container made here.
    static func enter(_ record: Record, id: String, plan: inout LaunchPlan, opened: inout [Int32]) throws {
        try plan.join(record.pid, cgroups: record.cgroups, container: id, opened: &opened)
    }

    /// startContainer hooks, as runtime-spec has them: in the container's namespaces (the
    /// path is the container's), after its setup and before its command, with the state on
    /// stdin. They run as root with the runtime's capabilities, not the container's.
    func runStartContainerHooks(_ hooks: [RuntimeSpec.Hook]?, id: String) throws {
        guard let hooks, !hooks.isEmpty else { return }
        let record = try record(id)
        let input = Array(try encodeJSONLine(try state(id)).utf8)
        for hook in hooks {
            let what = "startContainer hook \(hook.path)"
            var plan = LaunchPlan()
            var opened: [Int32] = []
            defer { opened.forEach { close($0) } }
            try Self.enter(record, id: id, plan: &plan, opened: &opened)
            var pipe: [Int32] = [-1, -1]
            guard shim_pipe_cloexec(&pipe) == 0 else { throw RuntimeError.system("\(what): pipe") }
            opened.append(pipe[0])
            let output = try OCIHooks.outputFile(what: what)
            opened.append(output)
            plan.stdio = [pipe[0], output, output]
            plan.argv = [hook.path] + (hook.args ?? []).dropFirst()
            plan.env = hook.env ?? []
            plan.cwd = "/"
            let pid: pid_t
            do {
                pid = try Launcher.spawn(plan, what: what)
            } catch {
                close(pipe[1])
                throw error
            }
            OCIHooks.feed(pipe[1], input)
            try OCIHooks.wait(pid, for: hook, what: what, output: output)
        }
    }

    /// Whether a process shares this one's namespace of a kind (then there is nothing to join).

}

/// runc's --console-socket: a Unix stream socket the caller listens on; the container's
/// first process sends its terminal's master over it (SCM_RIGHTS).
enum ConsoleSocket {
    static func connect(_ path: String) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw RuntimeError.system("--console-socket \(path): socket") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(fd)
            throw RuntimeError("--console-socket \(path): path too long (at most \(MemoryLayout.size(ofValue: address.sun_path) - 1) bytes)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { target in
            for (index, byte) in bytes.enumerated() { target[index] = byte }
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard result == 0 else {
            let error = errno
            close(fd)
            throw RuntimeError.system("--console-socket \(path): connect", error)
        }
        return fd
    }
}

extension OCIRuntime {
    /// runc's `state` output: indented JSON (one line with `pretty` off, for `list`).
    public func stateJSON(_ id: String, pretty: Bool = true) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(try state(id)), as: UTF8.self)
    }

    /// `ps`'s table: each process's pid and command line, from /proc.
    public static func processTable(_ pids: [Int32]) -> String {
        var lines = ["PID\tCMD"]
        for pid in pids {
            let bytes = (try? readFile("/proc/\(pid)/cmdline", name: "cmdline", limit: .text)) ?? []
            let command = bytes.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }.joined(separator: " ")
            lines.append("\(pid)\t\(command)")
        }
        return lines.joined(separator: "\n")
    }
}
