import Glibc

/// netctl's default AppArmor profile, generated from a template with the profile's name:
/// in intent Docker's docker-default. The container may use the network, capabilities it
/// holds and files of its own root, and signal itself; it may not mount, write to
/// /proc/sys (but for kernel.shm*), the sysrq trigger or /proc/kcore, write anywhere under
/// /sys but its cgroup tree, read firmware or the security filesystem, or ptrace anything
/// outside its own profile.
public enum AppArmorProfile {
    public static let defaultName = "netctl-default"

    public static func generate(name: String = defaultName) -> String {
        """
        #include <tunables/global>

        profile \(name) flags=(attach_disconnected,mediate_deleted) {
          #include <abstractions/base>

          network,
          capability,
          file,
          umount,

          # Signals: from outside the container, and within it.
          signal (receive) peer=unconfined,
          signal (send,receive) peer=\(name),

          # /proc: no writes to its top-level files or to any process's but our own, none
          # to /proc/sys except kernel.shm*, nothing at all of sysrq-trigger and kcore.
          deny @{PROC}/* w,
          deny @{PROC}/{[^1-9],[^1-9][^0-9],[^1-9s][^0-9y][^0-9s],[^1-9][^0-9][^0-9][^0-9/]*}/** w,
          deny @{PROC}/sys/[^k]** w,
          deny @{PROC}/sys/kernel/{?,??,[^s][^h][^m]**} w,
          deny @{PROC}/sysrq-trigger rwklx,
          deny @{PROC}/kcore rwklx,

          deny mount,

          # /sys: read-only, except the cgroup tree; firmware and securityfs not even read.
          deny /sys/[^f]*/** wklx,
          deny /sys/f[^s]*/** wklx,
          deny /sys/fs/[^c]*/** wklx,
          deny /sys/fs/c[^g]*/** wklx,
          deny /sys/fs/cg[^r]*/** wklx,
          deny /sys/firmware/** rwklx,
          deny /sys/kernel/security/** rwklx,

          # ptrace only within the container's own profile.
          ptrace (trace,read,tracedby,readby) peer=\(name),
        }

        """
    }

    /// Profile names netctl writes into the template: letters, digits, `_`, `.`, `-`.
    public static func validate(_ name: String) throws {
        let allowed = name.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x61 && $0 <= 0x7a) || [0x2d, 0x2e, 0x5f].contains($0) }
        guard !name.isEmpty, name.utf8.count <= 128, allowed else {
            throw CapabilityError("invalid AppArmor profile name \"\(name)\": expected letters, digits, '_', '.' and '-'")
        }
    }

    /// Whether this kernel enforces AppArmor (securityfs shows it).
    public static var kernelHasAppArmor: Bool {
        access("/sys/kernel/security/apparmor", F_OK) == 0
    }
}
