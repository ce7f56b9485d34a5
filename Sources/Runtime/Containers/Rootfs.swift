import CRuntimeShim
import Glibc

/// A container's root filesystem: the image's layers under overlayfs with a writable upper
/// layer of its own, and the mounts every container has (Docker's defaults).
///
/// Mount points are made beforehand as real directories and files in the upper layer
/// (Docker's init layer does the same), so no mount target inside the merged tree can be a
/// symlink that an image planted: the upper layer's directory hides it.
struct Rootfs {
    let directory: String
    var upper: String { "\(directory)/upper" }
    var work: String { "\(directory)/work" }
    var mountpoint: String { "\(directory)/rootfs" }

    static let maskedPaths = [
        "/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
        "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
        "/sys/devices/virtual/powercap",
    ]
    static let readonlyPaths = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]

    /// The upper and work directories, the generated /etc files, and every mount point.
    func prepare(_ record: ContainerRecord, layers: [String], hosts: String, resolvConf: String) throws {
        let parent = String(directory[..<directory.lastIndex(of: "/")!])
        if mkdir(parent, 0o700) != 0 && errno != EEXIST { throw RuntimeError.system("mkdir \(parent)") }
        for path in [directory, upper, work, mountpoint] {
            guard mkdir(path, 0o755) == 0 || errno == EEXIST else { throw RuntimeError.system("mkdir \(path)") }
        }
        try writeFile(Array(hosts.utf8), to: "\(directory)/hosts", mode: 0o644)
        try writeFile(Array((record.config.hostname + "\n").utf8), to: "\(directory)/hostname", mode: 0o644)
        try writeFile(Array(resolvConf.utf8), to: "\(directory)/resolv.conf", mode: 0o644)

        let upperRoot = try RootDirectory(path: upper)
        let lowerRoots = try layers.reversed().map { try RootDirectory(path: $0) }
        let points = MountPoints(root: upperRoot, lowers: lowerRoots)
        for path in ["/proc", "/sys", "/dev", record.config.workingDir] { try points.ensure(path, directory: true) }
        for path in ["/etc/hosts", "/etc/hostname", "/etc/resolv.conf"] { try points.ensure(path, directory: false) }
        for bind in record.host.binds { try points.ensure(bind.destination, directory: bind.isDirectory) }
        for tmpfs in record.host.tmpfs { try points.ensure(Self.tmpfsTarget(tmpfs), directory: true) }
    }

    /// The mounts, devices and links of the launch plan, in the order the child makes them.
    func plan(_ record: ContainerRecord, layers: [String], hostNetwork: Bool, into plan: inout LaunchPlan) {
        let root = mountpoint
        let nosuidNodevNoexec = UInt(MS_NOSUID | MS_NODEV | MS_NOEXEC)
        plan.rootfs = root
        plan.rootPropagation = UInt(MS_REC | MS_SLAVE)
        // Lowest layer last, as overlayfs lists them.
        let lower = layers.reversed().joined(separator: ":")
        plan.mounts = [
            .init(source: "overlay", target: root, type: "overlay", flags: 0, data: "lowerdir=\(lower),upperdir=\(upper),workdir=\(work)"),
            .init(source: "proc", target: "\(root)/proc", type: "proc", flags: nosuidNodevNoexec, data: nil),
            hostNetwork
                ? .init(source: "/sys", target: "\(root)/sys", type: nil, flags: UInt(MS_BIND | MS_REC | MS_RDONLY) | nosuidNodevNoexec, data: nil)
                : .init(source: "sysfs", target: "\(root)/sys", type: "sysfs", flags: nosuidNodevNoexec | UInt(MS_RDONLY), data: nil),
            .init(source: "tmpfs", target: "\(root)/dev", type: "tmpfs", flags: UInt(MS_NOSUID | MS_STRICTATIME), data: "mode=755,size=65536k"),
            .init(source: "devpts", target: "\(root)/dev/pts", type: "devpts", flags: UInt(MS_NOSUID | MS_NOEXEC),
                  data: "newinstance,ptmxmode=0666,mode=0620,gid=5", makeDirectory: true),
            .init(source: "shm", target: "\(root)/dev/shm", type: "tmpfs", flags: nosuidNodevNoexec, data: "mode=1777,size=65536k", makeDirectory: true),
            .init(source: "mqueue", target: "\(root)/dev/mqueue", type: "mqueue", flags: nosuidNodevNoexec, data: nil, makeDirectory: true),
        ]
        for file in ["hosts", "hostname", "resolv.conf"] {
            plan.mounts.append(.init(source: "\(directory)/\(file)", target: "\(root)/etc/\(file)", type: nil, flags: UInt(MS_BIND), data: nil))
        }
        // Everything netctl makes in the rootfs is made by now; the user's mounts go last.
        plan.systemMountCount = plan.mounts.count
        for bind in record.host.binds {
            plan.mounts.append(.init(source: bind.source, target: root + bind.destination, type: nil,
                                     flags: UInt(MS_BIND | MS_REC) | (bind.readOnly ? UInt(MS_RDONLY) : 0), data: nil))
        }
        for tmpfs in record.host.tmpfs {
            let options = tmpfs.split(separator: ":", maxSplits: 1).dropFirst().first.map(String.init)
            plan.mounts.append(.init(source: "tmpfs", target: root + Self.tmpfsTarget(tmpfs), type: "tmpfs", flags: nosuidNodevNoexec, data: options))
        }
        plan.devices = Self.devices(under: root)
        plan.symlinks = Self.symlinks(under: root)
        plan.maskedPaths = Self.maskedPaths
        plan.readonlyPaths = Self.readonlyPaths
        plan.readonlyRoot = record.host.readOnly
    }

    /// The devices every container's /dev has (runtime-spec's default devices).
    static func devices(under root: String) -> [LaunchPlan.Device] {
        [.init(path: "\(root)/dev/null", major: 1, minor: 3), .init(path: "\(root)/dev/zero", major: 1, minor: 5),
         .init(path: "\(root)/dev/full", major: 1, minor: 7), .init(path: "\(root)/dev/random", major: 1, minor: 8),
         .init(path: "\(root)/dev/urandom", major: 1, minor: 9), .init(path: "\(root)/dev/tty", major: 5, minor: 0)]
    }

    static func symlinks(under root: String) -> [(target: String, path: String)] {
        [("/proc/self/fd", "\(root)/dev/fd"), ("/proc/self/fd/0", "\(root)/dev/stdin"),
         ("/proc/self/fd/1", "\(root)/dev/stdout"), ("/proc/self/fd/2", "\(root)/dev/stderr"),
         ("pts/ptmx", "\(root)/dev/ptmx")]
    }

    static func tmpfsTarget(_ spec: String) -> String {
        String(spec.split(separator: ":", maxSplits: 1).first ?? "")
    }
}

