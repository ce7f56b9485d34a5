import CRuntimeShim
import Glibc

/// How netctl talks to its resolver: one request per connection on `ROOT/dns/resolver.sock`
/// (SOCK_SEQPACKET), a reply per request.
///
///     sync    → "ok" | "error TEXT"   reread every table: open the sandboxes' sockets
///                                     that are new, close the gone ones, reload names
///     ping    → "ok PID"
///
/// The resolver is started on demand, by the first command that needs it: no daemon to
/// install, as aardvark-dns is for podman. It exits by itself once no sandbox has been
/// left to it for a while (`lingerSeconds`), so that a run of short-lived containers does
/// not start one for each.
public struct ResolverControl: Sendable {
    public let paths: ResolverPaths
    public let root: String
    /// The resolver executable (`netctl-dns`, next to `netctl`).
    public let executable: String
    /// The namespace (a name under /run/netns) a resolver this starts treats as the host's
    /// (its NETCTL_HOST_NETNS); nil: whatever this process's environment says.
    public let hostNamespace: String?
    /// How long a resolver this starts stays once it serves no sandbox (`--linger`); nil:
    /// the resolver's default, 30 s.
    public var lingerSeconds: Int?

    public init(root: String, executable: String) {
        self.init(root: root, executable: executable, hostNamespace: nil)
    }

    public init(root: String, executable: String, hostNamespace: String?) {
        self.root = root
        self.executable = executable
        self.hostNamespace = hostNamespace
        paths = ResolverPaths(root: root)
    }

    /// `netctl-dns` in the directory of the running executable, or `NETCTL_DNS_BINARY`.
    public static func executableNextToSelf() -> String {
        if let path = getenv("NETCTL_DNS_BINARY") { return String(cString: path) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        let own = count > 0 ? String(decoding: buffer.prefix(count), as: UTF8.self) : "netctl"
        return own.lastIndex(of: "/").map { "\(own[..<$0])/netctl-dns" } ?? "netctl-dns"
    }

    /// Makes the resolver serve the tables as they are now; starts it first if it is not
    /// running and `start` is true. Returns when the resolver has reread them.
    public func sync(start: Bool = true) throws {
        if let reply = try request("sync") { return try Self.check(reply) }
        guard start else { return }
        try launch()
        guard let reply = try request("sync") else { throw TableError("resolver did not answer on \(paths.control) (see \(paths.logFile))") }
        try Self.check(reply)
    }

    /// The running resolver's pid, nil when none answers.
    public func runningPID() -> pid_t? {
        guard let reply = try? request("ping"), reply.hasPrefix("ok ") else { return nil }
        return pid_t(reply.dropFirst(3))
    }

    private static func check(_ reply: String) throws {
        guard reply == "ok" else { throw TableError("resolver: \(reply.hasPrefix("error ") ? String(reply.dropFirst(6)) : reply)") }
    }

    /// The reply to `text`, nil when no resolver listens.
    func request(_ text: String) throws -> String? {
        let fd = socket(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw TableError("socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard try connect(fd) else { return nil }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let bytes = Array(text.utf8)
        guard send(fd, bytes, bytes.count, Int32(MSG_NOSIGNAL)) == bytes.count else { return nil }
        var reply = [UInt8](repeating: 0, count: 4096)
        let count = recv(fd, &reply, reply.count, 0)
        if count < 0, errno == EAGAIN { throw TableError("resolver did not reply to \(text) within 5 s (see \(paths.logFile))") }
        guard count > 0 else { return nil }
        return String(decoding: reply.prefix(count), as: UTF8.self)
    }

    /// Connects `fd` to the control socket; false when nothing listens there.
    private func connect(_ fd: Int32) throws -> Bool {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let path = Array(paths.control.utf8)
        guard path.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw TableError("state root \(root) is too long for the resolver's socket (\(paths.control): at most 107 bytes)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: path) }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        if result == 0 { return true }
        if errno == ENOENT || errno == ECONNREFUSED { return false }
        throw TableError("cannot reach the resolver at \(paths.control): \(String(cString: strerror(errno)))")
    }

    /// Starts `netctl-dns --root ROOT` in a session of its own with default signal
    /// dispositions and no descriptor of ours (the store's lock above all); it writes its
    /// own log. Waits until it answers. Two commands starting it at once are fine: the
    /// resolver holds a lock, and the second exits.
    private func launch() throws {
        try ResolverTables.makeDirectories(paths.directory)
        let devNull = open("/dev/null", O_RDWR | O_CLOEXEC)
        defer { close(devNull) }
        let arguments = [executable, "--root", root] + (lingerSeconds.map { ["--linger", "\($0)"] } ?? [])
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var environment: [UnsafeMutablePointer<CChar>?] = []
        var index = 0
        while let entry = environ[index] {
            if hostNamespace == nil || !String(cString: entry).hasPrefix("NETCTL_HOST_NETNS=") { environment.append(strdup(entry)) }
            index += 1
        }
        if let hostNamespace { environment.append(strdup("NETCTL_HOST_NETNS=\(hostNamespace)")) }
        environment.append(nil)
        defer { environment.forEach { free($0) } }
        let pid = shim_spawn_daemon(executable, &argv, &environment, devNull)
        guard pid > 0 else { throw TableError("cannot start the resolver \(executable): \(String(cString: strerror(errno)))") }
        // Reaped by init once we exit; until then a zombie only if it dies first, which
        // the next check notices.
        for _ in 0..<1500 {
            if (try? request("ping")) != nil { return }
            var reaped: Int32 = 0
            if waitpid(pid, &reaped, WNOHANG) == pid {
                // Lost the race to a resolver another command started: that one answers.
                if (try? request("ping")) != nil { return }
                throw TableError("the resolver exited at start (status \(reaped)); see \(paths.logFile)")
            }
            usleep(2000)
        }
        throw TableError("the resolver did not start within 3 s; see \(paths.logFile)")
    }
}
