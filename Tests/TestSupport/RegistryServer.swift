import Foundation
import Glibc

/// Debian's `docker-registry` (distribution 2.8) on a free loopback port, in a temporary
/// directory of its own, stopped by pid and removed in every outcome (`withRegistry`).
/// Plain HTTP by default; `Options` adds TLS (a CA the test makes), htpasswd basic auth,
/// a bearer-token server, and a fault proxy in front.
public final class RegistryServer: @unchecked Sendable {
    public struct Options: Sendable {
        /// HTTPS with a server certificate for 127.0.0.1 and localhost, signed by a CA made
        /// for this server alone (`caCertificate`, `certsDirectory(at:)`).
        public var tls: Bool
        /// With `tls`: the registry asks for a client certificate signed by its CA
        /// (`certsDirectory(at:)` then also lays out `client.cert` and `client.key`).
        public var clientCertificates: Bool
        /// Basic auth from an htpasswd file (`htpasswd -Bbn`) with this one user.
        public var htpasswd: (user: String, password: String)?
        /// Token auth: a bearer-token server of the test's own, where this user may do
        /// `tokenActions` (a scope asking more gets only those; the registry then says 401).
        public var token: (user: String, password: String)?
        public var tokenActions: [String]
        /// What the token server grants a request without credentials.
        public var anonymousActions: [String]
        /// A fault proxy in front of the registry (`address` then names the proxy), breaking
        /// requests as this says; `.passThrough` passes everything (change it with `setFault`).
        public var fault: Fault?

        public init(tls: Bool = false, clientCertificates: Bool = false, htpasswd: (user: String, password: String)? = nil,
                    token: (user: String, password: String)? = nil, tokenActions: [String] = ["pull", "push"],
                    anonymousActions: [String] = [], fault: Fault? = nil) {
            self.tls = tls
            self.clientCertificates = clientCertificates
            self.htpasswd = htpasswd
            self.token = token
            self.tokenActions = tokenActions
            self.anonymousActions = anonymousActions
            self.fault = fault
        }
    }

    /// What the fault proxy breaks.
    public enum Fault: Sendable, Equatable {
        /// Nothing: every request passes.
        case passThrough
        /// Flips the first byte of every blob GET body (the length stays right).
        case tamperBlob
        /// Closes the connection after `afterBytes` body bytes of the first `count` blob GETs.
        case cutBlob(afterBytes: Int, count: Int = 1)
        /// Answers blob GETs with a 307 to another origin (`localhost:PORT/_storage/…`, as
        /// S3 behind a registry), which serves the blob; `credentialsSentToStorage` counts
        /// requests that took the registry's Authorization there.
        case redirectBlob
        /// Answers the first `count` requests with `status` (503, 429), with `Retry-After:
        /// retryAfter` seconds when given.
        case failFirst(status: Int, count: Int, retryAfter: Int? = nil)

        var json: String {
            switch self {
            case .passThrough: "{}"
            case .tamperBlob: #"{"kind": "tamperBlob"}"#
            case .redirectBlob: #"{"kind": "redirectBlob"}"#
            case .cutBlob(let after, let count): #"{"kind": "cutBlob", "afterBytes": \#(after), "count": \#(count)}"#
            case .failFirst(let status, let count, let retryAfter):
                #"{"kind": "failFirst", "status": \#(status), "count": \#(count), "retryAfter": \#(retryAfter.map(String.init) ?? "null")}"#
            }
        }
    }

    /// `127.0.0.1:PORT`: the registry as references name it (the fault proxy's port when
    /// there is one).
    public let address: String
    public let port: UInt16
    /// The registry itself, behind the proxy (equal to `address` without one).
    public let registryAddress: String
    /// The temporary directory: config, storage, certificates, scripts, logs.
    public let directory: String
    public let options: Options
    /// The CA that signed the server certificate (PEM), when `tls`.
    public var caCertificate: String? { options.tls ? directory + "/ca.crt" : nil }
    /// `http://127.0.0.1:PORT/token`, when `token`.
    public private(set) var tokenRealm: String?
    /// The `service` the token server and registry agree on.
    public let tokenService = "netctl-test-registry"
    private let processes: ServerProcesses

