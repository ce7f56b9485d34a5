import Glibc

/// mount(8)-style options as runtime-spec lists them: the flags, and what is left over as
/// the filesystem's own data (`mode=755,size=65536k`).
enum MountOptions {
    private static let flags: [String: (set: Bool, flag: Int)] = [
        "ro": (true, Int(MS_RDONLY)), "rw": (false, Int(MS_RDONLY)), "nosuid": (true, Int(MS_NOSUID)), "suid": (false, Int(MS_NOSUID)),
        "nodev": (true, Int(MS_NODEV)), "dev": (false, Int(MS_NODEV)), "noexec": (true, Int(MS_NOEXEC)), "exec": (false, Int(MS_NOEXEC)),
        "sync": (true, Int(MS_SYNCHRONOUS)), "async": (false, Int(MS_SYNCHRONOUS)), "dirsync": (true, Int(MS_DIRSYNC)),
        "remount": (true, Int(MS_REMOUNT)), "mand": (true, Int(MS_MANDLOCK)), "nomand": (false, Int(MS_MANDLOCK)),
        "atime": (false, Int(MS_NOATIME)), "noatime": (true, Int(MS_NOATIME)), "diratime": (false, Int(MS_NODIRATIME)),
        "nodiratime": (true, Int(MS_NODIRATIME)), "bind": (true, Int(MS_BIND)), "rbind": (true, Int(MS_BIND | MS_REC)),
        "relatime": (true, Int(MS_RELATIME)), "norelatime": (false, Int(MS_RELATIME)), "strictatime": (true, Int(MS_STRICTATIME)),
        "nostrictatime": (false, Int(MS_STRICTATIME)),
        "private": (true, Int(MS_PRIVATE)), "rprivate": (true, Int(MS_PRIVATE | MS_REC)), "shared": (true, Int(MS_SHARED)),
        "rshared": (true, Int(MS_SHARED | MS_REC)), "slave": (true, Int(MS_SLAVE)), "rslave": (true, Int(MS_SLAVE | MS_REC)),
        "unbindable": (true, Int(MS_UNBINDABLE)), "runbindable": (true, Int(MS_UNBINDABLE | MS_REC)),
    ]

    /// Every option it knows, for `features`.
    static var names: [String] { flags.keys.sorted() }

    static func parse(_ options: [String]) -> (flags: UInt, data: String?) {
        var result = 0
        var data: [String] = []
        for option in options {
            // runc's extensions that are no mount(2) data: tmpcopyup (copy what the image
            // has below a tmpfs into it: not done here, the tmpfs starts empty), and
            // SELinux relabelling, which this host does not have.
            if ["tmpcopyup", "notmpcopyup", "z", "Z"].contains(option) { continue }
            if let known = flags[option] {
                result = known.set ? result | known.flag : result & ~known.flag
            } else {
                data.append(option)
            }
        }
        return (UInt(result), data.isEmpty ? nil : data.joined(separator: ","))
    }

    /// `rootfsPropagation`.
    static func propagation(_ text: String?) throws -> UInt {
        guard let text else { return UInt(MS_REC | MS_SLAVE) }
        guard let known = flags[text], Int(MS_PRIVATE | MS_SHARED | MS_SLAVE | MS_UNBINDABLE) & known.flag != 0 else {
            throw RuntimeError("linux.rootfsPropagation \"\(text)\": expected private, rprivate, shared, rshared, slave, rslave, unbindable or runbindable")
        }
        return UInt(known.flag)
    }
}
