import Foundation
import Glibc
import Netlink

/// A TCP and UDP echo server inside a network namespace: every connection or datagram gets
/// back `NAME:PORT:PEER|` followed by what it sent, so a test knows which server and port
/// answered and whom it saw (masquerade shows there).
/// Sockets are opened inside the namespace on a thread of their own; one background thread
/// serves them all until `stop()`.
public final class EchoServer: @unchecked Sendable {
    private var listeners: [(fd: Int32, port: UInt16, udp: Bool)] = []
    private let wake: [Int32]
    private let name: String
    private var thread: Thread?
    private let done = DispatchSemaphore(value: 0)

    public init(in namespace: NetworkNamespace, name: String, tcp: [UInt16] = [], udp: [UInt16] = []) throws {
        self.name = name
        var pipeFDs: [Int32] = [0, 0]
        guard pipe(&pipeFDs) == 0 else { throw HarnessError("pipe: \(String(cString: strerror(errno)))") }
        wake = pipeFDs
        let opened = try namespace.perform { () throws -> [(Int32, UInt16, Bool)] in
            try tcp.map { (try Self.listen(port: $0, udp: false), $0, false) } + udp.map { (try Self.listen(port: $0, udp: true), $0, true) }
        }
        listeners = opened.map { (fd: $0.0, port: $0.1, udp: $0.2) }
        let thread = Thread { [self] in serve(); done.signal() }
        thread.start()
        self.thread = thread
    }

    deinit { stop() }

    public func stop() {
        guard thread != nil else { return }
        thread = nil
        _ = write(wake[1], "x", 1)
        done.wait()
        for listener in listeners { close(listener.fd) }
        close(wake[0])
        close(wake[1])
    }

    /// IPv6 sockets with IPV6_V6ONLY off take IPv4 too.
    private static func listen(port: UInt16, udp: Bool) throws -> Int32 {
        let fd = socket(AF_INET6, Int32(udp ? SOCK_DGRAM.rawValue : SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw HarnessError("socket: \(String(cString: strerror(errno)))") }
        var off: Int32 = 0, on: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &off, 4)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, 4)
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        address.sin6_port = port.bigEndian
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
        }
        guard bound == 0, udp || Glibc.listen(fd, 128) == 0 else {
            let error = String(cString: strerror(errno))
            close(fd)
            throw HarnessError("bind/listen port \(port): \(error)")
        }
        return fd
    }

    private func serve() {
        var polls = listeners.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
        polls.append(pollfd(fd: wake[0], events: Int16(POLLIN), revents: 0))
        var buffer = [UInt8](repeating: 0, count: 2048)
        while true {
            guard poll(&polls, nfds_t(polls.count), -1) > 0 else { continue }
            if polls.last!.revents != 0 { return }
            for (index, listener) in listeners.enumerated() where polls[index].revents != 0 {
                if listener.udp {
                    var peer = sockaddr_storage()
                    var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
                    let count = withUnsafeMutablePointer(to: &peer) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(listener.fd, &buffer, buffer.count, 0, $0, &length) }
                    }
                    guard count >= 0 else { continue }
                    let reply = prefix(listener.port, peer) + buffer.prefix(count)
                    _ = withUnsafeMutablePointer(to: &peer) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(listener.fd, reply, reply.count, 0, $0, length) }
                    }
                } else {
                    var peer = sockaddr_storage()
                    var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
                    let connection = withUnsafeMutablePointer(to: &peer) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { accept(listener.fd, $0, &length) }
                    }
                    guard connection >= 0 else { continue }
                    var timeout = timeval(tv_sec: 2, tv_usec: 0)
                    setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                    let count = read(connection, &buffer, buffer.count)
                    if count > 0 {
                        let reply = prefix(listener.port, peer) + buffer.prefix(count)
                        _ = write(connection, reply, reply.count)
                    }
                    close(connection)
                }
            }
        }
    }
}

extension EchoServer {
    /// `NAME:PORT:PEER|`, the peer as text (an IPv4 peer of a dual-stack socket unmapped).
    fileprivate func prefix(_ port: UInt16, _ peer: sockaddr_storage) -> [UInt8] {
        var text = "?"
        var copy = peer
        if peer.ss_family == sa_family_t(AF_INET6) {
            let address = withUnsafeBytes(of: &copy) { raw in raw.load(as: sockaddr_in6.self) }
            let bytes = withUnsafeBytes(of: address.sin6_addr) { Array($0) }
            if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xff && bytes[11] == 0xff {
                text = bytes[12...].map(String.init).joined(separator: ".")
            } else {
                text = bytes.withUnsafeBytes { IPAddress(bytes: $0)?.description ?? "?" }
            }
        }
        return Array("\(name):\(port):\(text)|".utf8)
    }
}

/// Sends `message` to ADDRESS:PORT from inside `namespace` and returns the answer, or nil
/// when nothing answered within `timeout` seconds (refused, dropped, unreachable).
public func roundTrip(from namespace: NetworkNamespace, to address: String, port: UInt16, udp: Bool = false,
                      message: String = "ping", timeout: Int = 2) throws -> String? {
    guard let ip = IPAddress(address) else { throw HarnessError("bad address \(address)") }
    let fd = try namespace.perform { () throws -> Int32 in
        let fd = socket(ip.isIPv4 ? AF_INET : AF_INET6, Int32(udp ? SOCK_DGRAM.rawValue : SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw HarnessError("socket: \(String(cString: strerror(errno)))") }
        return fd
    }
    defer { close(fd) }
    var limit = timeval(tv_sec: timeout, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
    var storage = sockaddr_storage()
    let length: socklen_t
    switch ip {
    case .v4:
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        ip.bytes.withUnsafeBytes { bytes in withUnsafeMutableBytes(of: &address.sin_addr) { $0.copyMemory(from: bytes) } }
        withUnsafeBytes(of: address) { bytes in withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: bytes) } }
        length = socklen_t(MemoryLayout<sockaddr_in>.size)
    case .v6:
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        address.sin6_port = port.bigEndian
        ip.bytes.withUnsafeBytes { bytes in withUnsafeMutableBytes(of: &address.sin6_addr) { $0.copyMemory(from: bytes) } }
        withUnsafeBytes(of: address) { bytes in withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: bytes) } }
        length = socklen_t(MemoryLayout<sockaddr_in6>.size)
    }
    let connected = withUnsafePointer(to: &storage) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) }
    }
    guard connected == 0 else { return nil }
    let bytes = Array(message.utf8)
    guard write(fd, bytes, bytes.count) == bytes.count else { return nil }
    var buffer = [UInt8](repeating: 0, count: 2048)
    let count = read(fd, &buffer, buffer.count)
    guard count > 0 else { return nil }
    return String(decoding: buffer.prefix(count), as: UTF8.self)
}
