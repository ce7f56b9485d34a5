import Foundation

/// A plain web server over a temporary directory (`python3 -m http.server` on a free
/// loopback port), as a static TUF repository is served: whatever the test writes under
/// `root` is at `baseURL` at once. Stopped by pid and removed in every outcome
/// (`withStaticHTTPServer`).
public final class StaticHTTPServer: @unchecked Sendable {
    public let port: UInt16
    /// `http://127.0.0.1:PORT` (no trailing slash).
    public var baseURL: String { "http://127.0.0.1:\(port)" }
    /// The directory served as `/`.
    public let root: String
    /// The server's own temporary directory: `root` inside it, and the log.
    public let directory: String
    private let processes: ServerProcesses

    public init() throws {
        directory = NSTemporaryDirectory() + uniqueName("netctl-static-")
        root = directory + "/www"
        processes = ServerProcesses(directory: directory)
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        port = try freeLoopbackPort()
        do {
            try processes.launch("/usr/bin/python3", ["-m", "http.server", "--bind", "127.0.0.1", "--directory", root, "\(port)"], log: "log")
            try waitUntilListening(port: port, seconds: 10, what: "python3 -m http.server (log: \(directory)/log)")
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

/// Runs `body` with a web server of its own, stopped and removed after, whatever happens.
public func withStaticHTTPServer<T>(_ body: (StaticHTTPServer) throws -> T) throws -> T {
    let server = try StaticHTTPServer()
    defer { server.stop() }
    return try body(server)
}
