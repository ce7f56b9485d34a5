import Foundation
import Glibc

// What every test server fixture (RegistryServer, NotaryServer) shares: free loopback
// ports, readiness with a deadline, a CA of the test's own, and processes started with
// their output in a log file and stopped by pid.

/// A TCP socket bound to 127.0.0.1 on a port the kernel chose, and that port; the caller closes it.
public func boundLoopbackSocket() throws -> (fd: Int32, port: UInt16) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw HarnessError("socket: \(String(cString: strerror(errno)))") }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard ok else {
        let reason = String(cString: strerror(errno))
        close(fd)
        throw HarnessError("bind 127.0.0.1:0: \(reason)")
    }
    return (fd, UInt16(bigEndian: address.sin_port))
}

/// A TCP port free on 127.0.0.1 now (the kernel's choice for a bound socket, closed again).
public func freeLoopbackPort() throws -> UInt16 {
    let (fd, port) = try boundLoopbackSocket()
    close(fd)
    return port
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

/// The processes one test server started, each with its output in a log file of its
/// directory; stopped by pid, newest first.
final class ServerProcesses {
    let directory: String
    private var processes: [Process] = []

    init(directory: String) { self.directory = directory }

    /// The pid of the process launched last.
    var lastPID: Int32 { processes.last?.processIdentifier ?? 0 }

    /// Starts `executable` with stdin closed and stdout and stderr to `directory/log`.
    func launch(_ executable: String, _ arguments: [String], log name: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        _ = FileManager.default.createFile(atPath: directory + "/" + name, contents: nil)
        let log = FileHandle(forWritingAtPath: directory + "/" + name)!
        // The child has its own copy once it runs: this one would stay open in the test
        // process for as long as it lives, one per server.
        defer { try? log.close() }
        process.standardOutput = log
        process.standardError = log
        try process.run()
        processes.append(process)
    }

    /// SIGTERM to each (newest first), SIGKILL after 5 s, and waits for it.
    func stop() {
        for process in processes.reversed() where process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            // A child that still has SIGTERM blocked (the test thread's mask is inherited)
            // gets SIGKILL after 5 s.
            let deadline = Date().addingTimeInterval(5)
            while process.isRunning && Date() < deadline { usleep(10_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        processes = []
    }
}

/// `openssl ARGUMENTS…` run in `directory`.
public func openssl(in directory: String, _ arguments: [String]) throws {
    let result = try runCommand(["sh", "-c", "cd \"$0\" && exec openssl \"$@\"", directory] + arguments)
    guard result.status == 0 else { throw HarnessError("openssl \(arguments.first ?? ""): \(result.stderr)") }
}

/// A CA of its own (`ca.crt`, `ca.key`) and a server certificate for 127.0.0.1 and
/// localhost (`server.crt`, `server.key`) in `directory`; with `clientCertificate`, a
/// client one too (`client.cert`, `client.key`). EC P-256: quick to make.
func makeTestCertificates(in directory: String, caName: String, clientCertificate: Bool = false) throws {
    try openssl(in: directory, ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                                "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=\(caName)",
                                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    try openssl(in: directory, ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                                "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"])
    try "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n"
        .write(toFile: directory + "/server.ext", atomically: true, encoding: .utf8)
    try openssl(in: directory, ["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                                "-out", "server.crt", "-days", "2", "-extfile", "server.ext"])
    if clientCertificate {
        try openssl(in: directory, ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                                    "-keyout", "client.key", "-out", "client.csr", "-subj", "/CN=netctl test client"])
        try "extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n".write(toFile: directory + "/client.ext", atomically: true, encoding: .utf8)
        try openssl(in: directory, ["x509", "-req", "-in", "client.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                                    "-out", "client.cert", "-days", "2", "-extfile", "client.ext"])
    }
}
