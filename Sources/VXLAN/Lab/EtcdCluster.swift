import Glibc
import Netlink

/// etcd for tests and the lab: one process per member, each started by pid (inside a
/// network namespace when the member has one) and stopped by pid, with TLS on client and
/// peer URLs when certificates are given.
public final class EtcdCluster: @unchecked Sendable {
    public struct Member: Sendable, Equatable {
        public var name: String
        /// A network namespace under /run/netns to run in; nil: this one.
        public var namespace: String?
        /// The IP it listens and advertises on.
        public var address: String
        public var clientPort: UInt16
        public var peerPort: UInt16

        public init(name: String, namespace: String? = nil, address: String, clientPort: UInt16, peerPort: UInt16) {
            self.name = name
            self.namespace = namespace
            self.address = address
            self.clientPort = clientPort
            self.peerPort = peerPort
        }
    }

    public let members: [Member]
    public let directory: String
    public let certificates: ClusterCertificates?
    /// Each member's pid, 0 while it is stopped.
    public private(set) var pids: [Int32]

    /// How often etcd sends progress notifications on watches that asked for them, so a
    /// client's `watchSilenceLimit` above it notices a hung server.
    public static let progressNotifyInterval = 2.0

    /// The client URLs, for `EtcdClient(endpoints:tls:)`.
    public var endpoints: [String] { members.map { clientURL($0) } }
    /// What a client presents: the CA and the client certificate; nil without TLS.
    public var tls: EtcdTLS? { certificates?.clientTLS }

    private init(members: [Member], directory: String, certificates: ClusterCertificates?) {
        self.members = members
        self.directory = directory
        self.certificates = certificates
        pids = Array(repeating: 0, count: members.count)
    }

    deinit { shutdown() }

    /// Starts every member, data under `directory/NAME` and each log in
    /// `directory/NAME.log`, and waits until each answers with a leader elected (at most
    /// 10 s). On failure the members already started are stopped again.
    public static func start(members: [Member], directory: String, certificates: ClusterCertificates?) throws -> EtcdCluster {
        guard !members.isEmpty else { throw EtcdError(.setup, "etcd cluster: no member given") }
        if mkdir(directory, 0o700) != 0 && errno != EEXIST {
            throw EtcdError(.setup, "etcd cluster in \(directory): \(String(cString: strerror(errno)))")
        }
        let cluster = EtcdCluster(members: members, directory: directory, certificates: certificates)
        do {
            for index in members.indices { try cluster.spawn(index) }
            let deadline = monotonicSeconds() + 10
            for index in members.indices { try cluster.waitUntilHealthy(index, deadline: deadline) }
        } catch {
            cluster.shutdown()
            throw error
        }
        return cluster
    }

    /// Stops one member (SIGTERM, then waits for it); its data stays for `start(member:)`.
    public func stop(member index: Int) throws {
        guard pids.indices.contains(index) else { throw EtcdError(.setup, "etcd cluster: no member \(index) (has \(pids.count))") }
        guard pids[index] != 0 else { return }
        LabProcess.stop(pids[index])
        pids[index] = 0
    }

    /// Starts a stopped member again on its data directory, so it rejoins with its
    /// identity; waits until it answers (at most 10 s).
    public func start(member index: Int) throws {
        guard pids.indices.contains(index) else { throw EtcdError(.setup, "etcd cluster: no member \(index) (has \(pids.count))") }
        guard pids[index] == 0 else { return }
        try spawn(index)
        try waitUntilHealthy(index, deadline: monotonicSeconds() + 10)
    }

    /// Lets the members outlive this object and this process (`netctl lab up` exits, etcd
    /// stays): returns their pids for `stop(pids:)` later, and forgets them.
    public func detach() -> [Int32] {
        defer { pids = Array(repeating: 0, count: pids.count) }
        return pids
    }

    /// Stops members started by another process (`detach()`): SIGTERM, then SIGKILL after
    /// 10 s; returns when they are gone.
    public static func stop(pids: [Int32]) {
        for pid in pids where pid > 0 { LabProcess.stop(pid) }
    }

