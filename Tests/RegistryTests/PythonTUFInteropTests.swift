import Foundation
@testable import Registry
import Runtime
import Security
import Testing
import TestSupport

/// Static TUF repositories shared with python-tuf, the reference implementation, served
/// over HTTP by a plain web server: repositories python-tuf's Metadata API builds are read
/// through `StaticTrustSource` and verified by netctl's client, and repositories netctl
/// writes are verified by python-tuf's `ngclient.Updater`; each side refuses what the
/// other refuses.
@Suite struct PythonTUFInteropTests {
    static let gun = "127.0.0.1:5000/team/app"

    /// A manifest-like document and its length and sha256, as a tag's target holds them.
    static func manifest(_ seed: String) throws -> (bytes: [UInt8], length: Int, sha256: String) {
        let bytes = Array(#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","seed":"\#(seed)"}"#.utf8)
        return (bytes, bytes.count, try Digest.of(bytes).hex)
    }

    /// A python-tuf repository of `gun` under the server's root, with tag 1.0 signed by
    /// `releases`; returns its directory and the keys' directory.
    static func pythonRepository(_ server: StaticHTTPServer, scratch: String) throws -> (repository: String, keys: String) {
        let repository = server.root + "/" + gun
        let keys = scratch + "/keys"
        let one = try manifest("1.0")
        try PythonTUF.buildRepository(repository, keys: keys, tag: "1.0", length: one.length, sha256: one.sha256)
        return (repository, keys)
    }

    // MARK: The source alone

    /// Every file python-tuf wrote comes back byte for byte, over HTTP and from the
    /// directory (`file://` or a path) alike, and decodes as TUF; a version not there is nil.
    @Test func readsWhatPythonTUFWrites() throws {
        try withStaticHTTPServer { server in
            try withTemporaryDirectory { scratch in
                let (repository, keys) = try Self.pythonRepository(server, scratch: scratch)
                try PythonTUF.rotateRoot(repository, keys: keys)
                let sources = [try StaticTrustSource(base: server.baseURL + "/", gun: Self.gun),
                               try StaticTrustSource(base: "file://" + server.root, gun: Self.gun),
                               try StaticTrustSource(base: server.root, gun: Self.gun)]
                #expect(sources[0].location == server.baseURL + "/127.0.0.1%3A5000/team/app/")
                let files: [(RoleName, Int?, String)] = [("root", 1, "1.root.json"), ("root", 2, "2.root.json"), ("root", nil, "root.json"),
                                                         ("timestamp", nil, "timestamp.json"), ("snapshot", 1, "1.snapshot.json"),
                                                         ("targets", 1, "1.targets.json"), ("releases", 1, "1.releases.json")]
                for source in sources {
                    for (role, version, name) in files {
                        let expected = try #require(FileManager.default.contents(atPath: repository + "/" + name))
                        let limit = MetadataCodec.sizeLimits[role] ?? 4 << 20
                        let got = try #require(try source.fetch(role: role, version: version, limit: limit), "\(source.location)\(name)")
                        #expect(got == Array(expected), "\(source.location)\(name)")
                        let decoded = try MetadataCodec.decode(got, role: role, dialect: .tuf)
                        #expect(decoded.signed.version == version ?? 2)
                    }
                    #expect(try source.fetch(role: "root", version: 3, limit: 1 << 19) == nil)
                    #expect(try source.fetch(role: "secops", version: 1, limit: 1 << 22) == nil)
                }
                #expect(server.requests.contains { $0.hasPrefix("GET /127.0.0.1%3A5000/team/app/2.root.json ") && $0.contains("\" 200") }, "\(server.requests)")
            }
        }
    }

    /// Over HTTPS the server's certificate must be trusted: with its CA given, the files
    /// come as over HTTP; without, one line saying the certificate is not trusted.
    @Test func readsOverHTTPSFromAServerItTrusts() throws {
        try withStaticHTTPServer(tls: true) { server in
            try withTemporaryDirectory { scratch in
                let (repository, _) = try Self.pythonRepository(server, scratch: scratch)
                let ca = try Self.bytes(try #require(server.caCertificate))
                let trusting = try StaticTrustSource(base: server.baseURL, gun: Self.gun, caBundle: ca)
                #expect(try trusting.fetch(role: "root", version: 1, limit: 1 << 19) == (try Self.bytes(repository + "/1.root.json")))
                let collection = try TrustClient(gun: Self.gun, dialect: .tuf, source: trusting,
                                                 state: TrustStateStore(directory: scratch + "/trust", gun: Self.gun),
                                                 now: Self.now(), trustedRoot: try Self.bytes(repository + "/1.root.json")).update()
                try Self.expect(collection, tag: "1.0", is: try Self.manifest("1.0"))

                let byFile = try StaticTrustSource(base: server.baseURL, gun: Self.gun, caFile: try #require(server.caCertificate))
                #expect(try byFile.fetch(role: "timestamp", version: nil, limit: 16 << 10) == (try Self.bytes(repository + "/timestamp.json")))
                #expect(throws: TrustError.self) { try StaticTrustSource(base: server.baseURL, gun: Self.gun, caFile: scratch + "/none.crt") }

                let untrusting = try StaticTrustSource(base: server.baseURL, gun: Self.gun)
                let error = try #require(throws: TrustError.self) { try untrusting.fetch(role: "root", version: 1, limit: 1 << 19) }
                guard case .unavailable(let line) = error else { Issue.record("\(error)"); return }
                #expect(line.contains("not trusted") && !line.contains("\n"), "\(line)")
            }
        }
    }

    /// Endless data: a file larger than the role's limit is read to limit + 1 bytes and no
    /// further (the client then refuses it), over HTTP and from a directory.
    @Test func stopsReadingPastTheLimit() throws {
        try withStaticHTTPServer { server in
            let directory = server.root + "/" + Self.gun
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let huge = [UInt8](repeating: 0x20, count: 8 << 20)
            try Data(huge).write(to: URL(fileURLWithPath: directory + "/timestamp.json"))
            for source in [try StaticTrustSource(base: server.baseURL, gun: Self.gun), try StaticTrustSource(base: server.root, gun: Self.gun)] {
                let got = try #require(try source.fetch(role: "timestamp", version: nil, limit: 16 << 10))
                #expect(got.count == (16 << 10) + 1)
            }
        }
    }

    /// Delegated role names come from the repository: none reads outside it.
    @Test func refusesRoleNamesThatLeaveTheRepository() throws {
        try withTemporaryDirectory { directory in
            let source = try StaticTrustSource(base: directory, gun: Self.gun)
            for role in ["../../etc/passwd", "/etc/passwd", "a//b", "releases/..", ""] {
                let error = try #require(throws: TrustError.self) { try source.fetch(role: role, version: 1, limit: 1 << 20) }
                guard case .malformed(let line) = error else { Issue.record("\(role): \(error)"); continue }
                #expect(line.contains("role name"), "\(line)")
            }
            // The Notary dialect's slashed names are subdirectories.
            #expect(StaticTrustSource.fileName(role: "targets/releases", version: 4) == "targets/4.releases.json")
            #expect(StaticTrustSource.fileName(role: "targets/releases", version: nil) == "targets/releases.json")
            #expect(throws: TrustError.self) { try StaticTrustSource(base: directory, gun: "../x") }
            #expect(throws: TrustError.self) { try StaticTrustSource(base: "relative/dir", gun: Self.gun) }
        }
    }

    /// A repository nobody serves: one line saying so, of kind `unavailable`.
    @Test func saysInOneLineThatNothingListens() throws {
        let port = try freeLoopbackPort()
        let source = try StaticTrustSource(base: "http://127.0.0.1:\(port)/tuf", gun: Self.gun)
        let error = try #require(throws: TrustError.self) { try source.fetch(role: "root", version: 1, limit: 1 << 19) }
        guard case .unavailable(let line) = error else { Issue.record("\(error)"); return }
        #expect(line.hasPrefix("trust repository http://127.0.0.1:\(port)/tuf/127.0.0.1%3A5000/team/app/1.root.json: cannot connect"), "\(line)")
        #expect(!line.contains("\n"))
    }

    // MARK: python-tuf builds, netctl verifies

    /// The delegated tag verifies through netctl's client over HTTP from the first root
    /// python-tuf made; after python-tuf rotates the root key and the timestamp key and signs
    /// a second tag, the client follows the root chain from what it stored, and a client
    /// pinned to the first root does too.
    @Test func netctlVerifiesWhatPythonTUFBuildsAcrossARootRotation() throws {
        try withStaticHTTPServer { server in
            try withTemporaryDirectory { scratch in
                let (repository, keys) = try Self.pythonRepository(server, scratch: scratch)
                let firstRoot = try Self.bytes(repository + "/1.root.json")
                let source = try StaticTrustSource(base: server.baseURL, gun: Self.gun)
                let state = TrustStateStore(directory: scratch + "/trust", gun: Self.gun)

                let first = try TrustClient(gun: Self.gun, dialect: .tuf, source: source, state: state, now: Self.now(), trustedRoot: firstRoot).update()
                try Self.expect(first, tag: "1.0", is: try Self.manifest("1.0"))
                #expect(first.root.signed.version == 1)

                try PythonTUF.rotateRoot(repository, keys: keys)
                let two = try Self.manifest("2.0")
                try PythonTUF.signTarget(repository, keys: keys, tag: "2.0", length: two.length, sha256: two.sha256)

                let second = try TrustClient(gun: Self.gun, dialect: .tuf, source: source, state: state, now: Self.now()).update()
                #expect(second.root.signed.version == 2)
                try Self.expect(second, tag: "2.0", is: two)
                try Self.expect(second, tag: "1.0", is: try Self.manifest("1.0"))

                let pinned = try TrustClient(gun: Self.gun, dialect: .tuf, source: source,
                                             state: TrustStateStore(directory: scratch + "/fresh", gun: Self.gun),
                                             now: Self.now(), trustedRoot: firstRoot).update()
                #expect(pinned.root.signed.version == 2)
                try Self.expect(pinned, tag: "2.0", is: two)
                // python-tuf agrees on the same repository.
                #expect(try PythonTUF.lookup(url: source.location, root: repository + "/1.root.json", tag: "2.0")
                        == .found(.init(path: "2.0", length: two.length, sha256: two.sha256)))
            }
        }
    }

    /// A delegation's file changed after signing (the tag pointed at another manifest), or
    /// a timestamp changed after signing: python-tuf refuses it and so does netctl.
    @Test func bothRefuseATamperedFileOfPythonTUF() throws {
        for (file, role) in [("1.releases.json", "releases"), ("timestamp.json", "timestamp")] {
            try withStaticHTTPServer { server in
                try withTemporaryDirectory { scratch in
                    let (repository, _) = try Self.pythonRepository(server, scratch: scratch)
                    let one = try Self.manifest("1.0")
                    let evil = try Self.manifest("evil")
                    let text = try String(contentsOfFile: repository + "/" + file, encoding: .utf8)
                    let tampered = file == "timestamp.json"
                        ? text.replacingOccurrences(of: "\"expires\": \"20", with: "\"expires\": \"21")   // a century more
                        : text.replacingOccurrences(of: one.sha256, with: evil.sha256)
                    #expect(tampered != text)
                    try tampered.write(toFile: repository + "/" + file, atomically: true, encoding: .utf8)

                    let source = try StaticTrustSource(base: server.baseURL, gun: Self.gun)
                    let lookup = try PythonTUF.lookup(url: source.location, root: repository + "/1.root.json", tag: "1.0")
                    guard case .refused(let why) = lookup else { Issue.record("python-tuf took a tampered \(file): \(lookup)"); return }
                    #expect(why.contains(role), "\(why)")

                    let client = TrustClient(gun: Self.gun, dialect: .tuf, source: source,
                                             state: TrustStateStore(directory: scratch + "/trust", gun: Self.gun),
                                             now: Self.now(), trustedRoot: try Self.bytes(repository + "/1.root.json"))
                    let error = try #require(throws: TrustError.self) { _ = try client.update().target("1.0") }
                    guard case .signature(let line) = error else { Issue.record("\(file): \(error)"); return }
                    #expect(line.contains(role), "\(line)")
                }
            }
        }
    }

    // MARK: netctl builds, python-tuf verifies

    /// A collection netctl's TrustRepository makes in the TUF dialect (a `releases`
    /// delegation holding the tag, consistent snapshots) and writes as a static repository:
    /// python-tuf's Updater verifies the tag with the same length and sha256, also after
    /// netctl rotates the root key and signs another tag; a tampered file it refuses.
    @Test func pythonTUFVerifiesWhatNetctlBuilds() throws {
        try withStaticHTTPServer { server in
            let directory = server.root + "/" + Self.gun
            let rootKey = try PrivateKey.generate(.ed25519)
            let targetsKey = try PrivateKey.generate(.ecdsa)
            let snapshotKey = try PrivateKey.generate(.ed25519)
            let timestampKey = try PrivateKey.generate(.ecdsa)
            let releasesKey = try PrivateKey.generate(.ed25519)
            let one = try Self.manifest("1.0")

            var repository = try TrustRepository.create(gun: Self.gun, dialect: .tuf, rootKeys: [rootKey], targetsKey: targetsKey,
                                                        snapshotKey: snapshotKey, timestampKey: timestampKey, now: Self.now())
            try repository.addDelegation("releases", keys: [releasesKey.publicKey], threshold: 1, paths: ["*"])
            try repository.setTarget("1.0", Self.target(one), in: "releases")
            var ring = KeyRing([rootKey, targetsKey, snapshotKey, timestampKey, releasesKey], dialect: .tuf)
            _ = try repository.sign(with: ring, now: Self.now())
            try repository.writeStatic(to: directory)
            let source = try StaticTrustSource(base: server.baseURL, gun: Self.gun)
            let firstRoot = directory + "/1.root.json"
            try FileManager.default.copyItem(atPath: firstRoot, toPath: server.directory + "/trusted-root.json")
            let trusted = server.directory + "/trusted-root.json"

            #expect(try PythonTUF.lookup(url: source.location, root: trusted, tag: "1.0")
                    == .found(.init(path: "1.0", length: one.length, sha256: one.sha256)))
            #expect(try PythonTUF.lookup(url: source.location, root: trusted, tag: "9.9") == .notFound)

            // A new root key (the old one signs the new root too), and a second tag.
            let newRootKey = try PrivateKey.generate(.ecdsa)
            try repository.rotateRootKeys(to: [newRootKey.publicKey], threshold: 1)
            let two = try Self.manifest("2.0")
            try repository.setTarget("2.0", Self.target(two), in: "releases")
            ring = ring.merging(KeyRing([newRootKey], dialect: .tuf))
            _ = try repository.sign(with: ring, now: Self.now())
            try repository.writeStatic(to: directory)
            #expect(FileManager.default.fileExists(atPath: directory + "/2.root.json"))

            #expect(try PythonTUF.lookup(url: source.location, root: trusted, tag: "2.0")
                    == .found(.init(path: "2.0", length: two.length, sha256: two.sha256)))
            #expect(try PythonTUF.lookup(url: source.location, root: trusted, tag: "1.0")
                    == .found(.init(path: "1.0", length: one.length, sha256: one.sha256)))
            // netctl's own client reads the same files the same way.
            try withTemporaryDirectory { scratch in
                let collection = try TrustClient(gun: Self.gun, dialect: .tuf, source: source,
                                                 state: TrustStateStore(directory: scratch, gun: Self.gun),
                                                 now: Self.now(), trustedRoot: try Self.bytes(trusted)).update()
                try Self.expect(collection, tag: "2.0", is: two)
            }

            // The newest releases file changed after signing: refused.
            let releases = try #require(try FileManager.default.contentsOfDirectory(atPath: directory)
                .filter { $0.hasSuffix(".releases.json") }.max { Int($0.prefix { $0 != "." })! < Int($1.prefix { $0 != "." })! })
            let text = try String(contentsOfFile: directory + "/" + releases, encoding: .utf8)
            let evil = try Self.manifest("evil")
            try text.replacingOccurrences(of: one.sha256, with: evil.sha256).write(toFile: directory + "/" + releases, atomically: true, encoding: .utf8)
            let lookup = try PythonTUF.lookup(url: source.location, root: trusted, tag: "1.0")
            guard case .refused(let why) = lookup else { Issue.record("python-tuf took a tampered \(releases): \(lookup)"); return }
            #expect(why.contains("releases"), "\(why)")
        }
    }

    // MARK: Helpers

    static func now() -> TrustTime { TrustTime(seconds: Int64(Date().timeIntervalSince1970)) }

    static func bytes(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else { throw TestFailure("cannot read \(path)") }
        return Array(data)
    }

    static func target(_ manifest: (bytes: [UInt8], length: Int, sha256: String)) -> TargetFile {
        TargetFile(length: Int64(manifest.length), hashes: ["sha256": unhex(manifest.sha256)])
    }

    static func unhex(_ text: String) -> [UInt8] {
        let digits = Array(text.utf8).map { $0 <= 0x39 ? $0 - 0x30 : ($0 | 0x20) - 0x61 + 10 }
        return stride(from: 0, to: digits.count, by: 2).map { digits[$0] << 4 | digits[$0 + 1] }
    }

    /// `tag` resolves in `collection`, through `releases`, to `manifest`'s length and sha256.
    static func expect(_ collection: TrustedCollection, tag: String, is manifest: (bytes: [UInt8], length: Int, sha256: String),
                       sourceLocation: SourceLocation = #_sourceLocation) throws {
        let (file, role) = try collection.target(tag)
        #expect(role == "releases", sourceLocation: sourceLocation)
        #expect(file.length == Int64(manifest.length), sourceLocation: sourceLocation)
        #expect(TrustEncoding.hex(file.hashes["sha256"] ?? []) == manifest.sha256, sourceLocation: sourceLocation)
    }
}
