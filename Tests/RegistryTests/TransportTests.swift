import Foundation
@testable import Registry
import Testing
import TestSupport

/// The transport against real registries on loopback: TLS trusted through certs.d (and
/// refused without it), plain HTTP for a loopback registry without TLS, transient failures
/// from the fault proxy retried, and each failure that is not transient one line.
@Suite struct TransportTests {
    @Test func trustsARegistryThroughItsCertsDirectory() throws {
        try withRegistry(.init(tls: true)) { server in
            try withTemporaryDirectory { directory in
                let certs = try server.certsDirectory(at: directory + "/certs.d")
                let client = try configuration(directory, certs: certs).client(for: server.address)
                let answer = try client.send(HTTPRequest(method: "GET", url: client.url("/v2/")), scopes: [])
                #expect(answer.status == 200)
                #expect(client.base == "https://\(server.address)")
                // A blob goes up and comes back over TLS.
                let start = try client.send(HTTPRequest(method: "POST", url: client.url("/v2/t/app/blobs/uploads/")), scopes: [.push("t/app")])
                #expect(start.status == 202)
            }
        }
    }

    /// certs.d's `client.cert` and `client.key` answer a registry that asks for a client
    /// certificate; without them the registry refuses, in one line.
    @Test func presentsTheClientCertificateOfItsCertsDirectory() throws {
        try withRegistry(.init(tls: true, clientCertificates: true)) { server in
            try withTemporaryDirectory { directory in
                let certs = try server.certsDirectory(at: directory + "/certs.d")
                let client = try configuration(directory, certs: certs).client(for: server.address)
                #expect(client.endpoint.clientCertificate == "\(certs)/\(server.address)/client.cert")
                #expect(try client.send(HTTPRequest(method: "GET", url: client.url("/v2/")), scopes: []).status == 200)

                try FileManager.default.removeItem(atPath: "\(certs)/\(server.address)/client.cert")
                try FileManager.default.removeItem(atPath: "\(certs)/\(server.address)/client.key")
                let without = try configuration(directory, certs: certs).client(for: server.address)
                let error = try #require(throws: RegistryError.self) {
                    try without.send(HTTPRequest(method: "GET", url: without.url("/v2/")), scopes: [])
                }
                #expect(!error.message.contains("\n") && error.message.hasPrefix("registry \(server.address): "), "\(error)")
                #expect(error.message.contains("client certificate"), "\(error)")
                #expect(without.base.hasPrefix("https://"))
            }
        }
    }

    @Test func refusesAnUntrustedCertificateInOneLine() throws {
        try withRegistry(.init(tls: true)) { server in
            try withTemporaryDirectory { directory in
                let certs = directory + "/certs.d"
                let client = try configuration(directory, certs: certs).client(for: server.address)
                let error = try #require(throws: RegistryError.self) {
                    try client.send(HTTPRequest(method: "GET", url: client.url("/v2/")), scopes: [])
                }
                #expect(error.kind == .unreachable)
                #expect(error.message.contains("not trusted"), "\(error)")
                #expect(error.message.contains("\(certs)/\(server.address)"), "\(error)")
                #expect(!error.message.contains("\n"))
                // Not silently downgraded to plain HTTP either.
                #expect(client.base.hasPrefix("https://"))
            }
        }
    }

    @Test func speaksPlainHTTPToALoopbackRegistryWithoutTLS() throws {
        try withRegistry { server in
            try withTemporaryDirectory { directory in
                let client = try configuration(directory).client(for: server.address)
                #expect(try client.send(HTTPRequest(method: "GET", url: client.url("/v2/")), scopes: []).status == 200)
                #expect(client.base == "http://\(server.address)")
            }
        }
    }

    @Test func retriesServiceUnavailable() throws {
        try withRegistry(.init(fault: .failFirst(status: 503, count: 2))) { server in
            try withTemporaryDirectory { directory in
                let client = try configuration(directory).client(for: server.address)
                #expect(try client.send(HTTPRequest(method: "GET", url: client.url("/v2/")), scopes: []).status == 200)
                #expect(server.proxyStatistics.faults == 2)
            }
        }
    }

    @Test func retriesTooManyRequestsAfterRetryAfter() throws {
        try withRegistry(.init(fault: .failFirst(status: 429, count: 1, retryAfter: 1))) { server in
            try withTemporaryDirectory { directory in
                let client = try configuration(directory).client(for: server.address)
                let answer = try client.send(HTTPRequest(method: "GET", url: client.url("/v2/t/app/tags/list")), scopes: [.pull("t/app")])
                #expect(answer.status == 404)
                #expect(server.proxyStatistics.faults == 1)
            }
        }
    }

    @Test func givesUpOnAServerThatStaysUnavailable() throws {
        try withRegistry(.init(fault: .failFirst(status: 503, count: 100))) { server in
            try withTemporaryDirectory { directory in
                let client = try configuration(directory).client(for: server.address)
                let error = try #require(throws: RegistryError.self) {
                    try client.send(HTTPRequest(method: "GET", url: client.url("/v2/")), scopes: [])
                }
                #expect(error.kind == .server)
                #expect(error.message.contains("503 after 4 tries: UNAVAILABLE: injected by the test proxy"), "\(error)")
                #expect(server.proxyStatistics.faults == 4)
            }
        }
    }

    /// A blob cut mid-body reaches the sink in part: `send` must not start it again on its
    /// own (the caller resumes or restarts), and says what broke.
    @Test func doesNotRetryOnceTheSinkHasBytes() throws {
        try withRegistry(.init(fault: .passThrough)) { server in
            try withTemporaryDirectory { directory in
                let client = try configuration(directory).client(for: server.address)
                let blob = [UInt8](repeating: 0x5a, count: 200_000)
                let digest = try pushBlob(blob, client: client)
                try server.setFault(.cutBlob(afterBytes: 1000, count: 1))
                var received = 0
                let error = try #require(throws: RegistryError.self) {
                    try client.send(HTTPRequest(method: "GET", url: client.url("/v2/t/app/blobs/\(digest)")), scopes: [.pull("t/app")]) { received += $0.count }
                }
                #expect(error.kind == .server, "\(error)")
                #expect(received == 1000)
                #expect(server.proxyStatistics.faults == 1)
                // The next GET gets it whole.
                var bytes: [UInt8] = []
                let answer = try client.send(HTTPRequest(method: "GET", url: client.url("/v2/t/app/blobs/\(digest)")), scopes: [.pull("t/app")]) { bytes += $0 }
                #expect(answer.status == 200 && bytes == blob)
            }
        }
    }

    /// Cut before any byte reached a caller (the body is collected, not streamed): retried.
    @Test func retriesACutTransferNobodyHasSeen() throws {
        try withRegistry(.init(fault: .passThrough)) { server in
            try withTemporaryDirectory { directory in
                let client = try configuration(directory).client(for: server.address)
                let blob = [UInt8](repeating: 0xa5, count: 100_000)
                let digest = try pushBlob(blob, client: client)
                try server.setFault(.cutBlob(afterBytes: 500, count: 2))
                let answer = try client.send(HTTPRequest(method: "GET", url: client.url("/v2/t/app/blobs/\(digest)")), scopes: [.pull("t/app")], limit: 1 << 20)
                #expect(answer.status == 200 && answer.body == blob)
                #expect(server.proxyStatistics.faults == 2)
            }
        }
    }

    @Test func theTamperingProxyFlipsABlobByte() throws {
        try withRegistry(.init(fault: .passThrough)) { server in
            try withTemporaryDirectory { directory in
                let client = try configuration(directory).client(for: server.address)
                let blob = Array("layer bytes".utf8)
                let digest = try pushBlob(blob, client: client)
                try server.setFault(.tamperBlob)
                var bytes: [UInt8] = []
                _ = try client.send(HTTPRequest(method: "GET", url: client.url("/v2/t/app/blobs/\(digest)")), scopes: [.pull("t/app")]) { bytes += $0 }
                #expect(bytes.count == blob.count && bytes != blob)
            }
        }
    }

    @Test func refusedConnectionIsOneLine() throws {
        let port = try freeLoopbackPort()
        try withTemporaryDirectory { directory in
            let client = try configuration(directory).client(for: "127.0.0.1:\(port)")
            let error = try #require(throws: RegistryError.self) {
                try client.send(HTTPRequest(method: "GET", url: client.url("/v2/")), scopes: [])
            }
            #expect(error.kind == .unreachable)
            #expect(error.message == "registry 127.0.0.1:\(port): cannot connect: Connection refused")
        }
    }

    @Test func readsTheRegistriesFile() throws {
        try withTemporaryDirectory { directory in
            try #"{"unqualified-search": ["registry.example:5000", "docker.io"], "insecure": ["registry.example:5000"]}"#
                .write(toFile: directory + "/registries.json", atomically: true, encoding: .utf8)
            let configuration = RegistryConfiguration(environment: ["NETCTL_REGISTRIES_CONF": directory + "/registries.json",
                                                                    "NETCTL_CERTS_D": directory, "REGISTRY_AUTH_FILE": directory + "/auth.json"])
            #expect(configuration.defaultRegistry == "registry.example:5000")
            let insecure = try configuration.endpoint(for: "registry.example:5000")
            #expect(insecure.fallbackURL == "http://registry.example:5000" && !insecure.verifyPeer)
            let hub = try configuration.endpoint(for: "docker.io")
            #expect(hub.baseURL == "https://registry-1.docker.io" && hub.fallbackURL == nil && hub.verifyPeer)

            try #"{"insecure": "registry.example"}"#.write(toFile: directory + "/registries.json", atomically: true, encoding: .utf8)
            let bad = RegistryConfiguration(environment: ["NETCTL_REGISTRIES_CONF": directory + "/registries.json"])
            #expect(throws: RegistryError.self) { try bad.endpoint(for: "docker.io") }
        }
    }
}

