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
}
