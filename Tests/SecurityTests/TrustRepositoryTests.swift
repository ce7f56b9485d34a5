import Foundation
import Security
import TestSupport
import Testing

/// Collections made and changed by `TrustRepository`, verified by netctl's own client
/// (`TrustClient`) the way a host would: from the files `sign` returns (a source in memory)
/// or from the static repository `writeStatic` leaves on disk.
@Suite struct TrustRepositoryTests {
    static let gun = "127.0.0.1:5000/team/app"
    /// Signing and checking happen at this one time (the present: Notary's root
    /// certificates are valid from when they are made).
    static let now = TrustTime(seconds: Int64(Date().timeIntervalSince1970))

    static func manifest(_ seed: UInt8, length: Int64 = 527) -> TargetFile {
        TargetFile(length: length, hashes: ["sha256": [UInt8](repeating: seed, count: 32)])
    }

    // MARK: - Create, sign, verify

    @Test(arguments: [TrustDialect.tuf, .notary])
    func createdCollectionVerifies(_ dialect: TrustDialect) throws {
        let keys = try Keys(dialect)
        var repository = try keys.create(dialect)
        try repository.setTarget("1.0", Self.manifest(1), in: TopRole.targets)
        let files = try repository.sign(with: KeyRing([:]), now: Self.now)
        #expect(Set(files.keys) == Set(TopRole.all))

        let source = MemorySource(dialect)
        source.publish(files, repository)
        let collection = try Scratch.with { try source.client(directory: $0, gun: Self.gun, now: Self.now).update() }
        let found = try collection.target("1.0")
        #expect(found.file == Self.manifest(1))
        #expect(found.role == TopRole.targets)
        for role in TopRole.all { #expect(repository.fileVersions[role] == 1) }

        guard case .root(let root) = collection.root.signed else { Issue.record("root is not a root"); return }
        #expect(root.consistentSnapshot == (dialect == .tuf))
        #expect(root.expires == TrustTime(seconds: Self.now.seconds + TrustRepository.lifetime(of: TopRole.root)))
        #expect(collection.timestamp.signed.expires == TrustTime(seconds: Self.now.seconds + 14 * 86_400))
        if dialect == .notary {
            // The notary CLI's root key: a certificate over the root key, CN = the GUN.
            #expect(root.roles[TopRole.root]?.keyIDs.allSatisfy { root.keys[$0]?.kind == .ecdsaX509 } == true)
        }
    }

    /// Docker's set-up: the Notary server holds the snapshot and timestamp keys, so the
    /// publisher signs root and targets and leaves the rest to the server.
    @Test func notaryLeavesServerHeldRolesToTheServer() throws {
        let keys = try Keys(.notary)
        let server = try PrivateKey.generate(.ecdsa)
        var repository = try TrustRepository.create(
            gun: Self.gun, dialect: .notary, rootKeys: [keys.root], targetsKey: keys.targets, snapshotKey: nil, timestampKey: nil,
            serverKeys: [TopRole.snapshot: server.publicKey, TopRole.timestamp: server.publicKey], now: Self.now)
        try repository.setTarget("latest", Self.manifest(2), in: TopRole.targets)
        let files = try repository.sign(with: KeyRing([:]), now: Self.now)
        #expect(Set(files.keys) == [TopRole.root, TopRole.targets])
        let root = try MetadataCodec.decode(files[TopRole.root]!, role: TopRole.root, dialect: .notary)
        guard case .root(let part) = root.signed else { Issue.record("root is not a root"); return }
        let serverID = server.publicKey.keyIDIn(.notary)
        #expect(part.roles[TopRole.timestamp]?.keyIDs == [serverID])
        #expect(part.roles[TopRole.snapshot]?.keyIDs == [serverID])
    }

    // MARK: - Changing a published collection

    /// One tag more, from the collection as a client trusted it: targets, snapshot and
    /// timestamp move to version 2 and root stays; the client (with its memory of version 1)
    /// takes the new versions.
    @Test(arguments: [TrustDialect.tuf, .notary])
    func changeFromTrustedCollection(_ dialect: TrustDialect) throws {
        let keys = try Keys(dialect)
        var first = try keys.create(dialect)
        try first.setTarget("1.0", Self.manifest(1), in: TopRole.targets)
        let source = MemorySource(dialect)
        source.publish(try first.sign(with: KeyRing([:]), now: Self.now), first)

        try Scratch.with { state in
            let trusted = try source.client(directory: state, gun: Self.gun, now: Self.now).update()
            var repository = TrustRepository(collection: trusted, gun: Self.gun)
            try repository.setTarget("2.0", Self.manifest(2), in: TopRole.targets)
            try repository.setTarget("2.0", Self.manifest(3), in: TopRole.targets)
            let later = TrustTime(seconds: Self.now.seconds + 3_600)
            let files = try repository.sign(with: keys.ring(dialect), now: later)
            #expect(Set(files.keys) == [TopRole.targets, TopRole.snapshot, TopRole.timestamp])
            #expect(repository.fileVersions[TopRole.targets] == 2)
            #expect(repository.fileVersions[TopRole.snapshot] == 2)
            #expect(repository.fileVersions[TopRole.timestamp] == 2)
            #expect(repository.fileVersions[TopRole.root] == 1)
            source.publish(files, repository)

            let updated = try source.client(directory: state, gun: Self.gun, now: later).update()
            #expect(try updated.target("1.0").file == Self.manifest(1))
            #expect(try updated.target("2.0").file == Self.manifest(3))
            #expect(updated.targets[TopRole.targets]?.signed.version == 2)

            // And a tag removed is gone for the client.
            try repository.removeTarget("1.0", from: TopRole.targets)
            source.publish(try repository.sign(with: keys.ring(dialect), now: later), repository)
            let removed = try source.client(directory: state, gun: Self.gun, now: later).update()
            #expect(throws: TrustError.noTrustData("No valid trust data for 1.0")) { try removed.target("1.0") }
            #expect(try removed.target("2.0").file == Self.manifest(3))
        }
    }

    /// A new collection with tag 1.0 in targets, signed and published to a memory source.
    static func published(_ dialect: TrustDialect) throws -> (Keys, TrustRepository, MemorySource) {
        let keys = try Keys(dialect)
        var repository = try keys.create(dialect)
        try repository.setTarget("1.0", Self.manifest(1), in: TopRole.targets)
        let source = MemorySource(dialect)
        source.publish(try repository.sign(with: KeyRing([:]), now: Self.now), repository)
        return (keys, repository, source)
    }

    // MARK: - Root rotation

    /// Two rotations: a client that trusts only root version 1 walks 1 → 2 → 3, each new
    /// root signed by the keys of the one before it and its own.
    @Test(arguments: [TrustDialect.tuf, .notary])
    func rootRotationChain(_ dialect: TrustDialect) throws {
        var (keys, repository, source) = try Self.published(dialect)
        let firstRoot = repository.files[TopRole.root]!

        var ring = keys.ring(dialect)
        var previous = keys.root
        for _ in 0..<2 {
            let next = try PrivateKey.generate(.ecdsa)
            let listed = dialect == .notary
                ? try next.selfSignedCertificate(commonName: Self.gun, notAfter: TrustTime(seconds: Self.now.seconds + 86_400 * 3_650))
                : next.publicKey
            try repository.rotateRootKeys(to: [listed], threshold: 1)

            // The new key alone is not enough: the old root must sign too.
            #expect(throws: TrustError.self) { try repository.sign(with: KeyRing([next], dialect: dialect).merging(Keys.without(ring, previous, dialect)), now: Self.now) }
            ring = ring.merging(KeyRing([next], dialect: dialect))
            let files = try repository.sign(with: ring, now: Self.now)
            #expect(files[TopRole.root] != nil)
            let root = try MetadataCodec.decode(files[TopRole.root]!, role: TopRole.root, dialect: dialect)
            #expect(root.signatures.count == 2)
            source.publish(files, repository)
            previous = next
        }
        #expect(repository.root.version == 3)
        #expect(Set(repository.rootHistory.keys) == [1, 2, 3])

        let collection = try Scratch.with {
            try source.client(directory: $0, gun: Self.gun, now: Self.now, trustedRoot: firstRoot).update()
        }
        #expect(collection.root.signed.version == 3)
        #expect(try collection.target("1.0").file == Self.manifest(1))
    }

    /// A new targets key: root lists it, targets is re-signed with it, the client follows.
    @Test(arguments: [TrustDialect.tuf, .notary])
    func rotateTargetsKey(_ dialect: TrustDialect) throws {
        var (keys, repository, source) = try Self.published(dialect)
        try Scratch.with { state in
            _ = try source.client(directory: state, gun: Self.gun, now: Self.now).update()
            let fresh = try PrivateKey.generate(.ed25519)
            try repository.rotateKey(TopRole.targets, to: fresh.publicKey)
            let files = try repository.sign(with: KeyRing([keys.root, keys.snapshot, keys.timestamp, fresh], dialect: dialect), now: Self.now)
            #expect(Set(files.keys) == Set(TopRole.all))
            source.publish(files, repository)
            let collection = try source.client(directory: state, gun: Self.gun, now: Self.now).update()
            #expect(collection.targets[TopRole.targets]?.signatures.map(\.keyID) == [fresh.publicKey.keyIDIn(dialect)])
            #expect(try collection.target("1.0").file == Self.manifest(1))
        }
    }

    // MARK: - Delegations

    /// A signer added as a delegation signs a tag the client finds through it; revoking
    /// the signer's key (re-signing the delegator) makes the client refuse what it signed.
    @Test(arguments: [TrustDialect.tuf, .notary])
    func delegationAddAndRevoke(_ dialect: TrustDialect) throws {
        let keys = try Keys(dialect)
        let signer = try PrivateKey.generate(.ecdsa)
        let releases = dialect == .notary ? "targets/releases" : "releases"
        var repository = try keys.create(dialect)
        try repository.addDelegation(releases, keys: [signer.publicKey], threshold: 1, paths: [dialect == .notary ? "" : "*"])
        try repository.setTarget("1.0", Self.manifest(1), in: releases)
        let ring = keys.ring(dialect).merging(KeyRing([signer], dialect: dialect))
        let source = MemorySource(dialect)
        source.publish(try repository.sign(with: ring, now: Self.now), repository)

        try Scratch.with { state in
            let collection = try source.client(directory: state, gun: Self.gun, now: Self.now).update()
            let found = try collection.target("1.0")
            #expect(found.role == releases)
            #expect(found.file == Self.manifest(1))

            // Revoke: the delegator drops the signer's key; the delegation's file is not touched.
            try repository.removeDelegationKeys(releases, keyIDs: [signer.publicKey.keyIDIn(dialect)])
            let files = try repository.sign(with: keys.ring(dialect), now: Self.now)
            #expect(Set(files.keys) == [TopRole.targets, TopRole.snapshot, TopRole.timestamp])
            source.publish(files, repository)
            let revoked = try source.client(directory: state, gun: Self.gun, now: Self.now).update()
            #expect(throws: TrustError.signature("valid signatures did not meet threshold for \(releases)")) { try revoked.target("1.0") }

            // Removed: no delegator reaches it (snapshot still lists its last file, as a TUF
            // client requires of a new snapshot).
            try repository.removeDelegation(releases)
            let removedFiles = try repository.sign(with: keys.ring(dialect), now: Self.now)
            source.publish(removedFiles, repository)
            let snapshot = try MetadataCodec.decode(removedFiles[TopRole.snapshot]!, role: TopRole.snapshot, dialect: dialect)
            guard case .snapshot(let meta) = snapshot.signed else { Issue.record("snapshot is not a snapshot"); return }
            #expect(meta.meta[releases] != nil)
            let gone = try source.client(directory: state, gun: Self.gun, now: Self.now).update()
            #expect(gone.targets[releases] == nil)
            #expect(throws: TrustError.noTrustData("No valid trust data for 1.0")) { try gone.target("1.0") }

            // Delegated again to a new signer: its file goes on from the last version.
            let successor = try PrivateKey.generate(.ed25519)
            try repository.addDelegation(releases, keys: [successor.publicKey], threshold: 1, paths: [dialect == .notary ? "" : "*"])
            try repository.setTarget("1.1", Self.manifest(4), in: releases)
            source.publish(try repository.sign(with: keys.ring(dialect).merging(KeyRing([successor], dialect: dialect)), now: Self.now), repository)
            #expect(repository.fileVersions[releases] == 2)
            let again = try source.client(directory: state, gun: Self.gun, now: Self.now).update()
            #expect(try again.target("1.1").role == releases)
            #expect(throws: TrustError.noTrustData("No valid trust data for 1.0")) { try again.target("1.0") }
        }
    }

    /// A delegation may sign only its paths, and a role whose key the ring lacks is refused
    /// with the role and key named, leaving the repository as it was.
    @Test(arguments: [TrustDialect.tuf, .notary])
    func roleWithoutItsKeyIsRefused(_ dialect: TrustDialect) throws {
        let keys = try Keys(dialect)
        let signer = try PrivateKey.generate(.ed25519)
        let releases = dialect == .notary ? "targets/releases" : "releases"
        var repository = try keys.create(dialect)
        _ = try repository.sign(with: KeyRing([:]), now: Self.now)
        try repository.addDelegation(releases, keys: [signer.publicKey], threshold: 1, paths: [dialect == .notary ? "v" : "v*"])
        #expect(throws: TrustError.self) { try repository.setTarget("latest", Self.manifest(1), in: releases) }
        try repository.setTarget("v1", Self.manifest(1), in: releases)

        let before = repository.fileVersions
        let id = signer.publicKey.keyIDIn(dialect)
        #expect(throws: TrustError.key("\(Self.gun): no private key for \(releases) (key \(id))")) {
            try repository.sign(with: keys.ring(dialect), now: Self.now)
        }
        #expect(repository.fileVersions == before)
        #expect(throws: TrustError.self) { try repository.sign(with: KeyRing([signer], dialect: dialect), now: Self.now) }

        let files = try repository.sign(with: keys.ring(dialect).merging(KeyRing([signer], dialect: dialect)), now: Self.now)
        #expect(files[releases] != nil)
        #expect(files[TopRole.targets] != nil)
    }