/// A configuration that reads nothing of the host's: registries file, certs.d and auth file
/// all under `directory`.
func configuration(_ directory: String, certs: String? = nil) -> RegistryConfiguration {
    RegistryConfiguration(environment: ["NETCTL_REGISTRIES_CONF": directory + "/registries.json",
                                        "NETCTL_CERTS_D": certs ?? directory + "/certs.d",
                                        "REGISTRY_AUTH_FILE": directory + "/auth.json"])
}

/// A configuration that reads nothing of the host's: no auth file, registries.json or
/// certs.d (a test must not depend on, or be changed by, ~/.docker/config.json).
func isolatedConfiguration() -> RegistryConfiguration {
    configuration(NSTemporaryDirectory() + "netctl-no-such-directory")
}

/// Uploads `blob` to t/app in one POST + PUT; returns its digest.
func pushBlob(_ blob: [UInt8], client: RegistryClient, repository: String = "t/app") throws -> String {
    let digest = "sha256:" + sha256Hex(blob)
    let start = try client.send(HTTPRequest(method: "POST", url: client.url("/v2/\(repository)/blobs/uploads/")), scopes: [.push(repository)])
    guard start.status == 202, let location = start.header("location") else { throw TestFailure("upload start answered \(start.status)") }
    let target = client.resolve(location: location)
    let put = try client.send(HTTPRequest(method: "PUT", url: target + (target.contains("?") ? "&" : "?") + "digest=\(digest)",
                                          headers: ["Content-Type: application/octet-stream"], body: .bytes(blob)), scopes: [.push(repository)])
    guard put.status == 201 else { throw TestFailure("upload PUT answered \(put.status): \(String(decoding: put.body, as: UTF8.self))") }
    return digest
}

func sha256Hex(_ bytes: [UInt8]) -> String {
    let file = NSTemporaryDirectory() + uniqueName("netctl-digest-")
    _ = FileManager.default.createFile(atPath: file, contents: Data(bytes))
    defer { try? FileManager.default.removeItem(atPath: file) }
    let result = try? runCommand(["sha256sum", file])
    return String((result?.stdout ?? "").prefix(64))
}

func withTemporaryDirectory<T>(_ body: (String) throws -> T) throws -> T {
    let directory = NSTemporaryDirectory() + uniqueName("netctl-transport-")
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    return try body(directory)
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
