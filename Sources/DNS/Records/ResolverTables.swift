import Glibc

/// Where a state root keeps what its resolver serves: `ROOT/dns`. CNM writes the tables
/// (a file per network, a file per sandbox) under the store's lock and then asks the
/// resolver to `sync`; the resolver only reads them. Plain text, a line per record, so
/// that `cat` explains what a container will be answered, and the resolver needs no JSON.
///
///     ROOT/dns/networks/NETID          names of this host's endpoints on NETID
///     ROOT/dns/networks/NETID.remote   names on other hosts (overlays; the agent writes it)
///     ROOT/dns/sandboxes/SANDBOX       a sandbox served: its netns, port, upstreams
///     ROOT/dns/resolver.sock           control socket (SOCK_SEQPACKET)
///     ROOT/dns/resolver.pid, .lock, .log
public struct ResolverPaths: Sendable, Equatable {
    public let directory: String

    public init(root: String) { directory = "\(root)/dns" }

    public var networks: String { "\(directory)/networks" }
    public var sandboxes: String { "\(directory)/sandboxes" }
    public var control: String { "\(directory)/resolver.sock" }
    public var pidFile: String { "\(directory)/resolver.pid" }
    public var lockFile: String { "\(directory)/resolver.lock" }
    public var logFile: String { "\(directory)/resolver.log" }
    public func network(_ id: String, remote: Bool = false) -> String { "\(networks)/\(id)\(remote ? ".remote" : "")" }
    public func sandbox(_ name: String) -> String { "\(sandboxes)/\(name)" }
}

/// The names one endpoint answers to on one network. `sandbox` is nil for an endpoint on
/// another host (a remote overlay peer): its names resolve, but no query comes from it here.
public struct NameRecord: Sendable, Equatable {
    /// Lowercase DNS names; the first is the canonical one (the container's name), which
    /// PTR queries answer with.
    public var names: [String]
    public var ipv4: String?
    public var ipv6: String?
    public var sandbox: String?

    public init(names: [String], ipv4: String?, ipv6: String?, sandbox: String?) {
        self.names = names
        self.ipv4 = ipv4
        self.ipv6 = ipv6
        self.sandbox = sandbox
    }
}

/// The table of one network:
///
///     netctl-dns 1 network NAME
///     SANDBOX|- IPV4|- IPV6|- NAME [NAME…]
public struct NetworkTable: Sendable, Equatable {
    public var name: String
    public var records: [NameRecord]

    public init(name: String, records: [NameRecord]) {
        self.name = name
        self.records = records
    }

    public var text: String {
        var text = "netctl-dns 1 network \(name)\n"
        for record in records where !record.names.isEmpty {
            text += "\(record.sandbox ?? "-") \(record.ipv4 ?? "-") \(record.ipv6 ?? "-") \(record.names.joined(separator: " "))\n"
        }
        return text
    }

    public init(parsing text: String, path: String) throws {
        var lines = text.split(separator: "\n").makeIterator()
        let header = lines.next().map { $0.split(separator: " ") } ?? []
        guard header.count == 4, header[0] == "netctl-dns", header[1] == "1", header[2] == "network" else {
            throw TableError("\(path): expected a first line \"netctl-dns 1 network NAME\"")
        }
        name = String(header[3])
        records = []
        while let line = lines.next() {
            let fields = line.split(separator: " ").map(String.init)
            guard fields.count >= 4 else { throw TableError("\(path): expected \"SANDBOX IPV4 IPV6 NAME…\", found \"\(line)\"") }
            func optional(_ field: String) -> String? { field == "-" ? nil : field }
            records.append(NameRecord(names: Array(fields[3...]), ipv4: optional(fields[1]), ipv6: optional(fields[2]), sandbox: optional(fields[0])))
        }
    }
}

/// One sandbox the resolver serves: it binds UDP and TCP on 127.0.0.11:`port` inside
/// `namespace`, which nftables in that namespace reaches from 127.0.0.11:53 (so that the
/// container's own programs keep port 53). Queries it cannot answer go to `upstreams`
/// (`--dns`), or to the host's resolvers when there are none.
///
///     netctl-dns 1 sandbox
///     netns /run/netns/SANDBOX
///     port PORT
///     upstream ADDRESS          (repeated; none: the host's)
public struct SandboxTable: Sendable, Equatable {
    public var namespace: String
    public var port: UInt16
    public var upstreams: [String]

