import CNetlink

/// Where a session's bytes go. The kernel's rtnetlink socket in production; a recorder in
/// golden tests, which checks the exact bytes of each request.
public protocol NetlinkSocket: AnyObject {
    func send(_ bytes: UnsafeRawBufferPointer) throws
    /// Reads one datagram into `buffer` and returns its length.
    func receive(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

/// An NETLINK_ROUTE socket through libmnl, with extended acks on. A netlink socket talks to
/// the network namespace it was opened in for its whole life, whatever thread uses it.
final class RouteSocket: NetlinkSocket {
    private let socket: OpaquePointer

    /// Opens the socket in the calling thread's network namespace.
    init() throws {
        guard let socket = mnl_socket_open2(NETLINK_ROUTE, Int32(SOCK_CLOEXEC.rawValue)) else {
            throw NetlinkError.system("netlink", "open socket")
        }
        self.socket = socket
        var on: Int32 = 1
        // Ask for the kernel's error text, and for errors without our request echoed back.
        _ = mnl_socket_setsockopt(socket, NETLINK_EXT_ACK, &on, socklen_t(MemoryLayout<Int32>.size))
        _ = mnl_socket_setsockopt(socket, NETLINK_CAP_ACK, &on, socklen_t(MemoryLayout<Int32>.size))
        guard mnl_socket_bind(socket, 0, pid_t(MNL_SOCKET_AUTOPID)) == 0 else {
            let error = NetlinkError.system("netlink", "bind socket")
            mnl_socket_close(socket)
            throw error
        }
    }

    deinit { mnl_socket_close(socket) }

    func send(_ bytes: UnsafeRawBufferPointer) throws {
        guard mnl_socket_sendto(socket, bytes.baseAddress, bytes.count) >= 0 else {
            throw NetlinkError.system("netlink", "send")
        }
    }

    func receive(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let count = mnl_socket_recvfrom(socket, buffer.baseAddress, buffer.count)
        guard count >= 0 else { throw NetlinkError.system("netlink", "receive") }
        return count
    }
}