    // MARK: - Static repository

    /// `writeStatic` lays out what a static source serves, every root version kept, and the
    /// client verifies it from the directory.
    @Test(arguments: [TrustDialect.tuf, .notary])
    func writeStaticLayout(_ dialect: TrustDialect) throws {
        let keys = try Keys(dialect)
        let signer = try PrivateKey.generate(.ecdsa)
        let releases = dialect == .notary ? "targets/releases" : "releases"
        var repository = try keys.create(dialect)
        try repository.addDelegation(releases, keys: [signer.publicKey], threshold: 1, paths: [dialect == .notary ? "" : "*"])
        try repository.setTarget("1.0", Self.manifest(1), in: releases)
        let ring = keys.ring(dialect).merging(KeyRing([signer], dialect: dialect))
        _ = try repository.sign(with: ring, now: Self.now)
        let next = try PrivateKey.generate(.ecdsa)
        try repository.rotateRootKeys(to: [dialect == .notary ? try next.selfSignedCertificate(commonName: Self.gun, notAfter: TrustTime(seconds: Self.now.seconds + 86_400 * 3_650)) : next.publicKey], threshold: 1)
        try repository.setTarget("2.0", Self.manifest(2), in: TopRole.targets)
        _ = try repository.sign(with: ring.merging(KeyRing([next], dialect: dialect)), now: Self.now)

        try Scratch.with { directory in
            let base = directory + "/repository"
            try repository.writeStatic(to: base)
            let names = Set(try FileManager.default.subpathsOfDirectory(atPath: base))
            switch dialect {
            case .tuf:
                #expect(names == ["1.root.json", "2.root.json", "root.json", "timestamp.json", "2.snapshot.json",
                                  "2.targets.json", "1.releases.json", "targets"])
            case .notary:
                #expect(names == ["1.root.json", "2.root.json", "root.json", "timestamp.json", "snapshot.json",
                                  "targets.json", "targets", "targets/releases.json"])
            }
            var isDirectory: ObjCBool = false
            #expect(FileManager.default.fileExists(atPath: base + "/targets", isDirectory: &isDirectory) && isDirectory.boolValue)

            let firstRoot = try [UInt8](Data(contentsOf: URL(fileURLWithPath: base + "/1.root.json")))
            let client = TrustClient(gun: Self.gun, dialect: dialect, source: DirectorySource(base: base, dialect: dialect),
                                     state: TrustStateStore(directory: directory + "/state", gun: Self.gun), now: Self.now,
                                     trustedRoot: firstRoot)
            let collection = try client.update()
            #expect(collection.root.signed.version == 2)
            #expect(try collection.target("1.0").role == releases)
            #expect(try collection.target("2.0").file == Self.manifest(2))
        }
    }

    /// python-tuf's `ngclient.Updater`, trusting root version 1, reads the static
    /// repository over HTTP: walks the rotated root, and finds a tag of the top-level role
    /// and one signed by a delegation, with their lengths and hashes.
    @Test func pythonTUFReadsStaticRepository() throws {
        let keys = try Keys(.tuf)
        let signer = try PrivateKey.generate(.ecdsa)
        var repository = try keys.create(.tuf)
        try repository.addDelegation("releases", keys: [signer.publicKey], threshold: 1, paths: ["*"])
        try repository.setTarget("1.0", Self.manifest(1), in: "releases")
        let ring = keys.ring(.tuf).merging(KeyRing([signer], dialect: .tuf))
        _ = try repository.sign(with: ring, now: Self.now)
        let next = try PrivateKey.generate(.ed25519)
        try repository.rotateRootKeys(to: [next.publicKey], threshold: 1)
        try repository.setTarget("2.0", Self.manifest(2, length: 1_234), in: TopRole.targets)
        _ = try repository.sign(with: ring.merging(KeyRing([next], dialect: .tuf)), now: Self.now)
        try repository.setTarget("1.0", Self.manifest(3), in: "releases")
        _ = try repository.sign(with: ring.merging(KeyRing([next], dialect: .tuf)), now: Self.now)

        try Scratch.with { directory in
            try repository.writeStatic(to: directory + "/repository")
            let output = try PythonTUF.run(script: Self.updaterScript, args: [directory + "/repository", directory + "/client", "1.0", "2.0"])
            #expect(output.split(separator: "\n").map(String.init) == [
                "root 2",
                "1.0 527 " + String(repeating: "03", count: 32),
                "2.0 1234 " + String(repeating: "02", count: 32),
            ])
        }
    }

    /// The notary CLI verifies a Notary collection netctl made (a rotated root signed by
    /// both root keys, a tag in targets and one in `targets/releases`) from its cache in a
    /// trust dir, the server being unreachable (a refused loopback port): `notary list`.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/notary")))
    func notaryListsOurCollection() throws {
        let keys = try Keys(.notary)
        let signer = try PrivateKey.generate(.ecdsa)
        var repository = try keys.create(.notary)
        try repository.addDelegation("targets/releases", keys: [signer.publicKey], threshold: 1, paths: [""])
        try repository.setTarget("1.0", Self.manifest(1), in: TopRole.targets)
        let ring = keys.ring(.notary).merging(KeyRing([signer], dialect: .notary))
        _ = try repository.sign(with: ring, now: Self.now)
        let next = try PrivateKey.generate(.ecdsa)
        let certificate = try next.selfSignedCertificate(commonName: Self.gun, notAfter: TrustTime(seconds: Self.now.seconds + 86_400 * 3_650))
        try repository.rotateRootKeys(to: [certificate], threshold: 1)
        try repository.setTarget("2.0", Self.manifest(2, length: 1_234), in: "targets/releases")
        _ = try repository.sign(with: ring.merging(KeyRing([next], dialect: .notary)), now: Self.now)
        #expect(repository.root.version == 2)

        try Scratch.with { trust in
            let metadata = "\(trust)/tuf/\(Self.gun)/metadata"
            for (role, file) in repository.files {
                try FileManager.default.createDirectory(atPath: (metadata + "/" + role as NSString).deletingLastPathComponent,
                                                        withIntermediateDirectories: true)
                try Data(file).write(to: URL(fileURLWithPath: "\(metadata)/\(role).json"))
            }
            let list = try runCommand(["notary", "-d", trust, "-s", "https://127.0.0.1:1", "list", Self.gun])
            #expect(list.status == 0, "\(list.stderr)")
            let rows = list.stdout.split(separator: "\n").dropFirst(2).map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
            #expect(rows == [
                "1.0 " + String(repeating: "01", count: 32) + " 527 targets",
                "2.0 " + String(repeating: "02", count: 32) + " 1234 targets/releases",
            ])
        }
    }

    /// A collection python-tuf's Metadata API made (with a target's `custom` and a member
    /// netctl does not know), changed by netctl from what its client trusted: the new
    /// targets keeps both, and python-tuf's Updater reads the result.
    @Test func changesACollectionPythonTUFMade() throws {
        try Scratch.with { directory in
            let base = directory + "/repository"
            let printed = try PythonTUF.run(script: Self.metadataAPIScript, args: [base])
            var keys: [String: PrivateKey] = [:]
            for line in printed.split(separator: "\n") {
                let fields = line.split(separator: " ")
                keys[String(fields[0])] = try PrivateKey(pkcs8: Self.bytes(hex: fields[1]))
            }
            let firstRoot = try [UInt8](Data(contentsOf: URL(fileURLWithPath: base + "/1.root.json")))
            let client = TrustClient(gun: Self.gun, dialect: .tuf, source: DirectorySource(base: base, dialect: .tuf),
                                     state: TrustStateStore(directory: directory + "/state", gun: Self.gun), now: Self.now,
                                     trustedRoot: firstRoot)
            var repository = TrustRepository(collection: try client.update(), gun: Self.gun)
            try repository.setTarget("2.0", Self.manifest(2), in: TopRole.targets)
            let files = try repository.sign(with: KeyRing([keys["targets"]!, keys["snapshot"]!, keys["timestamp"]!], dialect: .tuf), now: Self.now)
            #expect(Set(files.keys) == [TopRole.targets, TopRole.snapshot, TopRole.timestamp])
            let targets = try #require(TrustJSON.parse(files[TopRole.targets]!, limit: 1 << 20)["signed"])
            #expect(targets["x-netctl-test"] == .string("kept"))
            #expect(targets["targets"]?["1.0"]?["custom"] == .object(["by": .string("python-tuf")]))
            try repository.writeStatic(to: base)

            let output = try PythonTUF.run(script: Self.updaterScript, args: [base, directory + "/python", "1.0", "2.0"])
            #expect(output.split(separator: "\n").map(String.init) == [
                "root 1",
                "1.0 527 " + String(repeating: "01", count: 32),
                "2.0 527 " + String(repeating: "02", count: 32),
            ])
            #expect(try client.update().targets[TopRole.targets]?.signed.version == 2)
        }
    }

    static func bytes<S: StringProtocol>(hex: S) -> [UInt8] {
        let digits = Array(hex.utf8)
        return stride(from: 0, to: digits.count - 1, by: 2).map { UInt8(String(decoding: digits[$0...$0 + 1], as: UTF8.self), radix: 16)! }
    }

    /// Builds a consistent-snapshot repository with python-tuf's Metadata API and prints
    /// each role's private key (PKCS#8 DER, hex).
    static let metadataAPIScript = """
        import os, sys
        from datetime import datetime, timedelta, timezone
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        from securesystemslib.signer import CryptoSigner
        from tuf.api.metadata import Metadata, MetaFile, Root, Snapshot, TargetFile, Targets, Timestamp
        from tuf.api.serialization.json import JSONSerializer
        base = sys.argv[1]
        os.makedirs(base)
        expires = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=30)
        signers = {}
        for role in ["root", "targets", "snapshot", "timestamp"]:
            key = Ed25519PrivateKey.generate()
            signers[role] = CryptoSigner(key)
            print(role, key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()).hex())
        root = Metadata(Root(expires=expires, consistent_snapshot=True))
        for role, signer in signers.items():
            root.signed.add_key(signer.public_key, role)
        targets = Metadata(Targets(expires=expires, unrecognized_fields={"x-netctl-test": "kept"}))
        targets.signed.targets["1.0"] = TargetFile(527, {"sha256": "01" * 32}, "1.0", {"custom": {"by": "python-tuf"}})
        snapshot = Metadata(Snapshot(expires=expires, meta={"targets.json": MetaFile(1)}))
        timestamp = Metadata(Timestamp(expires=expires, snapshot_meta=MetaFile(1)))
        for name, metadata, role in [("1.root.json", root, "root"), ("1.targets.json", targets, "targets"),
                                     ("1.snapshot.json", snapshot, "snapshot"), ("timestamp.json", timestamp, "timestamp")]:
            metadata.sign(signers[role])
            metadata.to_file(os.path.join(base, name), JSONSerializer(compact=True))
        """

    /// Serves the repository on loopback and prints what `Updater` resolves.
    static let updaterScript = """
        import functools, http.server, os, sys, threading
        from tuf.ngclient import Updater
        base, work, tags = sys.argv[1], sys.argv[2], sys.argv[3:]
        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args): pass
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=base))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            os.makedirs(work + "/metadata")
            with open(base + "/1.root.json", "rb") as first:
                root = first.read()
            url = "http://127.0.0.1:%d/" % server.server_port
            updater = Updater(metadata_dir=work + "/metadata", metadata_base_url=url,
                              target_base_url=url + "targets/", target_dir=work, bootstrap=root)
            updater.refresh()
            print("root", updater._trusted_set.root.version)
            for tag in tags:
                info = updater.get_targetinfo(tag)
                print(tag, info.length, info.hashes["sha256"])
        finally:
            server.shutdown()
        """

    // MARK: - Measure

    /// Signing one tag change in an existing collection of 50 tags, as a client trusted it
    /// (targets, snapshot and timestamp re-signed), as `trust sign` does after fetching:
    /// printed, not asserted.
    @Test(.serialized, arguments: [TrustDialect.tuf, .notary])
    func measureSigningOneTag(_ dialect: TrustDialect) throws {
        let keys = try Keys(dialect)
        var created = try keys.create(dialect)
        for tag in 0..<50 { try created.setTarget("\(tag).0", Self.manifest(UInt8(tag)), in: TopRole.targets) }
        let source = MemorySource(dialect)
        source.publish(try created.sign(with: KeyRing([:]), now: Self.now), created)
        let trusted = try Scratch.with { try source.client(directory: $0, gun: Self.gun, now: Self.now).update() }
        var repository = TrustRepository(collection: trusted, gun: Self.gun)
        let ring = keys.ring(dialect)
        let rounds = 50
        let clock = ContinuousClock()
        let elapsed = try clock.measure {
            for round in 0..<rounds {
                try repository.setTarget("latest", Self.manifest(UInt8(round)), in: TopRole.targets)
                _ = try repository.sign(with: ring, now: Self.now)
            }
        }
        let ms = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        print("trust repository \(dialect): signing one tag change (targets + snapshot + timestamp): \(ms / Double(rounds)) ms")
    }
}

