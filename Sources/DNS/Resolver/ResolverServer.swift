import Glibc

/// The resolver's state and its event handlers: the sandboxes' sockets, the name index,
/// the queries forwarded upstream and the TCP connections. One thread runs it all (so
/// setns() on it is safe: nothing else runs meanwhile); `netctl-dns`'s main.swift drives
/// it from start to exit.
public final class ResolverServer {
    /// At most this many UDP queries wait for an upstream at once; more get SERVFAIL.
    public static let maximumPending = 4096
    /// At most this many TCP connections from clients at once; more are closed at accept.
    public static let maximumClients = 256
    public static let upstreamTimeout: Int64 = 2000
    /// A client connection with nothing to do for this long is closed.
    public static let clientIdleTimeout: Int64 = 10_000
    public static let ttl: UInt32 = 600
    /// The address every container's resolv.conf names; the NAT in its namespace takes
    /// port 53 there to the sandbox's own port.
    public static let listenAddress = "127.0.0.11"

    public let paths: ResolverPaths
    private let tables: ResolverTables
    private var epoll: Epoll
    /// The namespace the resolver runs and forwards in (the host's), to return to after
    /// binding in a sandbox's.
    private let hostNamespace: Int32
    private let hostUpstreams: [SocketAddress]
    private let log: (String) -> Void

    private(set) public var index = NameIndex()
    private var sandboxes: [String: Sandbox] = [:]
    private var handles: [Int32: Handle] = [:]

    private var upstreamSockets: [Int32: Int32] = [:] // family → fd
    private var pending: [UInt16: Pending] = [:]
    private var timeouts: [(id: UInt16, serial: UInt64, deadline: Int64)] = []
    private var timeoutHead = 0
    private var serial: UInt64 = 0

    private var connections: [Int32: Connection] = [:]
    private var clientCount = 0

    private var receiveBuffer = [UInt8](repeating: 0, count: DNSLimits.maximumMessage + 1)
    private var writer = DNSAnswerWriter()
    public private(set) var stopping = false

    struct Sandbox {
        var table: SandboxTable
        var udp: Int32 = -1
        var tcp: Int32 = -1
        var upstreams: [SocketAddress] = []
        var error: String?
    }

    enum Handle {
        case udp(String)
        case tcpListener(String)
        case connection
        case upstreamUDP
        case control
        case signals
    }

    struct Pending {
        var sandbox: String
        var client: SocketAddress
        /// The client's query as received (its own ID in it).
        var query: [UInt8]
        /// Where its question ends: an answer must repeat the question byte for byte.
        var questionEnd: Int
        var upstreams: [SocketAddress]
        var next: Int
        var serial: UInt64
    }

    /// A TCP connection: from a client (in a sandbox) or to an upstream on a client's behalf.
    final class Connection {
        let fd: Int32
        let sandbox: String
        /// For an upstream connection: the client it answers.
        let client: Int32?
        var input: [UInt8] = []
        var output: [UInt8] = []
        var outputOffset = 0
        var deadline: Int64
        /// Client: the upstream connection working on its current query, if any.
        var upstream: Int32?
        /// Client: the query being forwarded, and the upstreams left to try.
        var forwarding: (query: [UInt8], upstreams: [SocketAddress], next: Int)?
        /// Client: it sent EOF; close once the answer under way is written.
        var closing = false
        /// What epoll watches for now.
        var interest: UInt32 = Epoll.readable

        init(fd: Int32, sandbox: String, client: Int32?, deadline: Int64) {
            self.fd = fd
            self.sandbox = sandbox
            self.client = client
            self.deadline = deadline
        }
    }

    public init(root: String, hostUpstreams: [SocketAddress], log: @escaping (String) -> Void) throws(ResolverError) {
        paths = ResolverPaths(root: root)
        tables = ResolverTables(root: root)
        self.hostUpstreams = hostUpstreams
        self.log = log
        epoll = try Epoll()
        hostNamespace = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)
        guard hostNamespace >= 0 else { throw .system("open /proc/self/ns/net") }
        for family in [AF_INET, AF_INET6] {
            let fd = socket(family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            // No IPv6 in the host namespace is fine as long as no upstream needs it.
            guard fd >= 0 else { continue }
            upstreamSockets[family] = fd
            register(fd, .upstreamUDP)
        }
    }

