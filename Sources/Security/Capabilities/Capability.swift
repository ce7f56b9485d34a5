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