    /// Stops every member still running. Data and logs stay (the caller owns `directory`).
    public func shutdown() {
        for index in pids.indices where pids[index] != 0 {
            LabProcess.stop(pids[index])
            pids[index] = 0
        }
    }

    /// Free TCP ports on 127.0.0.1 for tests: all are bound at once, so they differ, then
    /// released for the caller to use.
    public static func freeLoopbackPorts(_ count: Int) -> [UInt16] {
        var sockets: [Int32] = []
        defer { for fd in sockets { close(fd) } }
        var ports: [UInt16] = []
        for _ in 0..<count {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { break }
            sockets.append(fd)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
            address.sin_port = 0
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Bool in
                    bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
                }
            }
            guard bound else { break }
            ports.append(UInt16(bigEndian: address.sin_port))
        }
        return ports
    }

    // MARK: Members

    private var scheme: String { certificates == nil ? "http" : "https" }

    private func host(_ member: Member) -> String {
        member.address.contains(":") ? "[\(member.address)]" : member.address
    }

    private func clientURL(_ member: Member) -> String { "\(scheme)://\(host(member)):\(member.clientPort)" }
    private func peerURL(_ member: Member) -> String { "\(scheme)://\(host(member)):\(member.peerPort)" }

    private func spawn(_ index: Int) throws {
        let member = members[index]
        let initialCluster = members.map { "\($0.name)=\(peerURL($0))" }.joined(separator: ",")
        var arguments = [
            "etcd", "--name", member.name, "--data-dir", "\(directory)/\(member.name)",
            "--listen-client-urls", clientURL(member), "--advertise-client-urls", clientURL(member),
            "--listen-peer-urls", peerURL(member), "--initial-advertise-peer-urls", peerURL(member),
            // Ignored once the data directory exists: a restarted member rejoins as itself.
            "--initial-cluster", initialCluster, "--initial-cluster-state", "new",
            "--initial-cluster-token", "netctl-\(getpid())-\(members[0].clientPort)",
            "--logger", "zap", "--log-level", "warn",
            "--experimental-watch-progress-notify-interval", "\(Int(Self.progressNotifyInterval))s",
        ]
        if let certificates {
            arguments += [
                "--cert-file", certificates.serverCert, "--key-file", certificates.serverKey,
                "--trusted-ca-file", certificates.ca, "--client-cert-auth",
                "--peer-cert-file", certificates.serverCert, "--peer-key-file", certificates.serverKey,
                "--peer-trusted-ca-file", certificates.ca, "--peer-client-cert-auth",
            ]
        }
        if let namespace = member.namespace {
            // nsenter execs etcd in place, so the pid is etcd's.
            arguments = ["nsenter", "--net=\(NetworkNamespace.directory)/\(namespace)", "--"] + arguments
        }
        pids[index] = try LabProcess.spawn(arguments, log: "\(directory)/\(member.name).log")
    }

    private func waitUntilHealthy(_ index: Int, deadline: Double) throws {
        let member = members[index]
        let namespace = try member.namespace.map { try NetworkNamespace.open(named: $0) }
        var lastError = "no answer"
        while monotonicSeconds() < deadline {
            if let status = LabProcess.exitStatus(pids[index]) {
                pids[index] = 0
                throw EtcdError(.setup, "etcd member \(member.name) exited with status \(status): "
                                + LabProcess.lastLines(of: "\(directory)/\(member.name).log", count: 1))
            }
            do {
                // A client opened inside the member's namespace, its sockets with it.
                let check = { () throws -> UInt64 in
                    try EtcdClient(endpoints: [self.clientURL(member)], tls: self.tls, timeout: 1).status().leader
                }
                if try (namespace?.perform(check) ?? check()) != 0 { return }
                lastError = "no leader elected"
            } catch {
                lastError = "\(error)"
            }
            usleep(50_000)
        }
        throw EtcdError(.setup, "etcd member \(member.name) not healthy within 10 s: \(lastError)")
    }
}