    /// Watches `fd` in the loop.
    public func watchControl(_ fd: Int32) { register(fd, .control) }
    public func watchSignals(_ fd: Int32) { register(fd, .signals) }

    private func register(_ fd: Int32, _ handle: Handle, events: UInt32 = Epoll.readable) {
        handles[fd] = handle
        epoll.add(fd, events)
    }

    private func unregister(_ fd: Int32) {
        guard fd >= 0 else { return }
        epoll.remove(fd)
        handles[fd] = nil
        close(fd)
    }

    // MARK: Sync

    /// Rereads every table: binds new sandboxes (and retries failed ones), closes gone ones,
    /// rebinds those whose port or namespace changed, rebuilds the names. Returns one line
    /// per problem (a sandbox that cannot be bound, a damaged table); the rest is served.
    public func sync() -> [String] {
        var problems: [String] = []
        let names = tables.names(in: paths.sandboxes)
        for gone in sandboxes.keys where !names.contains(gone) {
            closeSandbox(gone)
            log("sandbox \(gone): removed")
        }
        for name in names {
            let table: SandboxTable
            do {
                guard let read = try tables.sandbox(name) else { closeSandbox(name); continue }
                table = read
            } catch {
                problems.append("sandbox \(name): \(error)")
                continue
            }
            if var sandbox = sandboxes[name], sandbox.table.namespace == table.namespace, sandbox.table.port == table.port, sandbox.udp >= 0 {
                sandbox.table = table
                sandbox.upstreams = Upstreams.parse(table.upstreams)
                sandboxes[name] = sandbox
                continue
            }
            closeSandbox(name)
            var sandbox = Sandbox(table: table, upstreams: Upstreams.parse(table.upstreams))
            do {
                (sandbox.udp, sandbox.tcp) = try bindSandbox(table)
                register(sandbox.udp, .udp(name))
                register(sandbox.tcp, .tcpListener(name))
                log("sandbox \(name): serving \(Self.listenAddress):\(table.port) in \(table.namespace)")
            } catch {
                sandbox.error = error.description
                problems.append("sandbox \(name): \(error)")
                log("sandbox \(name): \(error)")
            }
            sandboxes[name] = sandbox
        }
        var local: [String: NetworkTable] = [:], remote: [String: NetworkTable] = [:]
        for file in tables.names(in: paths.networks) {
            let isRemote = file.hasSuffix(".remote")
            let id = isRemote ? String(file.dropLast(7)) : file
            do {
                guard let table = try tables.network(id, remote: isRemote) else { continue }
                if isRemote { remote[id] = table } else { local[id] = table }
            } catch {
                problems.append("network \(id): \(error)")
                log("network \(id): \(error)")
            }
        }
        index = NameIndex(local: local, remote: remote)
        return problems
    }

    /// Whether any sandbox table is left (when none is, the resolver's work is done).
    public var hasSandboxes: Bool { !sandboxes.isEmpty }
    public var sandboxCount: Int { sandboxes.count }

    private func closeSandbox(_ name: String) {
        guard let sandbox = sandboxes.removeValue(forKey: name) else { return }
        unregister(sandbox.udp)
        unregister(sandbox.tcp)
    }

    /// Binds UDP and TCP 127.0.0.11:PORT inside the sandbox's namespace, then returns to
    /// the host's: `ip netns exec SANDBOX …` for two socket() calls.
    private func bindSandbox(_ table: SandboxTable) throws(ResolverError) -> (Int32, Int32) {
        let namespace = open(table.namespace, O_RDONLY | O_CLOEXEC)
        guard namespace >= 0 else { throw .system("open \(table.namespace)") }
        defer { close(namespace) }
        guard LinuxCalls.enterNetworkNamespace(namespace) else { throw .system("setns \(table.namespace)") }
        defer {
            if !LinuxCalls.enterNetworkNamespace(hostNamespace) {
                // Staying in a sandbox's namespace would forward from there: better to stop.
                log("setns back to the host namespace: \(String(cString: strerror(errno))); exiting")
                exit(1)
            }
        }
        let address = SocketAddress(Self.listenAddress, port: table.port)!
        let udp = try bindSocket(address, tcp: false)
        do {
            return (udp, try bindSocket(address, tcp: true))
        } catch {
            close(udp)
            throw error
        }
    }

