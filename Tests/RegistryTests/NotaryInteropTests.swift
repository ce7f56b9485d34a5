import Foundation
import Glibc
@testable import Registry
import Security
import Testing
import TestSupport

/// netctl and the real Notary, both ways: Debian's notary-server on loopback (TLS on a CA
/// the test makes) and its `notary` CLI as the peer that must agree.
@Suite struct NotaryInteropTests {
    static let gun = "127.0.0.1:5000/team/app"

    /// The files netctl fetches are the files the server serves the `notary` CLI, byte for
    /// byte (as its cache holds them after `notary list`), by name and by version; what
    /// the server does not have is nil, not an error.
    @Test func fetchesTheFilesTheNotaryCLIPublished() throws {
        try withNotaryServer { server in
            let trustDir = try server.trustDirectory()
            try publishWithCLI(server, trustDir: trustDir, tag: "1.0", content: "a manifest\n")
            _ = try server.notary("list", Self.gun, trustDir: trustDir)

            let source = try NotarySource(server: server.url, gun: Self.gun, configuration: isolatedConfiguration(),
                                          caFile: server.caPath)
            let cache = "\(trustDir)/tuf/\(Self.gun)/metadata"
            for role in ["root", "targets", "snapshot", "timestamp"] {
                let fetched = try #require(try source.fetch(role: role, version: nil, limit: 1 << 20), "\(role)")
                #expect(fetched == Array(try Data(contentsOf: URL(fileURLWithPath: "\(cache)/\(role).json"))), "\(role)")
            }
            #expect(try source.fetch(role: "root", version: 1, limit: 1 << 20) == source.fetch(role: "root", version: nil, limit: 1 << 20))
            #expect(try source.fetch(role: "root", version: 2, limit: 1 << 20) == nil)
            #expect(try source.fetch(role: "targets/releases", version: nil, limit: 1 << 20) == nil)
            let elsewhere = try NotarySource(server: server.url, gun: "127.0.0.1:5000/team/other", configuration: isolatedConfiguration(),
                                             caFile: server.caPath)
            #expect(try elsewhere.fetch(role: "root", version: nil, limit: 1 << 20) == nil)
        }
    }

    /// A file beyond the caller's limit is refused before it is read to its end.
    @Test func refusesAFileBeyondTheLimit() throws {
        try withNotaryServer { server in
            let trustDir = try server.trustDirectory()
            try publishWithCLI(server, trustDir: trustDir, tag: "1.0", content: "a manifest\n")
            let source = try NotarySource(server: server.url, gun: Self.gun, configuration: isolatedConfiguration(), caFile: server.caPath)
            let error = try #require(throws: TrustError.self) { try source.fetch(role: "root", version: nil, limit: 100) }
            guard case .malformed(let line) = error else { Issue.record("\(error)"); return }
            #expect(line == "root.json from trust server 127.0.0.1:\(server.port) is larger than 100 bytes", "\(line)")
        }
    }

    /// The server's certificate is trusted only through the CA given (or certs.d): without
    /// it, one line that says so.
    @Test func refusesAnUntrustedServerInOneLine() throws {
        try withNotaryServer { server in
            let source = try NotarySource(server: server.url, gun: Self.gun, configuration: isolatedConfiguration())
            let error = try #require(throws: TrustError.self) { try source.fetch(role: "root", version: nil, limit: 1 << 20) }
            guard case .unavailable(let line) = error else { Issue.record("\(error)"); return }
            #expect(line.hasPrefix("trust server 127.0.0.1:\(server.port): certificate not trusted"), "\(line)")
            #expect(!line.contains("\n"))
        }
    }

