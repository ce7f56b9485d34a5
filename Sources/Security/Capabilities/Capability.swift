import Glibc

/// Linux capabilities by name and number (linux/capability.h), as runtime-spec and Docker
/// name them: `CAP_NET_ADMIN`, also accepted as `NET_ADMIN` or `net_admin`.
public enum Capability {
    public static let names: [String] = [
        "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
        "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
        "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
        "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
        "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
        "CHECKPOINT_RESTORE",
    ]

    /// The capability's number, or nil for a name the kernel does not know.
    public static func number(_ name: String) -> Int? {
        var key = name.uppercased()
        if key.hasPrefix("CAP_") { key.removeFirst(4) }
        return names.firstIndex(of: key)
    }

    /// A set of names as the bit mask capset(2) takes; an unknown name is an error that
    /// names it.
    public static func mask(_ list: [String], field: String) throws -> UInt64 {
        var mask: UInt64 = 0
        for name in list {
            guard let number = number(name) else { throw CapabilityError("\(field): unknown capability \"\(name)\"") }
            mask |= 1 << UInt64(number)
        }
        return mask
    }
}

public struct CapabilityError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A container's capability sets, decided the way Docker decides them (moby's
/// `TweakCapabilities`) and laid out the way runc applies them.
public struct CapabilitySets: Sendable, Equatable {
    public var bounding: UInt64
    public var effective: UInt64
    public var permitted: UInt64
    public var inheritable: UInt64
    public var ambient: UInt64

    public init(bounding: UInt64, effective: UInt64, permitted: UInt64, inheritable: UInt64, ambient: UInt64) {
        self.bounding = bounding
        self.effective = effective
        self.permitted = permitted
        self.inheritable = inheritable
        self.ambient = ambient
    }

    /// Docker's default 14.
    public static let dockerDefault = [
        "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID", "SETFCAP", "SETPCAP",
        "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE",
    ]

    /// Every capability this kernel knows (/proc/sys/kernel/cap_last_cap) that this process
    /// holds itself: nobody can hand out more (here, CAP_SYS_RESOURCE is missing from
    /// root's bounding set).
    public static var all: UInt64 { kernel & held }

    /// The capabilities this process has in its permitted set.
    public static var held: UInt64 {
        let fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 8192)
        let count = read(fd, &bytes, bytes.count)
        guard count > 0 else { return 0 }
        for line in String(decoding: bytes[0..<count], as: UTF8.self).split(separator: "\n") where line.hasPrefix("CapPrm:") {
            return UInt64(line.dropFirst(7).filter { !$0.isWhitespace }, radix: 16) ?? 0
        }
        return 0
    }

    static var kernel: UInt64 {
        var last = Capability.names.count - 1
        let fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC)
        if fd >= 0 {
            var bytes = [UInt8](repeating: 0, count: 16)
            let count = read(fd, &bytes, bytes.count)
            close(fd)
            if count > 0, let value = Int(String(decoding: bytes[0..<count].filter { $0 >= 0x30 && $0 <= 0x39 }, as: UTF8.self)) {
                last = value
            }
        }
        return last >= 63 ? UInt64.max : (UInt64(1) << UInt64(last + 1)) - 1
    }

    /// `--cap-add`, `--cap-drop` (names with or without CAP_, any case, or ALL) and
    /// `--privileged`, for a process running as `uid`. Root gets the set as bounding,
    /// permitted and effective, nothing inheritable or ambient. Another user gets nothing
    /// effective from the set (as with Docker, capabilities need file capabilities), except
    /// what was added explicitly, which is raised as ambient (and so inheritable and
    /// permitted too, as the kernel requires of an ambient capability).
    public static func resolve(add: [String], drop: [String], privileged: Bool, uid: UInt32) throws -> CapabilitySets {
        let everything = all
        func mask(_ names: [String], flag: String) throws -> UInt64 {
            if names.contains(where: { $0.uppercased() == "ALL" }) { return everything }
            return try Capability.mask(names, field: flag)
        }
        let added = try mask(add, flag: "--cap-add")
        let dropped = try mask(drop, flag: "--cap-drop")
        if added & ~everything != 0 {
            let missing = (0..<64).filter { added & ~everything & (1 << UInt64($0)) != 0 }
                .map { $0 < Capability.names.count ? Capability.names[$0] : "\($0)" }
            throw CapabilityError("--cap-add: netctl itself does not hold \(missing.joined(separator: ", ")) on this host, so it cannot give it")
        }
        var set = privileged ? everything : try Capability.mask(dockerDefault, field: "default")
        set &= ~dropped
        set = (set | added) & everything
        if uid == 0 {
            return CapabilitySets(bounding: set, effective: set, permitted: set, inheritable: 0, ambient: 0)
        }
        let raised = privileged ? 0 : added & set
        return CapabilitySets(bounding: set, effective: raised, permitted: raised, inheritable: raised, ambient: raised)
    }
}
