// netctl-dns --root ROOT: the resolver of a state root's containers, from start to exit.
//
// Started on demand by ResolverControl.sync() (a session of its own, stdio on /dev/null),
// it serves every sandbox listed under ROOT/dns/sandboxes on 127.0.0.11:PORT inside that
// sandbox's namespace, answers names from ROOT/dns/networks, forwards the rest upstream
// from the host's namespace, and exits once it has served no sandbox for --linger
// seconds (30; a run of short-lived containers would otherwise start one each), or on
// SIGTERM.
// One thread, one epoll loop: no Foundation, nothing between a packet and its answer but
// the codec and a dictionary lookup.
import DNS
import Glibc

let version = "netctl-dns 1"

// 1. Arguments.
var arguments = CommandLine.arguments.dropFirst().makeIterator()
var root: String?
var lingerSeconds: Int64 = 30
while let argument = arguments.next() {
    switch argument {
    case "--linger":
        guard let text = arguments.next(), let value = Int64(text), (0...86_400).contains(value) else {
            let message = "netctl-dns: --linger expects seconds from 0 to 86400\n"
            _ = write(2, message, message.utf8.count)
            exit(2)
        }
        lingerSeconds = value
    case "--version":
        print(version)
        exit(0)
    case "--root":
        root = arguments.next()
    default:
        let message = "netctl-dns: unexpected argument \"\(argument)\" (usage: netctl-dns --root ROOT [--linger SECONDS])\n"
        _ = write(2, message, message.utf8.count)
        exit(2)
    }
}
guard let root, root.hasPrefix("/") else {
    let message = "netctl-dns: expected --root ROOT, an absolute path\n"
    _ = write(2, message, message.utf8.count)
    exit(2)
}
let paths = ResolverPaths(root: root)

func fail(_ message: String) -> Never {
    let line = "netctl-dns: \(message)\n"
    _ = write(2, line, line.utf8.count)
    exit(1)
}

// 2. The host's namespace (NETCTL_HOST_NETNS, as netctl treats it), entered before any
// thread exists: every forwarded query leaves from there, as the host's own would.
if let name = getenv("NETCTL_HOST_NETNS").map({ String(cString: $0) }), !name.isEmpty {
    let fd = open("/run/netns/\(name)", O_RDONLY | O_CLOEXEC)
    guard fd >= 0, LinuxCalls.enterNetworkNamespace(fd) else { fail("cannot enter network namespace \(name): \(String(cString: strerror(errno)))") }
    close(fd)
}

// 3. One resolver per state root: the lock is held for the process's life. Another one
// holding it and answering serves already, so this one has nothing to do. One holding it
// without answering is on its way out (its last sandbox went): wait for it, a second at most.
mkdir(root, 0o755)
mkdir(paths.directory, 0o755)
let lock = open(paths.lockFile, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
guard lock >= 0 else { fail("cannot open \(paths.lockFile): \(String(cString: strerror(errno)))") }
var locked = false
for _ in 0..<100 {
    if flock(lock, LOCK_EX | LOCK_NB) == 0 { locked = true; break }
    if ResolverControl(root: root, executable: "").runningPID() != nil { exit(0) }
    usleep(10_000)
}
guard locked else { exit(0) }

// 4. The log becomes stderr.
let logFD = open(paths.logFile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
if logFD >= 0 { dup2(logFD, 2); close(logFD) }
func log(_ message: String) {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    var parts = tm()
    var seconds = now.tv_sec
    gmtime_r(&seconds, &parts)
    func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
    let stamp = "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
    let line = "\(stamp) netctl-dns[\(getpid())] \(message)\n"
    _ = write(2, line, line.utf8.count)
}

// 5. The pid file.
let pidText = "\(getpid())\n"
let pidFD = open(paths.pidFile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
if pidFD >= 0 { _ = write(pidFD, pidText, pidText.utf8.count); close(pidFD) }
log("started (root \(root))")

// 6. Signals through a descriptor, so the loop sees SIGTERM as an event.
let signals = LinuxCalls.signalDescriptor([SIGTERM, SIGINT])
signal(SIGPIPE, SIG_IGN)

// 7. The tables, and a socket pair per sandbox in its namespace.
let hostUpstreams = Upstreams.fromResolvConf(Upstreams.readHostResolvConf())
let server: ResolverServer
do {
    server = try ResolverServer(root: root, hostUpstreams: hostUpstreams, log: log)
} catch {
    fail("\(error)")
}
for problem in server.sync() { log(problem) }
if signals >= 0 { server.watchSignals(signals) }
log("serving \(server.sandboxCount) sandboxes, \(server.index.recordCount) names; upstreams \(hostUpstreams.map(\.text))")

// 8. The control socket: "sync" and "ping", a reply each.
unlink(paths.control)
let control = socket(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
var controlAddress = sockaddr_un()
controlAddress.sun_family = sa_family_t(AF_UNIX)
withUnsafeMutableBytes(of: &controlAddress.sun_path) { $0.copyBytes(from: Array(paths.control.utf8).prefix($0.count - 1)) }
let bound = withUnsafePointer(to: &controlAddress) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(control, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
}
guard control >= 0, bound == 0, listen(control, 64) == 0 else { fail("cannot listen on \(paths.control): \(String(cString: strerror(errno)))") }
server.watchControl(control)

@MainActor func cleanUp() {
    server.shutdown()
    unlink(paths.control)
    unlink(paths.pidFile)
}

/// One request on a fresh control connection.
/// (The loop calls it on the main thread, where top-level code lives.)
func serveControl(_ listener: Int32) { MainActor.assumeIsolated { serveControlRequest(listener) } }
@MainActor func serveControlRequest(_ listener: Int32) {
    let connection = accept(listener, nil, nil)
    guard connection >= 0 else { return }
    defer { close(connection) }
    var timeout = timeval(tv_sec: 1, tv_usec: 0)
    setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var request = [UInt8](repeating: 0, count: 256)
    let count = recv(connection, &request, request.count, 0)
    guard count > 0 else { return }
    let reply: String
    switch String(decoding: request.prefix(count), as: UTF8.self) {
    case "ping":
        reply = "ok \(getpid())"
    case "sync":
        let problems = server.sync()
        for problem in problems { log(problem) }
        reply = problems.isEmpty ? "ok" : "error " + problems.joined(separator: "; ")
    default:
        reply = "error unknown request (expected sync or ping)"
    }
    _ = send(connection, reply, reply.utf8.count, Int32(MSG_NOSIGNAL))
}

// 9. The loop, until SIGTERM or --linger seconds without a sandbox. (The lock is held
// until the process ends: a command that finds the resolver gone while it exits starts a
// new one, which waits for the lock.)
var idleSince: Int64? = server.hasSandboxes ? nil : monotonicMilliseconds()
while !server.stopping {
    let deadline = idleSince.map { $0 + lingerSeconds * 1000 }
    if let deadline, monotonicMilliseconds() >= deadline { break }
    server.runOnce(control: serveControl, wakeBy: deadline)
    if server.hasSandboxes { idleSince = nil } else if idleSince == nil { idleSince = monotonicMilliseconds() }
}
log(server.stopping ? "terminated: exiting" : "no sandbox for \(lingerSeconds) s: exiting")
cleanUp()
exit(0)