// MARK: - Helpers

extension TrustRepositoryTests {
    /// The keys of a test collection: an ecdsa root (Notary's must be; its certificate is
    /// made by `create`), ed25519 for the others.
    struct Keys {
        let root: PrivateKey, targets: PrivateKey, snapshot: PrivateKey, timestamp: PrivateKey

        init(_ dialect: TrustDialect) throws {
            root = try PrivateKey.generate(.ecdsa)
            targets = try PrivateKey.generate(.ed25519)
            snapshot = try PrivateKey.generate(.ecdsa)
            timestamp = try PrivateKey.generate(.ed25519)
        }

        func create(_ dialect: TrustDialect) throws -> TrustRepository {
            try TrustRepository.create(gun: TrustRepositoryTests.gun, dialect: dialect, rootKeys: [root], targetsKey: targets,
                                       snapshotKey: snapshot, timestampKey: timestamp, now: TrustRepositoryTests.now)
        }

        /// As a publisher loads them from the key store: by the bare keys' IDs.
        func ring(_ dialect: TrustDialect) -> KeyRing {
            KeyRing([root, targets, snapshot, timestamp], dialect: dialect)
        }

        static func without(_ ring: KeyRing, _ key: PrivateKey, _ dialect: TrustDialect) -> KeyRing {
            KeyRing(ring.keys.filter { $0.value.publicKey != key.publicKey })
        }
    }

}

