import CNM
import Glibc
import Netlink

/// The agent's `/metrics` endpoint: Prometheus scrapes one plain HTTP/1.0 GET at a time,
/// so this is a blocking accept loop on one thread, not a web server. (The exposition
/// text itself comes from swift-prometheus.)
final class MetricsServer: @unchecked Sendable {
    private let descriptor: Int32
    private let body: @Sendable () -> [UInt8]

    /// Listens on `HOST:PORT` (an IPv4 address).
    init(address: String, body: @escaping @Sendable () -> [UInt8]) throws {
        guard let colon = address.lastIndex(of: ":"), let ip = IPAddress(String(address[..<colon])), ip.isIPv4,
              let port = UInt16(address[address.index(after: colon)...]) else {
            throw CNMError("invalid metrics address \"\(address)\": expected IPv4:PORT such as 127.0.0.1:9323")
        }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw CNMError("metrics: socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var socketAddress = sockaddr_in()
        socketAddress.sin_family = sa_family_t(AF_INET)
        socketAddress.sin_port = port.bigEndian
        withUnsafeMutableBytes(of: &socketAddress.sin_addr) { $0.copyBytes(from: ip.bytes.prefix(4)) }
        let bound = withUnsafePointer(to: &socketAddress) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw CNMError("metrics address \(address): \(reason)")
        }
        descriptor = fd
        self.body = body
    }

    func serve() {
        while true {
            let client = accept(descriptor, nil, nil)
            if client < 0 { continue }
            var timeout = timeval(tv_sec: 2, tv_usec: 0)
            setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            // The request line is all that matters; 8 KiB bounds what is read of it.
            var request = [UInt8](repeating: 0, count: 8192)
            let count = recv(client, &request, request.count, 0)
            let line = count > 0 ? String(decoding: request[..<count].prefix { $0 != 13 && $0 != 10 }, as: UTF8.self) : ""
            let found = line.hasPrefix("GET /metrics ") || line == "GET /metrics"
            let content = found ? body() : Array("not found: try /metrics\n".utf8)
            let head = "HTTP/1.0 \(found ? "200 OK" : "404 Not Found")\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: \(content.count)\r\nConnection: close\r\n\r\n"
            _ = (Array(head.utf8) + content).withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            close(client)
        }
    }
}
