import Foundation
import Glibc

/// The processes of one test server (a registry, its token server and fault proxy, a static
/// web server, notary-server), each logging into a file of the server's directory, and
/// stopped by pid, newest first, in every outcome.
public final class ServerProcesses: @unchecked Sendable {
    public let directory: String
    private var processes: [Process] = []
    private let lock = NSLock()

    public init(directory: String) { self.directory = directory }

    /// Starts `executable` with stdin closed and stdout and stderr into `directory/log`.
    @discardableResult
    public func launch(_ executable: String, _ arguments: [String], log name: String, environment: [String: String]? = nil) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        process.standardInput = FileHandle.nullDevice
        _ = FileManager.default.createFile(atPath: directory + "/" + name, contents: nil)
        let log = FileHandle(forWritingAtPath: directory + "/" + name)!
        // The child has its own copy once it runs: this one would stay open in the test
        // process for as long as it lives, one per server.
        defer { try? log.close() }
        process.standardOutput = log
        process.standardError = log
        try process.run()
        lock.withLock { processes.append(process) }
        return process
    }

    /// SIGTERM to each (newest first), SIGKILL to one still running 5 s later, and waits.
    public func stopAll() {
        let running = lock.withLock { () -> [Process] in
            defer { processes = [] }
            return processes
        }
        for process in running.reversed() where process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            // A child that still has SIGTERM blocked (the test thread's mask is inherited)
            // gets SIGKILL after 5 s.
            let deadline = Date().addingTimeInterval(5)
            while process.isRunning && Date() < deadline { usleep(10_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
    }
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
