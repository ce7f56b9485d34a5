import Glibc

/// Cgroups at a path an engine chose (runtime-spec's linux.cgroupsPath), where engines read
/// a container's stats: one directory per v1 hierarchy, or one cgroup2 directory.
extension Cgroups {
    /// The directories `create(path:)` makes, known before any exists, so that a record can
    /// name them first. `path` absolute: below each hierarchy's root; relative: below this
    /// process's own cgroup.
    static func planned(path: String) -> Cgroups {
        if isUnified {
            return Cgroups(version: 2, directories: [mount + "/" + RootDirectory.components(of: path).joined(separator: "/")])
        }
        let own = ownV1Paths()
        return Cgroups(version: 1, directories: v1Hierarchies().map { hierarchy in
            let base = path.hasPrefix("/") ? "" : hierarchy.controllers.compactMap { own[$0] }.first ?? ""
            return hierarchy.mountpoint + "/" + RootDirectory.components(of: base + "/" + path).joined(separator: "/")
        })
    }

    /// Makes the planned directories in every hierarchy. A directory that exists already is
    /// joined, as runc does.
    static func create(path: String) throws -> Cgroups {
        let planned = planned(path: path)
        if planned.version == 2 {
            try makeDirectories(planned.directories[0], enablingControllersFrom: mount)
            return planned
        }
        var made = Cgroups(version: 1, directories: [])
        for directory in planned.directories {
            do {
                try makeDirectories(directory, enablingControllersFrom: nil)
                let hierarchy = mount + "/" + (directory.dropFirst(mount.count + 1).split(separator: "/").first ?? "")
                if hierarchy.hasSuffix("cpuset") || hierarchy.contains("cpuset,") || hierarchy.contains(",cpuset") {
                    inheritCpuset(directory, below: hierarchy)
                }
            } catch {
                made.remove()
                throw error
            }
            made.directories.append(directory)
        }
        return made
    }

