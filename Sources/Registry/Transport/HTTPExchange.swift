import CCurl
import Glibc

/// One HTTP request to a registry. `url` is absolute (`https://HOST:PORT/v2/…`): a
/// registry's Location headers may point anywhere, an upload's next URL or a blob's
/// storage back end.
public struct HTTPRequest: Sendable {
    public enum Body: Sendable {
        case none
        case bytes([UInt8])
        /// `length` bytes of the file at `path` from `offset`: a layer blob, never in memory.
        case file(path: String, offset: Int64, length: Int64)
    }

    public var method: String
    public var url: String
    /// `Name: value` lines.
    public var headers: [String]
    public var body: Body

    public init(method: String, url: String, headers: [String] = [], body: Body = .none) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }
}

/// A registry's answer: status, headers (names lowercased; the last of a repeated header
/// wins, except `www-authenticate`, whose values are all kept, joined by newlines), and the
/// body when it was collected rather than streamed.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [String: String]
    public var body: [UInt8]

    public func header(_ name: String) -> String? { headers[name.lowercased()] }
}

/// How libcurl failed, before or during the exchange.
enum TransferFailure: Error {
    /// The registry's host name does not resolve.
    case unknownHost(String)
    /// No connection was made (refused, timed out): nothing reached the server.
    case notConnected(String)
    /// TLS: the server's certificate was not trusted.
    case tls(String)
    /// TLS: the handshake failed (a server that speaks plain HTTP, most often).
    case handshake(String)
    /// The connection broke or timed out after it was made.
    case broken(String)
    /// The response body was larger than the caller's limit.
    case tooLarge(Int)
    /// The sink threw: its error, unchanged.
    case sink(any Error)
}

/// What libcurl's callbacks write into during one exchange.
final class ExchangeState {
    var status = 0
    var headers: [String: String] = [:]
    var body: [UInt8] = []
    let limit: Int
    let sink: ((UnsafeRawBufferPointer) throws -> Void)?
    var sinkError: (any Error)?
    var overflowed = false
    /// Body bytes received, streamed or collected.
    var received: Int64 = 0
    /// The request body, when it is a file.
    var uploadFD: Int32 = -1
    var uploadLeft: Int64 = 0
    /// The easy handle, to ask for the status when the body starts.
    var handle: UnsafeMutableRawPointer?

    init(limit: Int, sink: ((UnsafeRawBufferPointer) throws -> Void)?) {
        self.limit = limit
        self.sink = sink
    }

    func header(_ line: UnsafeRawBufferPointer) {
        let text = String(decoding: line, as: UTF8.self).trimmingSuffix()
        if text.hasPrefix("HTTP/") {
            // A new response (after a 100 Continue or a redirect): its headers start afresh.
            headers = [:]
            return
        }
        guard let colon = text.firstIndex(of: ":") else { return }
        let name = text[..<colon].lowercased()
        let value = String(text[text.index(after: colon)...].drop { $0 == " " || $0 == "\t" })
        if name == "www-authenticate", let earlier = headers[name] {
            headers[name] = earlier + "\n" + value
        } else {
            headers[name] = value
        }
    }

    /// False makes libcurl abort the transfer.
    func receive(_ chunk: UnsafeRawBufferPointer) -> Bool {
        received += Int64(chunk.count)
        if let sink, (200..<300).contains(status) {
            do { try sink(chunk) } catch {
                sinkError = error
                return false
            }
            return true
        }
        // An error body (or a body collected whole) is kept up to the limit.
        guard body.count + chunk.count <= limit else { overflowed = true; return false }
        body.append(contentsOf: chunk)
        return true
    }

    func readUpload(into buffer: UnsafeMutableRawPointer, capacity: Int) -> Int {
        guard uploadLeft > 0 else { return 0 }
        let count = retrying { read(uploadFD, buffer, min(capacity, Int(uploadLeft))) }
        guard count > 0 else { return Int(CURL_READFUNC_ABORT) }
        uploadLeft -= Int64(count)
        return count
    }
}

extension String {
    /// Without trailing CR, LF and spaces (bytes: "\r\n" is one Character).
    func trimmingSuffix() -> String {
        var bytes = Substring(self).utf8
        while let last = bytes.last, last == 0x0d || last == 0x0a || last == 0x20 { bytes = bytes.dropLast() }
        return String(Substring(bytes))
    }
}

func retrying(_ call: () -> Int) -> Int {
    while true {
        let result = call()
        if result >= 0 || errno != EINTR { return result }
    }
}

func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}
