import CLinux
import Glibc

/// The namespace switch and signal descriptor of the resolver (CLinux declares what
/// Swift's Glibc module leaves out).
public enum LinuxCalls {
    /// setns(fd, CLONE_NEWNET): this thread enters the network namespace `fd` names.
    public static func enterNetworkNamespace(_ fd: Int32) -> Bool { setns(fd, NC_DNS_CLONE_NEWNET) == 0 }

    /// signalfd for `signals`, which it blocks first (so they arrive only through it).
    public static func signalDescriptor(_ signals: [Int32]) -> Int32 {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in signals { sigaddset(&set, signal) }
        sigprocmask(SIG_BLOCK, &set, nil)
        return signalfd(-1, &set, Int32(O_CLOEXEC | O_NONBLOCK))
    }
}

/// An epoll instance whose events carry the descriptor they are about.
public final class Epoll {
    public let fd: Int32
    // struct epoll_event is packed on x86_64: a 4-byte mask and an 8-byte datum, read as
    // bytes at those offsets.
    private static let eventSize = MemoryLayout<epoll_event>.size
    public static let readable: UInt32 = 0x001 // EPOLLIN
    public static let writable: UInt32 = 0x004 // EPOLLOUT
    public static let error: UInt32 = 0x008 | 0x010 // EPOLLERR | EPOLLHUP
    private var buffer: [UInt8]

    public init(capacity: Int = 256) throws(ResolverError) {
        fd = epoll_create1(Int32(O_CLOEXEC))
        guard fd >= 0 else { throw ResolverError.system("epoll_create1") }
        buffer = [UInt8](repeating: 0, count: capacity * Self.eventSize)
    }

    private func control(_ operation: Int32, _ target: Int32, _ events: UInt32) -> Bool {
        var event = [UInt8](repeating: 0, count: Self.eventSize)
        withUnsafeBytes(of: events.littleEndian) { event.replaceSubrange(0..<4, with: $0) }
        withUnsafeBytes(of: UInt64(UInt32(bitPattern: target)).littleEndian) { event.replaceSubrange(4..<12, with: $0) }
        return event.withUnsafeMutableBytes { epoll_ctl(fd, operation, target, OpaquePointer($0.baseAddress).map(UnsafeMutablePointer.init)) } == 0
    }

    @discardableResult public func add(_ target: Int32, _ events: UInt32 = Epoll.readable) -> Bool { control(1, target, events) }
    @discardableResult public func modify(_ target: Int32, _ events: UInt32) -> Bool { control(3, target, events) }
    public func remove(_ target: Int32) { _ = control(2, target, 0) }

    /// Waits up to `timeout` ms (-1: forever) and calls `handle(fd, events)` per event.
    public func wait(timeout: Int32, _ handle: (Int32, UInt32) -> Void) {
        let capacity = Int32(buffer.count / Self.eventSize)
        let count = buffer.withUnsafeMutableBytes { epoll_wait(fd, OpaquePointer($0.baseAddress).map(UnsafeMutablePointer.init), capacity, timeout) }
        guard count > 0 else { return }
        var events: [(Int32, UInt32)] = []
        events.reserveCapacity(Int(count))
        buffer.withUnsafeBytes { raw in
            for index in 0..<Int(count) {
                let base = index * Self.eventSize
                let mask = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: base, as: UInt32.self))
                let datum = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: base + 4, as: UInt64.self))
                events.append((Int32(bitPattern: UInt32(truncatingIfNeeded: datum)), mask))
            }
        }
        for (target, mask) in events { handle(target, mask) }
    }
}

/// The resolver's one error type: a line for the log or for `sync`'s reply.
public struct ResolverError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }

    /// "WHAT: strerror(errno)".
    public static func system(_ what: String) -> ResolverError { ResolverError("\(what): \(String(cString: strerror(errno)))") }
}

/// An IPv4 or IPv6 socket address, and the calls that take one.
public struct SocketAddress: Equatable, Sendable {
    public var storage: sockaddr_storage
    public var length: socklen_t

    public init() {
        storage = sockaddr_storage()
        length = socklen_t(MemoryLayout<sockaddr_storage>.size)
    }

    /// ADDRESS with `port`; nil when ADDRESS is neither IPv4 nor IPv6 text.
    public init?(_ address: String, port: UInt16) {
        self.init()
        // The address bytes into sin_addr or sin6_addr, the whole into the storage.
        func fill<Address>(_ socketAddress: inout Address, _ bytes: [UInt8], at address: WritableKeyPath<Address, some Any>) {
            bytes.withUnsafeBytes { source in withUnsafeMutableBytes(of: &socketAddress[keyPath: address]) { $0.copyMemory(from: source) } }
            withUnsafeBytes(of: socketAddress) { source in withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: source) } }
            length = socklen_t(MemoryLayout<Address>.size)
        }
        if let bytes = IPText.ipv4Bytes(address) {
            var ipv4 = sockaddr_in()
            ipv4.sin_family = sa_family_t(AF_INET)
            ipv4.sin_port = port.bigEndian
            fill(&ipv4, bytes, at: \.sin_addr)
        } else if let bytes = IPText.ipv6Bytes(address) {
            var ipv6 = sockaddr_in6()
            ipv6.sin6_family = sa_family_t(AF_INET6)
            ipv6.sin6_port = port.bigEndian
            fill(&ipv6, bytes, at: \.sin6_addr)
        } else {
            return nil
        }
    }

    public var family: Int32 { Int32(storage.ss_family) }

    public static func == (a: SocketAddress, b: SocketAddress) -> Bool {
        a.length == b.length && withUnsafeBytes(of: a.storage) { x in withUnsafeBytes(of: b.storage) { y in x.prefix(Int(a.length)).elementsEqual(y.prefix(Int(a.length))) } }
    }

    public func withPointer<T>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        withUnsafePointer(to: storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) } }
    }

    public var text: String {
        withUnsafeBytes(of: storage) { raw in
            if family == AF_INET {
                let ipv4 = raw.loadUnaligned(as: sockaddr_in.self)
                return "\(IPText.text(withUnsafeBytes(of: ipv4.sin_addr) { Array($0) })):\(UInt16(bigEndian: ipv4.sin_port))"
            }
            let ipv6 = raw.loadUnaligned(as: sockaddr_in6.self)
            return "[\(IPText.text(withUnsafeBytes(of: ipv6.sin6_addr) { Array($0) }))]:\(UInt16(bigEndian: ipv6.sin6_port))"
        }
    }
}

/// A non-blocking, close-on-exec socket bound to `address` (UDP, or TCP listening).
public func bindSocket(_ address: SocketAddress, tcp: Bool) throws(ResolverError) -> Int32 {
    let type = Int32(tcp ? SOCK_STREAM.rawValue : SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
    let fd = socket(address.family, type, 0)
    guard fd >= 0 else { throw .system("socket") }
    var on: Int32 = 1
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, 4)
    let bound = address.withPointer { bind(fd, $0, $1) }
    guard bound == 0, !tcp || listen(fd, 128) == 0 else {
        let error = ResolverError.system("\(tcp ? "tcp" : "udp") bind \(address.text)")
        close(fd)
        throw error
    }
    return fd
}

/// A monotonic clock in milliseconds.
public func monotonicMilliseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
}