    /// Closes every socket (SIGTERM, or no sandbox for --linger seconds).
    public func shutdown() {
        for name in Array(sandboxes.keys) { closeSandbox(name) }
        for fd in Array(connections.keys) { dropConnection(fd) }
    }

    // MARK: The loop

    /// One turn of the loop: waits for events or the next deadline, handles them.
    /// `control(fd)` handles the control socket's readiness.
    /// Waits for events (until `wakeBy` at the latest, a monotonic time in ms) and
    /// handles them, then expires what timed out.
    public func runOnce(control: (Int32) -> Void, wakeBy: Int64? = nil) {
        let now = monotonicMilliseconds()
        var timeout: Int64 = -1
        if let next = [nextDeadline(), wakeBy].compactMap({ $0 }).min() { timeout = max(0, next - now) }
        epoll.wait(timeout: Int32(min(timeout, 60_000))) { fd, events in
            switch handles[fd] {
            case .udp(let sandbox): receiveQueries(fd, sandbox: sandbox)
            case .tcpListener(let sandbox): acceptClient(fd, sandbox: sandbox)
            case .connection: connectionReady(fd, events)
            case .upstreamUDP: receiveUpstreamAnswers(fd)
            case .control: control(fd)
            case .signals: stopping = true
            case nil: break
            }
        }
        expire(now: monotonicMilliseconds())
    }

    private func nextDeadline() -> Int64? {
        var next: Int64? = timeoutHead < timeouts.count ? timeouts[timeoutHead].deadline : nil
        // Connections are few (at most maximumClients and their upstreams).
        for connection in connections.values { next = min(next ?? connection.deadline, connection.deadline) }
        return next
    }

    private func expire(now: Int64) {
        while timeoutHead < timeouts.count, timeouts[timeoutHead].deadline <= now {
            let entry = timeouts[timeoutHead]
            timeoutHead += 1
            if let waiting = pending[entry.id], waiting.serial == entry.serial { sendUpstream(entry.id) }
        }
        if timeoutHead > 1024, timeoutHead * 2 > timeouts.count {
            timeouts.removeFirst(timeoutHead)
            timeoutHead = 0
        }
        for connection in Array(connections.values) where connection.deadline <= now && connections[connection.fd] === connection {
            failed(connection)
        }
    }

    // MARK: UDP