extension PublicKey {
    /// The key's ID as the dialect lists it (Notary lists keys without a scheme).
    fileprivate func keyIDIn(_ dialect: TrustDialect) -> String {
        var key = self
        if dialect == .notary { key.scheme = nil }
        return key.keyID(dialect: dialect)
    }
}

extension TrustRepositoryTests {
    /// A trust server in memory: every version of every role's file, and the newest.
    final class MemorySource: TrustSource, @unchecked Sendable {
        let dialect: TrustDialect
        private let lock = NSLock()
        private var versions: [RoleName: [Int: [UInt8]]] = [:]
        private var latest: [RoleName: [UInt8]] = [:]

        init(_ dialect: TrustDialect) { self.dialect = dialect }

        func publish(_ files: [RoleName: [UInt8]], _ repository: TrustRepository) {
            lock.withLock {
                for (role, file) in files {
                    versions[role, default: [:]][repository.fileVersions[role] ?? 0] = file
                    latest[role] = file
                }
                for role in latest.keys where repository.files[role] == nil { latest[role] = nil }
            }
        }

        func fetch(role: RoleName, version: Int?, limit: Int) throws(TrustError) -> [UInt8]? {
            lock.withLock {
                if let version, role != TopRole.timestamp { return versions[role]?[version] }
                return latest[role]
            }
        }

