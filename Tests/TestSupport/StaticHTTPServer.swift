import Foundation

/// A plain web server over a temporary directory (`python3 -m http.server` on a free
/// loopback port; with `tls`, the same handler behind TLS on a CA made for it), as a static
/// TUF repository is served: whatever the test writes under `root` is at `baseURL` at once.
/// Stopped by pid and removed in every outcome (`withStaticHTTPServer`).
public final class StaticHTTPServer: @unchecked Sendable {
    public let port: UInt16
    public let tls: Bool
    /// `http://127.0.0.1:PORT` or `https://…` (no trailing slash).
    public var baseURL: String { "\(tls ? "https" : "http")://127.0.0.1:\(port)" }
    /// The CA that signed the server's certificate (PEM file), when `tls`.
    public var caCertificate: String? { tls ? directory + "/ca.crt" : nil }
    /// The directory served as `/`.
    public let root: String
    /// The server's own temporary directory: `root` inside it, and the log.
    public let directory: String
    private let processes: ServerProcesses

    public init(tls: Bool = false) throws {
        self.tls = tls
        directory = NSTemporaryDirectory() + uniqueName("netctl-static-")
        root = directory + "/www"
        processes = ServerProcesses(directory: directory)
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        port = try freeLoopbackPort()
        do {
            if tls {
                try makeTestCertificates(in: directory, caName: "netctl static test CA \(port)")
                try Self.tlsServer.write(toFile: directory + "/https-server.py", atomically: true, encoding: .utf8)
                try processes.launch("/usr/bin/python3", [directory + "/https-server.py", root, "\(port)", directory + "/server.crt", directory + "/server.key"],
                                     log: "log")
            } else {
                try processes.launch("/usr/bin/python3", ["-m", "http.server", "--bind", "127.0.0.1", "--directory", root, "\(port)"], log: "log")
            }
            try waitUntilListening(port: port, seconds: 10, what: "python3 http.server (log: \(directory)/log)")
        } catch {
            stop()
            throw error
        }
    }

    deinit { stop() }

    /// Stops the server (by its pid) and removes the directory.
    public func stop() {
        processes.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Requests served so far, one line each (`GET /g/1.root.json HTTP/1.1" 200`), for a
    /// test that checks which files a client asked for.
    public var requests: [String] {
        ((try? String(contentsOfFile: directory + "/log", encoding: .utf8)) ?? "").split(separator: "\n")
            .compactMap { line in line.firstRange(of: "\"").map { String(line[$0.upperBound...]) } }
    }
}

extension StaticHTTPServer {
    /// http.server's handler behind TLS: ROOT PORT CERT KEY.
    static let tlsServer = """
        import functools, http.server, ssl, sys
        root, port, cert, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=root)
        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        server.serve_forever()
        """
}

/// Runs `body` with a web server of its own, stopped and removed after, whatever happens.
public func withStaticHTTPServer<T>(tls: Bool = false, _ body: (StaticHTTPServer) throws -> T) throws -> T {
    let server = try StaticHTTPServer(tls: tls)
    defer { server.stop() }
    return try body(server)
}
