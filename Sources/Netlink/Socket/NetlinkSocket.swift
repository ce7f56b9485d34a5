import CNetlink
import Glibc

/// Where a session's bytes go: the kernel's socket in production (rtnetlink for
/// NetlinkSession, nf_tables for NFTablesSession); a recorder in golden tests, which checks
/// the exact bytes of each request.
public protocol NetlinkSocket: AnyObject {
    func send(_ bytes: UnsafeRawBufferPointer) throws
    /// Reads one datagram into `buffer` and returns its length.
    func receive(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
    /// Makes room for a datagram of `bytes` that the kernel must take whole (an nf_tables batch).
    func reserveSendBuffer(_ bytes: Int) throws
}

extension NetlinkSocket {
    public func reserveSendBuffer(_ bytes: Int) throws {}

    /// Reads one datagram into `buffer` and walks its messages until `body` returns false.
    public func receiveMessages(into buffer: UnsafeMutableRawBufferPointer, _ body: (ReceivedMessage) throws -> Bool) throws {
        var remaining = try receive(into: buffer)
        var cursor = UnsafeRawPointer(buffer.baseAddress!)
        while NetlinkMessages.fits(cursor, remaining: remaining) {
            guard try body(ReceivedMessage(header: cursor.assumingMemoryBound(to: nlmsghdr.self))) else { return }
            let step = NetlinkMessages.advance(cursor, remaining: remaining)
            cursor += step
            remaining -= step
        }
    }
}

/// A netlink socket of one protocol family (NETLINK_ROUTE, NETLINK_NETFILTER) through
/// libmnl, with extended acks on. A netlink socket talks to the network namespace it was
/// opened in for its whole life, whatever thread uses it.
public final class KernelSocket: NetlinkSocket {
    private let socket: OpaquePointer
    private let name: String
    private var sendBufferSize = 0

    /// Opens the socket in the calling thread's network namespace.
    public init(family: Int32, name: String = "netlink") throws {
        self.name = name
        guard let socket = mnl_socket_open2(family, Int32(SOCK_CLOEXEC.rawValue)) else {
            throw NetlinkError.system(name, "open socket")
        }
        self.socket = socket
        var on: Int32 = 1
        // Ask for the kernel's error text, and for errors without our request echoed back.
        _ = mnl_socket_setsockopt(socket, NETLINK_EXT_ACK, &on, socklen_t(MemoryLayout<Int32>.size))
        _ = mnl_socket_setsockopt(socket, NETLINK_CAP_ACK, &on, socklen_t(MemoryLayout<Int32>.size))
        guard mnl_socket_bind(socket, 0, pid_t(MNL_SOCKET_AUTOPID)) == 0 else {
            let error = NetlinkError.system(name, "bind socket")
            mnl_socket_close(socket)
            throw error
        }
    }

    deinit { mnl_socket_close(socket) }

    public func send(_ bytes: UnsafeRawBufferPointer) throws {
        guard mnl_socket_sendto(socket, bytes.baseAddress, bytes.count) >= 0 else {
            throw NetlinkError.system(name, "send \(bytes.count) bytes")
        }
    }

    public func receive(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let count = mnl_socket_recvfrom(socket, buffer.baseAddress, buffer.count)
        guard count >= 0 else { throw NetlinkError.system(name, "receive") }
        return count
    }

    /// A large batch must fit the socket's send buffer whole: the kernel reads it as one.
    public func reserveSendBuffer(_ bytes: Int) throws {
        guard bytes > 200 * 1024, bytes > sendBufferSize else { return }
        var size = Int32(min(bytes * 2, Int(Int32.max)))
        let fd = mnl_socket_get_fd(socket)
        if setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, socklen_t(MemoryLayout<Int32>.size)) != 0 {
            guard setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
                throw NetlinkError.system(name, "grow the send buffer for a batch of \(bytes) bytes")
            }
        }
        sendBufferSize = bytes * 2
    }
}
