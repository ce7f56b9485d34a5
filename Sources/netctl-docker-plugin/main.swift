import CLinux
import CNM
import Glibc
import VXLAN

// netctl-docker-plugin: Docker's remote network and IPAM driver (libnetwork's plugin
// protocol), served over a Unix socket in /run/docker/plugins, where dockerd finds plugins
// by name. Its whole life: read the flags, open the root's network controller and the
// socket, answer requests until SIGTERM or SIGINT, remove the socket, exit 0.

let usage = """
    Usage: netctl docker-plugin [--root DIR] [--socket PATH] [--name NAME] [--host-netns NAME]

    Serves Docker's remote network driver and IPAM driver protocols for a netctl state root:
      docker network create -d netctl [--ipam-driver netctl] --subnet 198.18.0.0/24 NET

    Options:
      --root DIR          State root (env NETCTL_ROOT; /var/lib/netctl).
      --socket PATH       The plugin's socket (default /run/docker/plugins/NAME.sock).
      --name NAME         The name Docker knows the driver by (default netctl).
      --host-netns NAME   A named network namespace as the host (env NETCTL_HOST_NETNS).
      -h, --help          Show this help.

    """

func fail(_ message: String, code: Int32 = 1) -> Never {
    let line = "netctl-docker-plugin: \(message)\n"
    _ = write(2, line, line.utf8.count)
    exit(code)
}

func environment(_ name: String) -> String? {
    guard let value = getenv(name), value.pointee != 0 else { return nil }
    return String(cString: value)
}

// 1. Flags.
var root = environment("NETCTL_ROOT") ?? "/var/lib/netctl"
var socketPath: String?
var name = "netctl"
var hostNetns = environment("NETCTL_HOST_NETNS")
var arguments = CommandLine.arguments.dropFirst()
while let flag = arguments.popFirst() {
    var value: String?
    var key = flag
    if flag.hasPrefix("--"), let equals = flag.firstIndex(of: "=") {
        key = String(flag[..<equals])
        value = String(flag[flag.index(after: equals)...])
    }
    if key == "-h" || key == "--help" {
        print(usage, terminator: "")
        exit(0)
    }
    guard ["--root", "--socket", "--name", "--host-netns"].contains(key) else {
        fail("unknown option \"\(flag)\": expected --root, --socket, --name or --host-netns", code: 2)
    }
    guard let given = value ?? arguments.popFirst(), !given.isEmpty else { fail("\(key) needs a value", code: 2) }
    switch key {
    case "--root": root = given
    case "--socket": socketPath = given
    case "--name": name = given
    default: hostNetns = given
    }
}
guard !name.isEmpty, name.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x7a) || $0 == 0x2d || $0 == 0x5f || $0 == 0x2e }) else {
    fail("invalid --name \"\(name)\": expected lowercase letters, digits, '-', '_' or '.'", code: 2)
}
let path = socketPath ?? "/run/docker/plugins/\(name).sock"

// 2. The signals that end the service arrive on a descriptor the loop polls.
var signals = sigset_t()
sigemptyset(&signals)
sigaddset(&signals, SIGTERM)
sigaddset(&signals, SIGINT)
sigprocmask(SIG_BLOCK, &signals, nil)
let stop = signalfd(-1, &signals, Int32(O_CLOEXEC))
guard stop >= 0 else { fail("signalfd: \(String(cString: strerror(errno)))") }
signal(SIGPIPE, SIG_IGN)

// 3. The root's controller (made on first use), then the socket.
let controller: NetworkController
do {
    controller = try NetworkStack.controller(NetworkStack.Settings(root: root, hostNetns: hostNetns))
} catch {
    fail("\(error)")
}
let plugin = DockerPlugin(controller: controller, ipam: DockerIPAM(controller: controller))
let server: HTTPServer
do {
    server = try HTTPServer(path: path)
} catch {
    fail(error.description)
}
let ready = "netctl-docker-plugin: serving driver \"\(name)\" on \(path) for root \(root)\n"
_ = write(2, ready, ready.utf8.count)

// 4. Requests until a signal; then the socket goes, so dockerd sees the plugin gone.
server.serve(until: stop) { plugin.handle($0) }
server.shutDown()
exit(0)