    /// A server nobody answers at: one line, within 5 s, whether the connection is refused
    /// (nothing listens) or never made (a listener whose queue is full drops the SYN).
    @Test func anUnreachableServerIsOneLineWithinFiveSeconds() throws {
        let port = try freeLoopbackPort()
        let refused = try NotarySource(server: "https://127.0.0.1:\(port)", gun: Self.gun, configuration: isolatedConfiguration())
        let error = try #require(throws: TrustError.self) { try refused.fetch(role: "root", version: nil, limit: 1 << 20) }
        guard case .unavailable(let line) = error else { Issue.record("\(error)"); return }
        #expect(line == "trust server 127.0.0.1:\(port): cannot connect: Connection refused", "\(line)")

        try withSilentListener { port in
            let silent = try NotarySource(server: "https://127.0.0.1:\(port)", gun: Self.gun, configuration: isolatedConfiguration())
            let started = Date()
            let error = try #require(throws: TrustError.self) { try silent.fetch(role: "timestamp", version: nil, limit: 1 << 20) }
            let elapsed = Date().timeIntervalSince(started)
            guard case .unavailable(let line) = error else { Issue.record("\(error)"); return }
            #expect(line.hasPrefix("trust server 127.0.0.1:\(port): cannot connect: "), "\(line)")
            #expect(!line.contains("\n"))
            // The issue's bound: connecting gives up after 4 s.
            #expect(elapsed < 5, "\(elapsed) s")
        }
    }