    public init(_ options: Options = Options()) throws {
        self.options = options
        directory = NSTemporaryDirectory() + uniqueName("netctl-registry-")
        processes = ServerProcesses(directory: directory)
        try FileManager.default.createDirectory(atPath: directory + "/data", withIntermediateDirectories: true)
        let registryPort = try freeLoopbackPort()
        registryAddress = "127.0.0.1:\(registryPort)"
        if options.fault != nil {
            var proxyPort = try freeLoopbackPort()
            while proxyPort == registryPort { proxyPort = try freeLoopbackPort() }
            port = proxyPort
        } else {
            port = registryPort
        }
        address = "127.0.0.1:\(port)"
        do {
            try start(registryPort: registryPort)
        } catch {
            stop()
            throw error
        }
    }

    private func start(registryPort: UInt16) throws {
        var auth = ""
        var tls = ""
        if options.tls {
            try makeCertificates()
            tls = """
                  tls:
                    certificate: \(directory)/server.crt
                    key: \(directory)/server.key
                \(options.clientCertificates ? "    clientcas: [\(directory)/ca.crt]" : "")

                """
        }
        if let credentials = options.htpasswd {
            let result = try runCommand(["htpasswd", "-Bbn", credentials.user, credentials.password])
            guard result.status == 0 else { throw HarnessError("htpasswd: \(result.stderr)") }
            try result.stdout.write(toFile: directory + "/htpasswd", atomically: true, encoding: .utf8)
            auth = """
                auth:
                  htpasswd:
                    realm: netctl-test
                    path: \(directory)/htpasswd

                """
        }
        if let credentials = options.token {
            try openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "token.key", "-out", "token.crt",
                         "-days", "2", "-subj", "/CN=netctl-test-token-issuer"])
            let users: [String: Any] = ["users": [credentials.user: ["password": credentials.password, "actions": options.tokenActions]],
                                        "anonymous": options.anonymousActions]
            try JSONSerialization.data(withJSONObject: users).write(to: URL(fileURLWithPath: directory + "/token-users.json"))
            try RegistryFixtureScripts.tokenServer.write(toFile: directory + "/token-server.py", atomically: true, encoding: .utf8)
            var tokenPort = try freeLoopbackPort()
            while tokenPort == registryPort || tokenPort == port { tokenPort = try freeLoopbackPort() }
            tokenRealm = "http://127.0.0.1:\(tokenPort)/token"
            try launch("/usr/bin/python3", [directory + "/token-server.py", directory, "\(tokenPort)", tokenService, "netctl-test-issuer"],
                       log: "token.log")
            try waitUntilListening(port: tokenPort, seconds: 10, what: "token server (log: \(directory)/token.log)")
            auth = """
                auth:
                  token:
                    realm: \(tokenRealm!)
                    service: \(tokenService)
                    issuer: netctl-test-issuer
                    rootcertbundle: \(directory)/token.crt

                """
        }
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
              addr: \(registryAddress)
              secret: netctl-test-secret
            \(tls)\(auth)
            """
        try config.write(toFile: directory + "/config.yml", atomically: true, encoding: .utf8)
        try launch("/usr/bin/docker-registry", ["serve", directory + "/config.yml"], log: "log")
        let registryPort = UInt16(registryAddress.split(separator: ":").last!)!
        try waitUntilListening(port: registryPort, seconds: 10, what: "docker-registry (log: \(directory)/log)")
        if let fault = options.fault {
            try setFault(fault)
            try RegistryFixtureScripts.faultProxy.write(toFile: directory + "/fault-proxy.py", atomically: true, encoding: .utf8)
            try launch("/usr/bin/python3", [directory + "/fault-proxy.py", directory, "\(port)", "\(registryPort)", options.tls ? "https" : "http"],
                       log: "proxy.log")
            try waitUntilListening(port: port, seconds: 10, what: "fault proxy (log: \(directory)/proxy.log)")
        }
    }

    deinit { stop() }

    /// Stops every process (by its pid, newest first) and removes the directory.
    public func stop() {
        processes.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Changes what the fault proxy breaks; its counts start afresh.
    public func setFault(_ fault: Fault) throws {
        let path = directory + "/fault.json"
        try fault.json.write(toFile: path + ".tmp", atomically: false, encoding: .utf8)
        guard rename(path + ".tmp", path) == 0 else { throw HarnessError("rename \(path): \(String(cString: strerror(errno)))") }
    }

    /// Requests the fault proxy saw, and how many of them it broke, since the last `setFault`
    /// (requests: since it started).
    public var proxyStatistics: (requests: Int, faults: Int) {
        guard let data = FileManager.default.contents(atPath: directory + "/proxy-stats.json"),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Int] else { return (0, 0) }
        return (object["requests"] ?? 0, object["faults"] ?? 0)
    }

    /// Requests that followed a `.redirectBlob` redirect with an Authorization header (a
    /// client must not send the registry's credentials to another host).
    public var credentialsSentToStorage: Int { proxyCount("leaked") }

    /// Requests that followed a `.redirectBlob` redirect.
    public var storageRequests: Int { proxyCount("storage") }

    private func proxyCount(_ name: String) -> Int {
        guard let data = FileManager.default.contents(atPath: directory + "/proxy-stats.json"),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Int] else { return 0 }
        return object[name] ?? 0
    }

    /// Token requests so far, one line each: `USER|- SCOPE…`.
    public var tokenRequests: [String] {
        ((try? String(contentsOfFile: directory + "/token-requests.log", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    /// Lays out Docker's certs.d for this registry under `root`: `root/127.0.0.1:PORT/ca.crt`
    /// (and `client.cert`, `client.key` with `clientCertificates`), for the registry's own
    /// address and, with a proxy, the proxy's. Returns `root`.
    @discardableResult
    public func certsDirectory(at root: String) throws -> String {
        guard let ca = caCertificate else { throw HarnessError("registry \(address) has no TLS") }
        for name in Set([registryAddress, address]) {
            try FileManager.default.createDirectory(atPath: root + "/" + name, withIntermediateDirectories: true)
            try? FileManager.default.removeItem(atPath: root + "/" + name + "/ca.crt")
            try FileManager.default.copyItem(atPath: ca, toPath: root + "/" + name + "/ca.crt")
            if options.clientCertificates {
                for file in ["client.cert", "client.key"] {
                    try? FileManager.default.removeItem(atPath: root + "/" + name + "/" + file)
                    try FileManager.default.copyItem(atPath: directory + "/" + file, toPath: root + "/" + name + "/" + file)
                }
            }
        }
        return root
    }

    /// The registry's log, for a failing test's message.
    public var log: String { (try? String(contentsOfFile: directory + "/log", encoding: .utf8)) ?? "" }

    private func makeCertificates() throws {
        try makeTestCertificates(in: directory, caName: "netctl test CA \(port)", clientCertificate: options.clientCertificates)
    }

    private func openssl(_ arguments: [String]) throws {
        try TestSupport.openssl(in: directory, arguments)
    }

    private func launch(_ executable: String, _ arguments: [String], log name: String) throws {
        try processes.launch(executable, arguments, log: name)
    }
}

/// Runs `body` with a registry of its own, stopped and removed after, whatever happens.
public func withRegistry<T>(_ options: RegistryServer.Options = .init(), _ body: (RegistryServer) throws -> T) throws -> T {
    let server = try RegistryServer(options)
    defer { server.stop() }
    return try body(server)
}