/// Mount points made in a directory resolved as a root: in a container's upper layer (with
/// the owner and mode the image gives the same path, so the merged view does not change),
/// or in an OCI bundle's rootfs.
struct MountPoints {
    let root: RootDirectory
    var lowers: [RootDirectory] = []

    func ensure(_ path: String, directory: Bool) throws {
        let parts = RootDirectory.components(of: path)
        guard !parts.isEmpty else { return }
        for index in parts.indices.dropLast() { try make(parts[...index], directory: true) }
        try make(parts[...], directory: directory)
    }

    private func make(_ parts: ArraySlice<String>, directory: Bool) throws {
        let existing = root.open(parts, flags: SHIM_O_PATH | O_NOFOLLOW)
        if existing >= 0 {
            close(existing)
            return
        }
        let parent = try root.directory(parts.dropLast())
        defer { close(parent) }
        let name = parts.last!
        let template = lowerAttributes(parts)
        if directory {
            guard mkdirat(parent, name, template?.mode ?? 0o755) == 0 || errno == EEXIST else {
                throw RuntimeError.system("mount point \(root.display(parts))")
            }
        } else {
            let fd = openat(parent, name, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw RuntimeError.system("mount point \(root.display(parts))") }
            close(fd)
        }
        if let template {
            fchownat(parent, name, template.uid, template.gid, AT_SYMLINK_NOFOLLOW)
            fchmodat(parent, name, template.mode, 0)
        }
    }

    /// Owner and mode of the same directory in the topmost layer that has it.
    private func lowerAttributes(_ parts: ArraySlice<String>) -> (uid: uid_t, gid: gid_t, mode: mode_t)? {
        for layer in lowers {
            let fd = layer.open(parts, flags: SHIM_O_PATH | O_NOFOLLOW)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            var info = stat()
            guard fstat(fd, &info) == 0, info.st_mode & FileType.mask == FileType.directory else { return nil }
            return (info.st_uid, info.st_gid, info.st_mode & 0o7777)
        }
        return nil
    }
}
