import Foundation
import Glibc

/// Debian's `docker-registry` (distribution 2.8) on a free loopback port, in a temporary
/// directory of its own, stopped by pid and removed in every outcome (`withRegistry`).
/// Plain HTTP by default; `Options` adds TLS, basic auth and token auth.
public final class RegistryServer: @unchecked Sendable {
    public struct Options: Sendable {
        public init() {}
    }

    /// `127.0.0.1:PORT`: the registry as references name it.
    public let address: String
    public let port: UInt16
    /// The temporary directory: config, storage, log.
    public let directory: String
    private let process: Process

    public init(_ options: Options = Options()) throws {
        directory = NSTemporaryDirectory() + uniqueName("netctl-registry-")
        try FileManager.default.createDirectory(atPath: directory + "/data", withIntermediateDirectories: true)
        port = try freeLoopbackPort()
        address = "127.0.0.1:\(port)"
        let config = """
            version: 0.1
            log:
              level: warn
              accesslog:
                disabled: true
            storage:
              filesystem:
                rootdirectory: \(directory)/data
              delete:
                enabled: true
            http:
              addr: \(address)

            """
        try config.write(toFile: directory + "/config.yml", atomically: true, encoding: .utf8)
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/docker-registry")
        process.arguments = ["serve", directory + "/config.yml"]
        process.standardInput = FileHandle.nullDevice
        let log = FileHandle(forWritingAtPath: directory + "/log") ?? {
            FileManager.default.createFile(atPath: directory + "/log", contents: nil)
            return FileHandle(forWritingAtPath: directory + "/log")!
        }()
        process.standardOutput = log
        process.standardError = log
        do {
            try process.run()
            try waitUntilListening(port: port, seconds: 10, what: "docker-registry (log: \(directory)/log)")
        } catch {
            stop()
            throw error
        }
    }

    deinit { stop() }

    /// Stops the registry (by its pid) and removes its directory.
    public func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The registry's log, for a failing test's message.
    public var log: String { (try? String(contentsOfFile: directory + "/log", encoding: .utf8)) ?? "" }
}

/// Runs `body` with a registry of its own, stopped and removed after, whatever happens.
public func withRegistry<T>(_ options: RegistryServer.Options = .init(), _ body: (RegistryServer) throws -> T) throws -> T {
    let server = try RegistryServer(options)
    defer { server.stop() }
    return try body(server)
}

/// A TCP port free on 127.0.0.1 now (the kernel's choice for a bound socket, closed again).
public func freeLoopbackPort() throws -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw HarnessError("socket: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard ok else { throw HarnessError("bind 127.0.0.1:0: \(String(cString: strerror(errno)))") }
    return UInt16(bigEndian: address.sin_port)
}

/// Waits until something accepts TCP connections on 127.0.0.1:`port`.
public func waitUntilListening(port: UInt16, seconds: Double, what: String) throws {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        close(fd)
        if connected { return }
        usleep(20_000)
    }
    throw HarnessError("\(what) did not listen on 127.0.0.1:\(port) within \(Int(seconds)) s")
}
