import Glibc

/// Where queries the resolver cannot answer go: a sandbox's `--dns` servers, or the
/// host's nameservers, read once at start from /etc/resolv.conf.
public enum Upstreams {
    public static let port: UInt16 = 53

    /// The nameservers of a resolv.conf text, less 127.0.0.11 (which would be this
    /// resolver, or a container's view of one: never an upstream). Other loopback servers
    /// (systemd-resolved's 127.0.0.53) stay: forwarding happens from the host's namespace.
    public static func fromResolvConf(_ text: String) -> [SocketAddress] {
        var servers: [SocketAddress] = []
        for line in text.split(separator: "\n") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 2, fields[0] == "nameserver", fields[1] != "127.0.0.11" else { continue }
            // A scoped IPv6 (fe80::1%eth0) is not handled: it names an interface by name.
            if let address = SocketAddress(String(fields[1]), port: port) { servers.append(address) }
        }
        return servers
    }

    /// A sandbox table's upstream lines as socket addresses (bad ones skipped: CNM checked
    /// them when it wrote the table).
    public static func parse(_ texts: [String]) -> [SocketAddress] {
        texts.compactMap { SocketAddress($0, port: port) }
    }

    /// The text of /etc/resolv.conf, "" when unreadable.
    public static func readHostResolvConf(_ path: String = "/etc/resolv.conf") -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return "" }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 65536)
        let count = read(fd, &bytes, bytes.count)
        return count > 0 ? String(decoding: bytes.prefix(count), as: UTF8.self) : ""
    }
}