        func client(directory: String, gun: String, now: TrustTime, trustedRoot: [UInt8]? = nil) -> TrustClient {
            TrustClient(gun: gun, dialect: dialect, source: self, state: TrustStateStore(directory: directory, gun: gun),
                        now: now, trustedRoot: trustedRoot)
        }
    }

    /// A static repository on disk, read as `StaticTrustSource` reads one over HTTP:
    /// `N.R.json` with a version, `R.json` without.
    struct DirectorySource: TrustSource {
        let base: String
        let dialect: TrustDialect

        func fetch(role: RoleName, version: Int?, limit: Int) throws(TrustError) -> [UInt8]? {
            let name = version.map { "\($0).\(role).json" } ?? "\(role).json"
            guard let data = FileManager.default.contents(atPath: base + "/" + name) else { return nil }
            guard data.count <= limit else { throw .malformed("\(name) is \(data.count) bytes, more than \(limit)") }
            return [UInt8](data)
        }
    }

    /// A temporary directory for one test, removed whatever happens.
    enum Scratch {
        static func with<T>(_ body: (String) throws -> T) throws -> T {
            var template = Array("/tmp/netctl-trust-repo-XXXXXX".utf8CString)
            guard let made = mkdtemp(&template) else { throw TrustError.storage("mkdtemp: \(String(cString: strerror(errno)))") }
            let directory = String(cString: made)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            return try body(directory)
        }
    }
}