    public init(namespace: String, port: UInt16, upstreams: [String]) {
        self.namespace = namespace
        self.port = port
        self.upstreams = upstreams
    }

    public var text: String {
        "netctl-dns 1 sandbox\nnetns \(namespace)\nport \(port)\n" + upstreams.map { "upstream \($0)\n" }.joined()
    }

    public init(parsing text: String, path: String) throws {
        var lines = text.split(separator: "\n").makeIterator()
        guard lines.next() == "netctl-dns 1 sandbox" else { throw TableError("\(path): expected a first line \"netctl-dns 1 sandbox\"") }
        var namespace: String?, port: UInt16?, upstreams: [String] = []
        while let line = lines.next() {
            let fields = line.split(separator: " ", maxSplits: 1).map(String.init)
            switch (fields.first, fields.count) {
            case ("netns", 2): namespace = fields[1]
            case ("port", 2): port = UInt16(fields[1])
            case ("upstream", 2): upstreams.append(fields[1])
            default: throw TableError("\(path): unexpected line \"\(line)\"")
            }
        }
        guard let namespace, let port, port > 0 else { throw TableError("\(path): expected netns and port lines") }
        self.init(namespace: namespace, port: port, upstreams: upstreams)
    }
}

public struct TableError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The resolver tables of a state root, read and written whole: a write goes to a
/// temporary file renamed into place, so the resolver never reads half a table.
public struct ResolverTables: Sendable {
    public let paths: ResolverPaths
    /// Far above a table of thousands of endpoints; a bound on a damaged file.
    public static let fileLimit = 8 << 20

    public init(root: String) { paths = ResolverPaths(root: root) }

    public func write(network id: String, _ table: NetworkTable, remote: Bool = false) throws {
        try Self.write(table.text, to: paths.network(id, remote: remote))
    }

    public func write(sandbox name: String, _ table: SandboxTable) throws {
        try Self.write(table.text, to: paths.sandbox(name))
    }

    public func removeNetwork(_ id: String, remote: Bool = false) { unlink(paths.network(id, remote: remote)) }
    public func removeSandbox(_ name: String) { unlink(paths.sandbox(name)) }

    public func network(_ id: String, remote: Bool = false) throws -> NetworkTable? {
        try Self.read(paths.network(id, remote: remote)).map { try NetworkTable(parsing: $0, path: paths.network(id, remote: remote)) }
    }

    public func sandbox(_ name: String) throws -> SandboxTable? {
        try Self.read(paths.sandbox(name)).map { try SandboxTable(parsing: $0, path: paths.sandbox(name)) }
    }

    /// Every file in `directory` (networks or sandboxes), by name.
    public func names(in directory: String) -> [String] {
        guard let handle = opendir(directory) else { return [] }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if !name.hasPrefix("."), !name.contains(".tmp") { names.append(name) }
        }
        return names.sorted()
    }

    static func write(_ text: String, to path: String) throws {
        let directory = String(path[..<path.lastIndex(of: "/")!])
        try makeDirectories(directory)
        let temporary = "\(path).tmp\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw TableError("cannot write \(temporary): \(String(cString: strerror(errno)))") }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
        guard written == bytes.count, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw TableError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// The file's text, nil if it does not exist.
    static func read(_ path: String) throws -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw TableError("cannot read \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let count = Glibc.read(fd, &chunk, chunk.count)
            if count < 0 { throw TableError("cannot read \(path): \(String(cString: strerror(errno)))") }
            if count == 0 { return String(decoding: bytes, as: UTF8.self) }
            guard bytes.count + count <= fileLimit else { throw TableError("cannot read \(path): larger than \(fileLimit >> 20) MiB") }
            bytes += chunk[0..<count]
        }
    }

    static func makeDirectories(_ path: String) throws {
        var current = ""
        for component in path.split(separator: "/") {
            current += "/\(component)"
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw TableError("cannot create \(current): \(String(cString: strerror(errno)))")
            }
        }
    }
}