    /// The server's refusal of a publish is one line with its reason: here a root whose
    /// certificate names another collection.
    @Test func aRefusedPublishIsOneLine() throws {
        try withNotaryServer { server in
            let trustDir = try server.trustDirectory()
            try publishWithCLI(server, trustDir: trustDir, tag: "1.0", content: "a manifest\n")
            let root = try Array(Data(contentsOf: URL(fileURLWithPath: "\(trustDir)/tuf/\(Self.gun)/metadata/root.json")))
            let publisher = NotaryPublisher(try NotarySource(server: server.url, gun: "127.0.0.1:5000/team/other", configuration: isolatedConfiguration(),
                                                                          caFile: server.caPath))
            let error = try #require(throws: TrustError.self) { try publisher.publish(["root": root]) }
            guard case .unavailable(let line) = error else { Issue.record("\(error)"); return }
            #expect(line.hasPrefix("trust server 127.0.0.1:\(server.port): publishing 127.0.0.1:5000/team/other: INVALID_UPDATE: Update sent by the client is invalid. ("),
                    "\(line)")
            #expect(!line.contains("\n"))
            #expect(try server.notaryResult(["list", "127.0.0.1:5000/team/other"], trustDir: server.trustDirectory()).status != 0)
        }
    }

    /// A tag the `notary` CLI signs and publishes verifies in netctl's client (root trusted
    /// on first use, timestamp and snapshot signed by the server), with the digest and
    /// length `notary lookup` gives.
    @Test func verifiesATagTheNotaryCLIPublished() throws {
        try withNotaryServer { server in
            let cli = try server.trustDirectory()
            let manifest = #"{"schemaVersion": 2, "netctl": "notary interop"}"#
            try publishWithCLI(server, trustDir: cli, tag: "1.0", content: manifest)
            let lookup = try server.notary("lookup", Self.gun, "1.0", trustDir: cli).split(separator: " ").map(String.init)

            let collection = try verify(server, trustDir: server.trustDirectory("netctl"))
            let (file, role) = try collection.target("1.0")
            #expect(role == "targets")
            #expect(file.length == Int64(manifest.utf8.count))
            #expect(lookup == ["1.0", "sha256:" + TrustEncoding.hex(file.hashes["sha256"] ?? []), "\(manifest.utf8.count)\n"], "\(lookup)")
            #expect(throws: TrustError.self) { try collection.target("2.0") }
        }
    }

    /// A collection netctl creates as Docker does (root and targets keys its own, timestamp
    /// and snapshot keys the server's), with a tag it signs and publishes, is listed by the
    /// `notary` CLI with its digest, and `notary lookup` agrees; a second tag signed into
    /// the published collection joins it.
    @Test func theNotaryCLIListsATagNetctlPublished() throws {
        try withNotaryServer { server in
            let publisher = NotaryPublisher(try NotarySource(server: server.url, gun: Self.gun, configuration: isolatedConfiguration(), caFile: server.caPath))
            let timestampKey = try publisher.remoteKey(TopRole.timestamp)
            let snapshotKey = try publisher.remoteKey(TopRole.snapshot)
            #expect(timestampKey.kind == .ed25519 && snapshotKey.kind == .ed25519)

            let rootKey = try PrivateKey.generate(.ecdsa)
            let targetsKey = try PrivateKey.generate(.ecdsa)
            var repository = try TrustRepository.create(gun: Self.gun, dialect: .notary, rootKeys: [rootKey], targetsKey: targetsKey,
                                                        snapshotKey: nil, timestampKey: nil,
                                                        serverKeys: [TopRole.timestamp: timestampKey, TopRole.snapshot: snapshotKey], now: now())
            let manifest = Array(#"{"schemaVersion": 2, "signed": "by netctl"}"#.utf8)
            try repository.setTarget("1.0", TargetFile(length: Int64(manifest.count), hashes: ["sha256": TrustDigest.sha256(manifest)]), in: TopRole.targets)
            let files = try repository.sign(with: KeyRing([rootKey, targetsKey], dialect: .notary), now: now())
            #expect(Set(files.keys) == [TopRole.root, TopRole.targets])
            try publisher.publish(files)

            let digest = TrustEncoding.hex(TrustDigest.sha256(manifest))
            let cli = try server.trustDirectory()
            let list = try server.notary("list", Self.gun, trustDir: cli)
            #expect(list.split(separator: "\n").contains { $0.split(separator: " ", omittingEmptySubsequences: true) == ["1.0", Substring(digest), "\(manifest.count)", "targets"] },
                    "\(list)")
            #expect(try server.notary("lookup", Self.gun, "1.0", trustDir: cli) == "1.0 sha256:\(digest) \(manifest.count)\n")

            // Before root names them, each GET makes a new key (the server keeps them all);
            // after, it gives the key root names.
            #expect(try publisher.remoteKey(TopRole.timestamp) == timestampKey)
            #expect(try publisher.remoteKey(TopRole.snapshot) == snapshotKey)
            // The timestamp the server signed is by the key it gave.
            let timestamp = try #require(try NotarySource(server: server.url, gun: Self.gun, configuration: isolatedConfiguration(), caFile: server.caPath)
                .fetch(role: TopRole.timestamp, version: nil, limit: 1 << 16))
            let signatures = try MetadataCodec.decode(timestamp, role: TopRole.timestamp, dialect: .notary).signatures
            #expect(signatures.map(\.keyID) == [timestampKey.keyID(dialect: .notary)])

            // A change to the published collection: a second tag.
            let netctl = try server.trustDirectory("netctl")
            var published = TrustRepository(collection: try verify(server, trustDir: netctl), gun: Self.gun)
            let second = Array(#"{"schemaVersion": 2, "signed": "again"}"#.utf8)
            try published.setTarget("2.0", TargetFile(length: Int64(second.count), hashes: ["sha256": TrustDigest.sha256(second)]), in: TopRole.targets)
            try publisher.publish(try published.sign(with: KeyRing([targetsKey], dialect: .notary), now: now()))
            #expect(try server.notary("lookup", Self.gun, "2.0", trustDir: cli) == "2.0 sha256:\(TrustEncoding.hex(TrustDigest.sha256(second))) \(second.count)\n")
            let again = try verify(server, trustDir: netctl)
            #expect(Set(again.allTargets().map(\.tag)) == ["1.0", "2.0"])
        }
    }

    /// A delegation the `notary` CLI adds (`notary delegation add … --all-paths`) and a tag
    /// signed into it (`notary add -r targets/releases`) are honoured by netctl; once the
    /// delegation's key is removed (`notary delegation remove GUN targets/releases KEYID`),
    /// netctl refuses the tag, as `notary list` no longer shows it.
    @Test func honoursADelegationTheNotaryCLIAdded() throws {
        try withNotaryServer { server in
            let cli = try server.trustDirectory()
            try server.notary("init", Self.gun, trustDir: cli)
            try server.notary("publish", Self.gun, trustDir: cli)
            try openssl(in: server.directory, ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                                               "-keyout", "releases.key", "-out", "releases.crt", "-days", "30", "-subj", "/CN=releases"])
            let added = try server.notary("delegation", "add", Self.gun, "targets/releases", server.directory + "/releases.crt", "--all-paths",
                                          trustDir: cli)
            let keyID = try #require(added.firstMatch(of: /with keys \[([0-9a-f]{64})\]/)?.1, "\(added)")
            try server.notary("key", "import", server.directory + "/releases.key", "--role", "targets/releases", trustDir: cli)
            try publishWithCLI(server, trustDir: cli, tag: "2.0", content: "released\n", role: "targets/releases")

            let netctl = try server.trustDirectory("netctl")
            let collection = try verify(server, trustDir: netctl)
            let (file, role) = try collection.target("2.0", requiredRoles: ["targets/releases"])
            #expect(role == "targets/releases")
            #expect(file.hashes["sha256"] == TrustDigest.sha256(Array("released\n".utf8)))

            try server.notary("delegation", "remove", Self.gun, "targets/releases", String(keyID), trustDir: cli)
            try server.notary("publish", Self.gun, trustDir: cli)
            #expect(!(try server.notary("list", Self.gun, trustDir: cli)).contains("2.0"))
            // Both a client that trusted the delegation before and a new one refuse the tag, in
            // the words the notary CLI logs.
            for directory in [netctl, try server.trustDirectory("fresh")] {
                let error = try #require(throws: TrustError.self) { try verify(server, trustDir: directory).target("2.0") }
                #expect(error == .signature("valid signatures did not meet threshold for targets/releases"), "\(error)")
            }
        }
    }

    /// netctl's client over this server, its state in `trustDir`.
    func verify(_ server: NotaryServer, trustDir: String) throws -> TrustedCollection {
        let source = try NotarySource(server: server.url, gun: Self.gun, configuration: isolatedConfiguration(), caFile: server.caPath)
        return try TrustClient(gun: Self.gun, dialect: .notary, source: source, state: TrustStateStore(directory: trustDir, gun: Self.gun),
                               now: now()).update()
    }
}