    /// recvfrom(2) into the receive buffer: the datagram's length (-1 when none waits).
    private func receiveDatagram(_ fd: Int32, from sender: inout SocketAddress) -> Int {
        receiveBuffer.withUnsafeMutableBytes { buffer in
            withUnsafeMutablePointer(to: &sender.storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, buffer.baseAddress, buffer.count, 0, $0, &sender.length) }
            }
        }
    }

    private func receiveQueries(_ fd: Int32, sandbox: String) {
        // A bounded batch per wake-up, so one busy sandbox cannot starve the others.
        for _ in 0..<64 {
            var client = SocketAddress()
            let count = receiveDatagram(fd, from: &client)
            guard count >= 0 else { return }
            let answered = receiveBuffer.withUnsafeBytes { buffer -> Bool in
                let message = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
                switch answer(message, sandbox: sandbox, udp: true) {
                case .reply: return true
                case .forward: forwardUDP(Array(message), client: client, sandbox: sandbox); return false
                case .drop: return false
                }
            }
            if answered { send(writer.bytes, on: fd, to: client) }
        }
    }

    enum Outcome { case reply, forward, drop }

    /// The resolver's own answer to `message` from `sandbox`, left in `writer`, or what to
    /// do instead.
    private func answer(_ message: UnsafeRawBufferPointer, sandbox: String, udp: Bool) -> Outcome {
        let query: DNSQuery
        do {
            query = try DNSQuery(parsing: message)
        } catch {
            guard let header = DNSAnswerWriter.headerOnly(for: message, rcode: DNSResponseCode.formatError) else { return .drop }
            writer.replace(with: header)
            return .reply
        }
        guard query.flags & DNSFlags.response == 0 else { return .drop }
        let limit = udp ? query.udpLimit : DNSLimits.maximumMessage
        guard query.opcode == 0 else {
            writer.start(query, message: message, rcode: DNSResponseCode.notImplemented, limit: limit)
            writer.finish()
            return .reply
        }
        guard query.klass == DNSClass.internet else { return .forward }
        if query.type == DNSType.ptr, let target = index.pointer(for: query.name, sandbox: sandbox) {
            writer.start(query, message: message, rcode: DNSResponseCode.noError, limit: limit)
            writer.pointer(to: target, ttl: Self.ttl)
            writer.finish()
            return .reply
        }
        guard let addresses = index.addresses(of: query.name, type: query.type, sandbox: sandbox) else { return .forward }
        writer.start(query, message: message, rcode: DNSResponseCode.noError, limit: limit)
        for address in addresses { if !writer.address(address, ttl: Self.ttl) { break } }
        writer.finish()
        return .reply
    }

    private func upstreams(of sandbox: String) -> [SocketAddress] {
        let own = sandboxes[sandbox]?.upstreams ?? []
        return own.isEmpty ? hostUpstreams : own
    }

    private func forwardUDP(_ query: [UInt8], client: SocketAddress, sandbox: String) {
        let servers = upstreams(of: sandbox)
        let questionEnd = query.withUnsafeBytes { (try? DNSName.skip($0, at: 12)).map { $0 + 4 } } ?? query.count
        guard !servers.isEmpty, pending.count < Self.maximumPending else {
            failUDP(query, client: client, sandbox: sandbox)
            return
        }
        var id = UInt16.random(in: 0...UInt16.max)
        while pending[id] != nil { id &+= 1 }
        serial += 1
        pending[id] = Pending(sandbox: sandbox, client: client, query: query, questionEnd: min(questionEnd, query.count),
                              upstreams: servers, next: 0, serial: serial)
        sendUpstream(id)
    }

    /// Sends pending query `id` to its next upstream, or answers SERVFAIL when none is left.
    private func sendUpstream(_ id: UInt16) {
        guard var waiting = pending[id] else { return }
        while waiting.next < waiting.upstreams.count {
            let server = waiting.upstreams[waiting.next]
            waiting.next += 1
            guard let fd = upstreamSockets[server.family] else { continue }
            var query = waiting.query
            query[0] = UInt8(id >> 8)
            query[1] = UInt8(id & 0xFF)
            let sent = server.withPointer { sendto(fd, query, query.count, 0, $0, $1) }
            guard sent == query.count else { continue }
            serial += 1
            waiting.serial = serial
            pending[id] = waiting
            timeouts.append((id, serial, monotonicMilliseconds() + Self.upstreamTimeout))
            return
        }
        pending[id] = nil
        failUDP(waiting.query, client: waiting.client, sandbox: waiting.sandbox)
    }

    private func failUDP(_ query: [UInt8], client: SocketAddress, sandbox: String) {
        guard let fd = sandboxes[sandbox]?.udp, fd >= 0, serverFailure(for: query, udp: true) else { return }
        send(writer.bytes, on: fd, to: client)
    }

    /// SERVFAIL for `query` into `writer`.
    private func serverFailure(for query: [UInt8], udp: Bool) -> Bool {
        query.withUnsafeBytes { message in
            guard let parsed = try? DNSQuery(parsing: message) else { return false }
            writer.start(parsed, message: message, rcode: DNSResponseCode.serverFailure, limit: udp ? parsed.udpLimit : DNSLimits.maximumMessage)
            writer.finish()
            return true
        }
    }

    private func receiveUpstreamAnswers(_ fd: Int32) {
        for _ in 0..<64 {
            var from = SocketAddress()
            let count = receiveDatagram(fd, from: &from)
            guard count >= 0 else { return }
            guard count >= 12 else { continue }
            let id = UInt16(receiveBuffer[0]) << 8 | UInt16(receiveBuffer[1])
            // Only the server this query went to last answers it, with the question asked
            // (the rest is spoofing, or a late answer of one we gave up on).
            guard let waiting = pending[id], waiting.upstreams[waiting.next - 1] == from, count >= waiting.questionEnd,
                  receiveBuffer[12..<waiting.questionEnd].elementsEqual(waiting.query[12..<waiting.questionEnd], by: { $0 | 0x20 == $1 | 0x20 })
            else { continue }
            pending[id] = nil
            receiveBuffer[0] = waiting.query[0]
            receiveBuffer[1] = waiting.query[1]
            guard let client = sandboxes[waiting.sandbox]?.udp, client >= 0 else { continue }
            receiveBuffer.withUnsafeBytes { buffer in
                _ = waiting.client.withPointer { sendto(client, buffer.baseAddress, count, 0, $0, $1) }
            }
        }
    }

    private func send(_ bytes: [UInt8], on fd: Int32, to client: SocketAddress) {
        _ = client.withPointer { sendto(fd, bytes, bytes.count, 0, $0, $1) }
    }

    // MARK: TCP

    private func acceptClient(_ listener: Int32, sandbox: String) {
        while true {
            let fd = accept(listener, nil, nil)
            guard fd >= 0 else { return }
            guard clientCount < Self.maximumClients else {
                close(fd)
                continue
            }
            makeNonBlocking(fd)
            clientCount += 1
            connections[fd] = Connection(fd: fd, sandbox: sandbox, client: nil, deadline: monotonicMilliseconds() + Self.clientIdleTimeout)
            register(fd, .connection)
        }
    }

    private func makeNonBlocking(_ fd: Int32) {
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
    }

    private func connectionReady(_ fd: Int32, _ events: UInt32) {
        guard let connection = connections[fd] else { return }
        if events & Epoll.error != 0 && events & Epoll.readable == 0 {
            // Reset, or an upstream refused the connection: nothing more to read or write.
            return failed(connection)
        }
        if events & Epoll.writable != 0 {
            guard flush(connection) else { return failed(connection) }
        }
        var ended = false
        if events & Epoll.readable != 0 {
            while connection.input.count < Self.inputLimit {
                let wanted = Self.inputLimit - connection.input.count
                let count = receiveBuffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, min(wanted, $0.count)) }
                if count > 0 {
                    connection.input += receiveBuffer[0..<count]
                    continue
                }
                if count == 0 || (errno != EAGAIN && errno != EINTR) { ended = true }
                break
            }
        }
        if let clientFD = connection.client {
            upstreamAnswered(connection, client: clientFD, ended: ended)
        } else {
            if ended { connection.closing = true }
            connection.deadline = monotonicMilliseconds() + Self.clientIdleTimeout
            serveClient(connection)
        }
    }

    /// A length and the largest message.
    static let inputLimit = DNSLimits.maximumMessage + 2

    /// Answers the client's complete messages, one at a time: the next waits until the
    /// previous one's answer (local or forwarded) is written. Then watches for what the
    /// connection can do next, or closes it when the client is done.
    private func serveClient(_ connection: Connection) {
        while connection.upstream == nil, connection.output.isEmpty, connection.input.count >= 2 {
            let length = Int(connection.input[0]) << 8 | Int(connection.input[1])
            guard connection.input.count >= 2 + length else { break }
            let message = Array(connection.input[2..<(2 + length)])
            connection.input.removeFirst(2 + length)
            let outcome = message.withUnsafeBytes { answer($0, sandbox: connection.sandbox, udp: false) }
            switch outcome {
            case .reply:
                guard queue(writer.bytes, to: connection) else { return dropConnection(connection.fd) }
            case .forward:
                connection.forwarding = (message, upstreams(of: connection.sandbox), 0)
                guard forwardTCP(connection) else { return dropConnection(connection.fd) }
            case .drop: break
            }
        }
        let idle = connection.upstream == nil && connection.output.isEmpty
        if connection.closing && idle { return dropConnection(connection.fd) }
        var interest: UInt32 = connection.output.isEmpty ? 0 : Epoll.writable
        if idle && !connection.closing && connection.input.count < Self.inputLimit { interest |= Epoll.readable }
        watch(connection, interest)
    }

    private func watch(_ connection: Connection, _ interest: UInt32) {
        guard connection.interest != interest else { return }
        connection.interest = interest
        epoll.modify(connection.fd, interest)
    }

    /// Writes a length-prefixed message to `connection`; what the socket does not take now
    /// waits for EPOLLOUT. False when the connection broke.
    private func queue(_ message: [UInt8], to connection: Connection) -> Bool {
        connection.output = [UInt8(message.count >> 8), UInt8(message.count & 0xFF)] + message
        connection.outputOffset = 0
        return flush(connection)
    }

    /// Writes what it can; false when the connection broke.
    private func flush(_ connection: Connection) -> Bool {
        while connection.outputOffset < connection.output.count {
            let written = connection.output.withUnsafeBytes {
                Glibc.send(connection.fd, $0.baseAddress! + connection.outputOffset, $0.count - connection.outputOffset, Int32(MSG_NOSIGNAL))
            }
            if written > 0 { connection.outputOffset += written; continue }
            if written < 0, errno == EAGAIN || errno == EINTR { return true }
            return false
        }
        connection.output = []
        connection.outputOffset = 0
        return true
    }

    /// Opens a TCP connection to the client's next upstream for its current query, or
    /// answers SERVFAIL when none is left. False when the client's connection broke.
    private func forwardTCP(_ client: Connection) -> Bool {
        client.upstream = nil
        guard var forwarding = client.forwarding else { return true }
        while forwarding.next < forwarding.upstreams.count {
            let server = forwarding.upstreams[forwarding.next]
            forwarding.next += 1
            client.forwarding = forwarding
            let fd = socket(server.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            guard fd >= 0 else { continue }
            let result = server.withPointer { connect(fd, $0, $1) }
            guard result == 0 || errno == EINPROGRESS else {
                close(fd)
                continue
            }
            let upstream = Connection(fd: fd, sandbox: client.sandbox, client: client.fd, deadline: monotonicMilliseconds() + Self.upstreamTimeout)
            upstream.output = [UInt8(forwarding.query.count >> 8), UInt8(forwarding.query.count & 0xFF)] + forwarding.query
            upstream.interest = Epoll.readable | Epoll.writable
            connections[fd] = upstream
            register(fd, .connection, events: upstream.interest)
            client.upstream = fd
            return true
        }
        client.forwarding = nil
        guard serverFailure(for: forwarding.query, udp: false) else { return true }
        return queue(writer.bytes, to: client)
    }

    private func upstreamAnswered(_ upstream: Connection, client clientFD: Int32, ended: Bool) {
        guard let client = connections[clientFD] else { return dropConnection(upstream.fd) }
        if upstream.input.count >= 2 {
            let length = Int(upstream.input[0]) << 8 | Int(upstream.input[1])
            if upstream.input.count >= 2 + length {
                dropConnection(upstream.fd)
                client.upstream = nil
                client.forwarding = nil
                // Verbatim: over TCP the client's own ID went upstream.
                guard queue(Array(upstream.input[2..<(2 + length)]), to: client) else { return dropConnection(clientFD) }
                return serveClient(client)
            }
        }
        if ended { return failed(upstream) }
        watch(upstream, upstream.output.isEmpty ? Epoll.readable : Epoll.readable | Epoll.writable)
    }

    /// A connection broke or timed out: a client is dropped; an upstream gives way to the
    /// client's next upstream.
    private func failed(_ connection: Connection) {
        dropConnection(connection.fd)
        guard let clientFD = connection.client, let client = connections[clientFD] else { return }
        guard forwardTCP(client) else { return dropConnection(clientFD) }
        serveClient(client)
    }

    private func dropConnection(_ fd: Int32) {
        guard let connection = connections.removeValue(forKey: fd) else { return }
        if connection.client == nil {
            clientCount -= 1
            if let upstream = connection.upstream { dropConnection(upstream) }
        }
        unregister(fd)
    }
}

extension DNSAnswerWriter {
    /// Replaces the buffer with `bytes` (a header-only error answer).
    mutating func replace(with header: [UInt8]) {
        self = DNSAnswerWriter(bytes: header)
    }
}
