import Glibc
import JSON

struct HTTPResponse {
    var status: Int
    var body: [UInt8]
}

/// A small HTTP/1.1 server on a Unix socket, for Docker's plugin client: keep-alive, one
/// request at a time per connection, every connection served from one poll loop on one
/// thread (requests are handled in the order they complete, so state changes never run
/// concurrently in this process). Every read is bounded: the request line and headers to
/// 16 KiB, a body to 1 MiB, connections to 64.
final class HTTPServer {
    static let maximumConnections = 64
    static let contentType = "application/vnd.docker.plugins.v1.2+json"

    private let listener: Int32
    private let path: String
    private var connections: [Int32: [UInt8]] = [:]
    /// Connections told `100 Continue` for the request they are sending.
    private var continued: Set<Int32> = []

    /// Binds `path` (its directory is made if missing). A socket file nobody answers on is a
    /// leftover and is replaced; one that answers belongs to a running plugin: refused.
    init(path: String) throws(PluginError) {
        self.path = path
        guard path.utf8.count < MemoryLayout.size(ofValue: sockaddr_un().sun_path) else {
            throw PluginError("socket path \"\(path)\" is \(path.utf8.count) bytes: expected fewer than 108")
        }
        if let slash = path.lastIndex(of: "/"), slash != path.startIndex {
            try Self.makeDirectories(String(path[..<slash]))
        }
        var info = stat()
        if lstat(path, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFSOCK else { throw PluginError("\(path) exists and is not a socket: expected a socket path") }
            if Self.answers(path) { throw PluginError("socket \(path) is in use by a running server") }
            unlink(path)
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw PluginError("socket: \(String(cString: strerror(errno)))") }
        var address = Self.address(path)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, listen(fd, 64) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw PluginError("cannot listen on \(path): \(reason)")
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        listener = fd
    }

    /// Serves until `stop` (a readable descriptor: the signalfd) becomes readable.
    func serve(until stop: Int32, handle: (HTTPRequest) -> HTTPResponse) {
        while true {
            var fds = [pollfd(fd: stop, events: Int16(POLLIN), revents: 0), pollfd(fd: listener, events: Int16(POLLIN), revents: 0)]
            fds += connections.keys.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            guard poll(&fds, nfds_t(fds.count), -1) >= 0 || errno == EINTR else { return }
            if fds[0].revents != 0 { return }
            if fds[1].revents & Int16(POLLIN) != 0 { acceptConnections() }
            for entry in fds.dropFirst(2) where entry.revents != 0 {
                readAndServe(entry.fd, handle: handle)
            }
        }
    }

    /// Closes every connection and removes the socket.
    func shutDown() {
        for fd in connections.keys { close(fd) }
        connections = [:]
        close(listener)
        unlink(path)
    }

    private func acceptConnections() {
        while true {
            let fd = accept(listener, nil, nil)
            guard fd >= 0 else { return }
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            guard connections.count < Self.maximumConnections else { close(fd); continue }
            connections[fd] = []
        }
    }

    private func readAndServe(_ fd: Int32, handle: (HTTPRequest) -> HTTPResponse) {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = read(fd, &chunk, chunk.count)
        if count < 0 && (errno == EAGAIN || errno == EINTR) { return }
        guard count > 0 else { return drop(fd) }
        connections[fd, default: []] += chunk.prefix(count)
        // Every complete request in the buffer, in order.
        while let buffer = connections[fd] {
            let parsed: (HTTPRequest, Int)?
            do {
                parsed = try HTTPRequest.parse(buffer)
            } catch {
                let body = (["Err": .string(error.description)] as JSON).serializedBytes
                send(fd, HTTPResponse(status: error.status, body: body), keepAlive: false)
                return drop(fd)
            }
            guard let (request, used) = parsed else {
                // curl and others wait for this before a large body; Go's client does not ask.
                if HTTPRequest.expectsContinue(buffer), !continued.contains(fd) {
                    continued.insert(fd)
                    guard Self.write(fd, Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)) else { return drop(fd) }
                }
                return
            }
            continued.remove(fd)
            connections[fd] = Array(buffer.dropFirst(used))
            let response = handle(request)
            guard send(fd, response, keepAlive: request.keepAlive), request.keepAlive else { return drop(fd) }
        }
    }

    private func drop(_ fd: Int32) {
        connections[fd] = nil
        continued.remove(fd)
        close(fd)
    }

    @discardableResult
    private func send(_ fd: Int32, _ response: HTTPResponse, keepAlive: Bool) -> Bool {
        let reason = [200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 413: "Payload Too Large",
                      500: "Internal Server Error"][response.status] ?? "Error"
        var head = "HTTP/1.1 \(response.status) \(reason)\r\nContent-Type: \(Self.contentType)\r\n"
        head += "Content-Length: \(response.body.count)\r\n"
        if !keepAlive { head += "Connection: close\r\n" }
        head += "\r\n"
        return Self.write(fd, Array(head.utf8) + response.body)
    }

    /// Writes all of `bytes`; a client that does not read for 5 s is given up on.
    private static func write(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if count > 0 { sent += count; continue }
            guard count < 0, errno == EAGAIN || errno == EINTR else { return false }
            // A client that does not read its answer for 5 s is dropped.
            var entry = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            guard poll(&entry, 1, 5000) > 0 else { return false }
        }
        return true
    }

    private static func address(_ path: String) -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.enumerated() { raw[index] = byte }
        }
        return address
    }

    /// Whether something accepts connections on the socket at `path`.
    private static func answers(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = address(path)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        } == 0
    }

    private static func makeDirectories(_ path: String) throws(PluginError) {
        if mkdir(path, 0o755) == 0 || errno == EEXIST { return }
        guard errno == ENOENT, let slash = path.lastIndex(of: "/"), slash != path.startIndex else {
            throw PluginError("cannot create directory \(path): \(String(cString: strerror(errno)))")
        }
        try makeDirectories(String(path[..<slash]))
        guard mkdir(path, 0o755) == 0 || errno == EEXIST else {
            throw PluginError("cannot create directory \(path): \(String(cString: strerror(errno)))")
        }
    }
}