func now() -> TrustTime { .now }

/// `notary init GUN`, `notary add GUN TAG FILE` (FILE holding `content`), `notary publish GUN`.
func publishWithCLI(_ server: NotaryServer, trustDir: String, tag: String, content: String,
                    gun: String = NotaryInteropTests.gun, role: String? = nil) throws {
    let file = trustDir + "/" + uniqueName("target-")
    try content.write(toFile: file, atomically: true, encoding: .utf8)
    if !FileManager.default.fileExists(atPath: "\(trustDir)/tuf/\(gun)/metadata/root.json") {
        try server.notary("init", gun, trustDir: trustDir)
    }
    if let role {
        try server.notary("add", gun, tag, file, "-r", role, trustDir: trustDir)
    } else {
        try server.notary("add", gun, tag, file, trustDir: trustDir)
    }
    try server.notary("publish", gun, trustDir: trustDir)
}

/// A TCP listener on 127.0.0.1 that never accepts, its one-place queue filled by a
/// connection of the test's own: the kernel drops further SYNs, so connecting to it times out.
func withSilentListener<T>(_ body: (UInt16) throws -> T) throws -> T {
    let (listener, port) = try boundLoopbackSocket()
    defer { close(listener) }
    guard listen(listener, 0) == 0 else { throw TestFailure("listen: \(String(cString: strerror(errno)))") }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    // Backlog 0 holds one connection; two more make sure the queue is full.
    var fillers: [Int32] = []
    defer { fillers.forEach { close($0) } }
    for _ in 0..<2 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        fillers.append(fd)
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }
    usleep(100_000)
    return try body(port)
}
