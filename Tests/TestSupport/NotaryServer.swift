import Foundation
import Glibc

/// Debian's `notary-server` (Notary 0.7) on a free loopback port over TLS (a CA the test
/// makes), signing timestamps and snapshots itself (`trust_service: local`, which makes
/// ed25519 keys) and keeping collections in memory: every server starts empty. Stopped by
/// pid and its directory removed in every outcome (`withNotaryServer`).
///
/// `notary(…)` runs the real `notary` CLI against it, the peer netctl must agree with.
public final class NotaryServer: @unchecked Sendable {
    /// `https://127.0.0.1:PORT`.
    public let url: String
    public let port: UInt16
    /// The temporary directory: config, certificates, log, and trust directories the test
    /// asks for (`trustDirectory`).
    public let directory: String
    /// The CA that signed the server's certificate (PEM), for `--tlscacert` and netctl.
    public var caPath: String { directory + "/ca.crt" }
    /// The passphrase `notary(…)` gives the CLI for every role unless `env` says otherwise.
    public static let passphrase = "notary-test-passphrase"
    private let processes: ServerProcesses

    public init() throws {
        directory = NSTemporaryDirectory() + uniqueName("netctl-notary-")
        processes = ServerProcesses(directory: directory)
        port = try freeLoopbackPort()
        url = "https://127.0.0.1:\(port)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        do {
            try start()
        } catch {
            stop()
            throw error
        }
    }

    private func start() throws {
        try makeTestCertificates(in: directory, caName: "netctl test notary CA \(port)")
        let config = """
            {
              "server": {"http_addr": "127.0.0.1:\(port)", "tls_cert_file": "\(directory)/server.crt", "tls_key_file": "\(directory)/server.key"},
              "trust_service": {"type": "local"},
              "storage": {"backend": "memory"},
              "logging": {"level": "info"}
            }
            """
        try config.write(toFile: directory + "/server.json", atomically: true, encoding: .utf8)
        try processes.launch("/usr/bin/notary-server", ["-config", directory + "/server.json"], log: "log")
        try waitUntilListening(port: port, seconds: 10, what: "notary-server (log: \(directory)/log)")
    }

    deinit { stop() }

    /// Stops the server (by its pid) and removes the directory.
    public func stop() {
        processes.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// A new, empty trust directory inside the server's own (removed with it).
    public func trustDirectory(_ name: String = "notary-cli") throws -> String {
        let path = directory + "/" + uniqueName(name + "-")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// `notary -s URL -d TRUSTDIR --tlscacert CA ARGUMENTS…`, passphrases of every role
    /// from the environment (`NOTARY_ROOT_PASSPHRASE` and the others; `env` overrides):
    /// its result, whatever its exit status.
    public func notaryResult(_ arguments: [String], trustDir: String, env: [String: String] = [:]) throws -> CommandResult {
        var environment = ["NOTARY_ROOT_PASSPHRASE": Self.passphrase, "NOTARY_TARGETS_PASSPHRASE": Self.passphrase,
                           "NOTARY_SNAPSHOT_PASSPHRASE": Self.passphrase, "NOTARY_DELEGATION_PASSPHRASE": Self.passphrase]
        for (key, value) in env { environment[key] = value }
        return try runCommand(["/usr/bin/notary", "-s", url, "-d", trustDir, "--tlscacert", caPath] + arguments, environment: environment)
    }

    /// The same, which must succeed: its standard output.
    @discardableResult
    public func notary(_ arguments: String..., trustDir: String, env: [String: String] = [:]) throws -> String {
        let result = try notaryResult(arguments, trustDir: trustDir, env: env)
        guard result.status == 0 else {
            throw HarnessError("notary \(arguments.joined(separator: " ")): exit \(result.status): \(result.stderr)\(result.stdout)")
        }
        return result.stdout
    }

    /// The server's log, for a failing test's message.
    public var log: String { (try? String(contentsOfFile: directory + "/log", encoding: .utf8)) ?? "" }
}

/// Runs `body` with a notary-server of its own, stopped and removed after, whatever happens.
public func withNotaryServer<T>(_ body: (NotaryServer) throws -> T) throws -> T {
    let server = try NotaryServer()
    defer { server.stop() }
    return try body(server)
}