    /// The v1 hierarchies mounted below /sys/fs/cgroup, with the controllers each holds
    /// ("cpu", "cpuacct"; "name=systemd").
    static func v1Hierarchies() -> [(mountpoint: String, controllers: [String])] {
        guard let bytes = try? readFile("/proc/self/mounts", name: "/proc/self/mounts", limit: .text) else { return [] }
        var found: [(String, [String])] = []
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count >= 4, fields[2] == "cgroup", fields[1].hasPrefix("\(mount)/") else { continue }
            let known = ["cpu", "cpuacct", "cpuset", "memory", "pids", "freezer", "blkio", "devices", "net_cls", "net_prio",
                         "perf_event", "hugetlb", "rdma", "misc"]
            let controllers = fields[3].split(separator: ",").map(String.init).filter { known.contains($0) || $0.hasPrefix("name=") }
            found.append((String(fields[1]), controllers))
        }
        return found
    }

    /// mkdir -p; on v2 each new level gets the parent's controllers enabled for it.
    private static func makeDirectories(_ directory: String, enablingControllersFrom root: String?, attempt: Int = 0) throws {
        var path = ""
        for component in directory.split(separator: "/") {
            if let root, path.count >= root.count, !path.isEmpty {
                // One at a time: a write naming one the kernel refuses enables none of them.
                let available = (try? String(decoding: readFile("\(path)/cgroup.controllers", name: "cgroup.controllers", limit: .text), as: UTF8.self)) ?? ""
                for controller in available.split(whereSeparator: \.isWhitespace) {
                    let fd = open("\(path)/cgroup.subtree_control", O_WRONLY | O_CLOEXEC)
                    guard fd >= 0 else { break }
                    let token = "+" + controller
                    _ = Glibc.write(fd, token, token.utf8.count)
                    close(fd)
                }
            }
            path += "/\(component)"
            if mkdir(path, 0o755) != 0 && errno != EEXIST {
                // A parent another container's delete removed just now: make it again.
                if errno == ENOENT && attempt < 5 {
                    return try makeDirectories(directory, enablingControllersFrom: root, attempt: attempt + 1)
                }
                throw RuntimeError.system("cgroup \(path)")
            }
        }
    }

    /// A new cpuset cgroup has no CPUs and no memory nodes until given its parent's.
    private static func inheritCpuset(_ directory: String, below root: String) {
        var levels: [String] = []
        var path = directory
        while path.count > root.count {
            levels.insert(path, at: 0)
            path = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        }
        for level in levels {
            let parent = String(level[..<level.lastIndex(of: "/")!])
            for file in ["cpuset.cpus", "cpuset.mems"] {
                let current = (try? readFile("\(level)/\(file)", name: file, limit: .text)).map { Substring(String(decoding: $0, as: UTF8.self)).trimmingCharacters() } ?? ""
                guard current.isEmpty, let inherited = try? readFile("\(parent)/\(file)", name: file, limit: .text) else { continue }
                let fd = open("\(level)/\(file)", O_WRONLY | O_CLOEXEC)
                if fd >= 0 { _ = inherited.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }; close(fd) }
            }
        }
    }

    /// The directory holding one controller's files (v1), or the one directory (v2).
    func directory(for controller: String) -> String? {
        if version == 2 { return directories.first }
        return directories.first { directory in
            let name = directory.dropFirst(Self.mount.count + 1).split(separator: "/").first ?? ""
            return name.split(separator: ",").contains { $0 == controller }
        }
    }

    /// Writes cgroup files (`memory.limit_in_bytes` = "67108864"); the controller is the
    /// file's prefix. A file this host lacks is an error naming it.
    func apply(_ settings: [(file: String, value: String)]) throws {
        for (file, value) in settings {
            let controller = String(file.prefix { $0 != "." })
            guard let directory = directory(for: controller) else {
                throw RuntimeError("cgroup: this host has no \(controller) controller for \(file)")
            }
            try write(value, to: "\(directory)/\(file)")
        }
    }

    /// The v1 devices controller's rules, in order (`a *:* rwm` to devices.deny first, then
    /// what is allowed). On v2 this needs a BPF program, which netctl does not load yet: the
    /// rules are not applied there (`features` says so).
    func restrictDevices(_ rules: [(allow: Bool, rule: String)]) throws {
        guard version == 1, !rules.isEmpty, let directory = directory(for: "devices") else { return }
        for (allow, rule) in rules {
            try write(rule, to: "\(directory)/\(allow ? "devices.allow" : "devices.deny")")
        }
    }

    /// Reads one cgroup file of a controller, trimmed.
    func read(_ file: String) -> String? {
        let controller = String(file.prefix { $0 != "." })
        guard let directory = directory(for: controller == "cgroup" ? "freezer" : controller) ?? directories.first,
              let bytes = try? readFile("\(directory)/\(file)", name: file, limit: .text) else { return nil }
        return Substring(String(decoding: bytes, as: UTF8.self)).trimmingCharacters()
    }

    /// Freezes or thaws every process (v1 freezer.state, v2 cgroup.freeze), waiting until the
    /// kernel says it is done.
    func freeze(_ frozen: Bool) throws {
        if version == 2 {
            guard let directory = directories.first else { throw RuntimeError("cgroup: no cgroup to freeze") }
            try write(frozen ? "1" : "0", to: "\(directory)/cgroup.freeze")
            for _ in 0..<1000 where isFrozen != frozen { usleep(1_000) }
            guard isFrozen == frozen else { throw RuntimeError("cgroup \(directory): cgroup.events did not say frozen \(frozen ? 1 : 0)") }
            return
        }
        guard let directory = directory(for: "freezer") else {
            throw RuntimeError("cgroup: this host has no freezer controller mounted at \(Self.mount)/freezer")
        }
        let wanted = frozen ? "FROZEN" : "THAWED"
        for _ in 0..<1000 {
            try write(wanted, to: "\(directory)/freezer.state")
            if read("freezer.state") == wanted { return }
            usleep(1_000)
        }
        throw RuntimeError("cgroup \(directory): freezer.state did not become \(wanted)")
    }

    /// Whether the container's processes are frozen.
    var isFrozen: Bool {
        if version == 2 {
            return directories.first.flatMap { try? readFile("\($0)/cgroup.events", name: "cgroup.events", limit: .text) }
                .map { String(decoding: $0, as: UTF8.self).contains("frozen 1") } ?? false
        }
        return directory(for: "freezer") != nil && read("freezer.state") == "FROZEN"
    }

    /// Pids of every process in the container's cgroup.
    var processes: [Int32] {
        let directory = version == 2 ? directories.first : directory(for: "pids") ?? directory(for: "freezer") ?? directories.first
        guard let directory, let bytes = try? readFile("\(directory)/cgroup.procs", name: "cgroup.procs", limit: .text) else { return [] }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").compactMap { Int32($0) }
    }
}
