import CNetlink
import Glibc

/// A network namespace, held open by a file descriptor.
///
/// Named namespaces live where `ip netns` keeps them (a bind mount of the namespace file on
/// /run/netns/NAME), so `ip netns exec NAME …` and every other tool can find them.
public final class NetworkNamespace: Sendable {
    public static let directory = "/run/netns"

    public let descriptor: Int32
    public let name: String?

    private init(descriptor: Int32, name: String?) {
        self.descriptor = descriptor
        self.name = name
    }

    deinit { close(descriptor) }

    /// The named namespace under /run/netns.
    public static func open(named name: String) throws -> NetworkNamespace {
        try validate(name)
        let path = "\(directory)/\(name)"
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw NetlinkError.system("open network namespace", name) }
        guard isNamespaceFile(fd) else {
            close(fd)
            throw NetlinkError(operation: "open network namespace", object: name, errno: EINVAL,
                               kernelMessage: "\(path) is not a mounted namespace")
        }
        return NetworkNamespace(descriptor: fd, name: name)
    }

    /// A namespace given by the path of its file, as a CNI runtime names it
    /// (/var/run/netns/NAME or /proc/PID/ns/net).
    public static func open(path: String) throws -> NetworkNamespace {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw NetlinkError.system("open network namespace", path) }
        // NS_GET_NSTYPE: a namespace file of another kind (/proc/PID/ns/mnt) is refused too.
        guard isNamespaceFile(fd), ioctl(fd, 0xb703) == Int32(NC_CLONE_NEWNET) else {
            close(fd)
            throw NetlinkError(operation: "open network namespace", object: path, errno: EINVAL,
                               kernelMessage: "\(path) is not a network namespace")
        }
        return NetworkNamespace(descriptor: fd, name: nil)
    }

    /// The namespace of a process: /proc/PID/ns/net.
    public static func open(pid: Int32) throws -> NetworkNamespace {
        let fd = Glibc.open("/proc/\(pid)/ns/net", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw NetlinkError.system("open network namespace", "of pid \(pid)") }
        return NetworkNamespace(descriptor: fd, name: nil)
    }

    /// The namespace the calling thread is in.
    public static func current() throws -> NetworkNamespace {
        let fd = Glibc.open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw NetlinkError.system("open network namespace", "of this thread") }
        return NetworkNamespace(descriptor: fd, name: nil)
    }

    public static func exists(named name: String) -> Bool {
        guard (try? validate(name)) != nil else { return false }
        return access("\(directory)/\(name)", F_OK) == 0
    }

    /// The names under /run/netns.
    public static func names() -> [String] { Directory.names(in: directory) }

    /// `ip netns add NAME`. `setup` runs with a session inside the new namespace (bringing
    /// up lo and marking it, say) before the namespace gets its name, so a process killed
    /// halfway never leaves a named namespace that `setup` did not finish; at worst the
    /// empty placeholder file, which `remove` also takes. `beforeMount` runs between the
    /// placeholder and the mount (a test's fault point).
    @discardableResult
    public static func create(named name: String, setup: (NetlinkSession) throws -> Void = { _ in },
                              beforeMount: () -> Void = {}) throws -> NetworkNamespace {
        try validate(name)
        try prepareDirectory()
        let path = "\(directory)/\(name)"
        var placed = false
        do {
            try onDedicatedThread {
                guard unshare(NC_CLONE_NEWNET) == 0 else { throw NetlinkError.system("unshare", "network namespace \(name)") }
                try setup(try NetlinkSession())
                let placeholder = Glibc.open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0)
                guard placeholder >= 0 else { throw NetlinkError.system("create network namespace", name) }
                close(placeholder)
                placed = true
                beforeMount()
                guard mount("/proc/thread-self/ns/net", path, "none", UInt(MS_BIND), nil) == 0 else {
                    throw NetlinkError.system("mount", path)
                }
            }
            return try open(named: name)
        } catch {
            if placed {
                _ = umount2(path, Int32(MNT_DETACH))
                unlink(path)
            }
            throw error
        }
    }

    /// `ip netns delete NAME`. The kernel frees the namespace once nothing holds it.
    public static func remove(named name: String) throws {
        try validate(name)
        let path = "\(directory)/\(name)"
        if umount2(path, Int32(MNT_DETACH)) != 0 && nc_errno() != EINVAL && nc_errno() != ENOENT {
            throw NetlinkError.system("unmount", path)
        }
        guard unlink(path) == 0 else { throw NetlinkError.system("delete network namespace", name) }
    }

    /// Runs `body` on a dedicated thread inside this namespace: long enough to open a socket
    /// or a file there. Sockets keep the namespace they were opened in.
    public func perform<T>(_ body: () throws -> T) throws -> T {
        try onDedicatedThread {
            guard setns(descriptor, NC_CLONE_NEWNET) == 0 else {
                throw NetlinkError.system("setns", name.map { "network namespace \($0)" } ?? "network namespace")
            }
            return try body()
        }
    }

    /// `sysctl -w KEY=VALUE` inside this namespace, KEY as a path below /proc/sys
    /// (`net/ipv6/conf/all/forwarding`).
    public func setSysctl(_ key: String, _ value: String) throws {
        try perform { try Sysctl.write(key, value) }
    }

    /// Two descriptors name the same namespace when their inodes match.
    public func isSame(as other: NetworkNamespace) -> Bool {
        var a = stat(), b = stat()
        return fstat(descriptor, &a) == 0 && fstat(other.descriptor, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev
    }

    static func validate(_ name: String) throws {
        guard !name.isEmpty, name.utf8.count <= 255, !name.contains("/"), name != ".", name != ".." else {
            throw NetlinkError(operation: "network namespace", object: "\"\(name)\"", errno: EINVAL,
                               kernelMessage: "a name is 1 to 255 bytes without \"/\"")
        }
    }

    private static func isNamespaceFile(_ fd: Int32) -> Bool {
        var info = statfs()
        return fstatfs(fd, &info) == 0 && info.f_type == NSFS_MAGIC
    }

    /// As `ip netns add` does: /run/netns is a shared mount, so namespaces mounted in it are
    /// seen by every mount namespace. Serialized with a lock on the directory, so that two
    /// processes never stack two bind mounts on it.
    private static func prepareDirectory() throws {
        if mkdir(directory, 0o755) != 0 && nc_errno() != EEXIST { throw NetlinkError.system("mkdir", directory) }
        let dir = Glibc.open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dir >= 0 else { throw NetlinkError.system("open", directory) }
        defer { close(dir) }
        flock(dir, LOCK_EX)
        defer { flock(dir, LOCK_UN) }
        if mount("", directory, "none", UInt(MS_SHARED | MS_REC), nil) == 0 { return }
        guard nc_errno() == EINVAL,
              mount(directory, directory, "none", UInt(MS_BIND | MS_REC), nil) == 0,
              mount("", directory, "none", UInt(MS_SHARED | MS_REC), nil) == 0 else {
            throw NetlinkError.system("mount --make-shared", directory)
        }
    }
}

/// Kernel parameters under /proc/sys, in the namespace of the calling thread.
public enum Sysctl {
    public static func write(_ key: String, _ value: String) throws {
        let path = "/proc/sys/" + key
        let fd = Glibc.open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw NetlinkError.system("sysctl", key) }
        defer { close(fd) }
        let written = value.withCString { Glibc.write(fd, $0, strlen($0)) }
        guard written >= 0 else { throw NetlinkError.system("sysctl", "\(key)=\(value)") }
    }

    public static func read(_ key: String) throws -> String {
        let fd = Glibc.open("/proc/sys/" + key, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw NetlinkError.system("sysctl", key) }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = Glibc.read(fd, &buffer, buffer.count)
        guard count >= 0 else { throw NetlinkError.system("sysctl", key) }
        return String(decoding: buffer.prefix(count), as: UTF8.self).trimmingSuffix("\n")
    }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}
