import Foundation
import Security
import Testing
import TestSupport

/// The metadata codec against the dialects' own tools: python-tuf makes and checks TUF
/// files (its canonical bytes, its signature checks over what netctl writes), and files
/// notary itself wrote are read and written back byte for byte.
@Suite struct TrustCodecTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/Notary")

    static func fixture(_ version: String, _ role: RoleName) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: fixtures.appendingPathComponent("\(version)/\(role).json")))
    }

    static func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + uniqueName("netctl-codec-")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// `{"name": {"file": base64, "canonical": base64}}` as the scripts below print it.
    static func files(fromScriptOutput output: String) throws -> [String: (file: [UInt8], canonical: [UInt8])] {
        let object = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: [String: String]])
        var out: [String: (file: [UInt8], canonical: [UInt8])] = [:]
        for (name, entry) in object {
            out[name] = (try #require(TrustEncoding.bytes(base64: entry["file"] ?? "")), try #require(TrustEncoding.bytes(base64: entry["canonical"] ?? "")))
        }
        return out
    }

    // MARK: - python-tuf

    /// A collection made with python-tuf's Metadata API: ecdsa, ed25519 and rsa keys, a
    /// target with `custom` and one whose path needs escapes and non-ASCII, delegations by
    /// paths and by hash prefixes, meta entries with and without lengths and hashes.
    static let pythonCollection = """
        import sys, json, base64, hashlib
        from datetime import datetime, timezone
        from securesystemslib.signer import CryptoSigner
        from tuf.api.metadata import (Metadata, Root, Targets, Snapshot, Timestamp, TargetFile, MetaFile,
                                      Delegations, DelegatedRole)

        exp = datetime(2031, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
        signers = {
            "root": CryptoSigner.generate_ecdsa(), "targets": CryptoSigner.generate_ed25519(),
            "snapshot": CryptoSigner.generate_rsa(), "timestamp": CryptoSigner.generate_ed25519(),
            "releases": CryptoSigner.generate_ecdsa(), "bins": CryptoSigner.generate_ed25519(),
        }
        root = Metadata(Root(version=3, expires=exp, consistent_snapshot=True))
        for role in ["root", "targets", "snapshot", "timestamp"]:
            root.signed.add_key(signers[role].public_key, role)

        targets = Metadata(Targets(version=2, expires=exp))
        digest = hashlib.sha256(b"manifest").hexdigest()
        targets.signed.targets["1.0"] = TargetFile(1234, {"sha256": digest, "sha512": hashlib.sha512(b"m").hexdigest()}, "1.0",
            {"custom": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "n": [1, -2, None, True]}})
        targets.signed.targets["caf\\u00e9/\\"quoted\\"\\\\tag \\U0001F600"] = TargetFile(0, {"sha256": digest}, "x")
        rel, bins = signers["releases"].public_key, signers["bins"].public_key
        targets.signed.delegations = Delegations(
            keys={rel.keyid: rel, bins.keyid: bins},
            roles={
                "releases": DelegatedRole("releases", [rel.keyid], 1, False, paths=["1.*", "latest"]),
                "bins": DelegatedRole("bins", [bins.keyid, rel.keyid], 2, True, path_hash_prefixes=["ab", "c"]),
            })
        releases = Metadata(Targets(version=1, expires=exp))
        releases.signed.targets["1.1"] = TargetFile(99, {"sha256": digest}, "1.1")

        files = {"root": root, "targets": targets, "releases": releases}
        for name in ["root", "targets", "releases"]:
            files[name].sign(signers[name])
        snapshot = Metadata(Snapshot(version=4, expires=exp))
        snapshot.signed.meta["targets.json"] = MetaFile(2)
        snapshot.signed.meta["releases.json"] = MetaFile.from_data(1, releases.to_bytes(), ["sha256", "sha512"])
        snapshot.sign(signers["snapshot"])
        timestamp = Metadata(Timestamp(version=5, expires=exp))
        timestamp.signed.snapshot_meta = MetaFile.from_data(4, snapshot.to_bytes(), ["sha256"])
        timestamp.sign(signers["timestamp"])
        files["snapshot"] = snapshot
        files["timestamp"] = timestamp
        print(json.dumps({name: {"file": base64.b64encode(md.to_bytes()).decode(),
                                 "canonical": base64.b64encode(md.signed_bytes).decode()} for name, md in files.items()}))
        """

    /// Reads the files netctl wrote in argv[1], checks every signature over them with
    /// python-tuf's own verification, and prints its canonical bytes and its own encoding.
    static let pythonVerify = """
        import sys, json, base64
        from tuf.api.metadata import Metadata
        d = sys.argv[1]
        md = {n: Metadata.from_bytes(open(f"{d}/{n}.json", "rb").read()) for n in ["root", "targets", "snapshot", "timestamp", "releases"]}
        for role in ["root", "targets", "snapshot", "timestamp"]:
            md["root"].signed.verify_delegate(role, md[role].signed_bytes, md[role].signatures)
        md["targets"].signed.verify_delegate("releases", md["releases"].signed_bytes, md["releases"].signatures)
        print(json.dumps({n: {"file": base64.b64encode(m.to_bytes()).decode(),
                              "canonical": base64.b64encode(m.signed_bytes).decode()} for n, m in md.items()}))
        """

    @Test func canonicalBytesEqualPythonTUFs() throws {
        let made = try Self.files(fromScriptOutput: PythonTUF.run(script: Self.pythonCollection))
        #expect(made.count == 5)
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for (name, python) in made {
            let decoded = try MetadataCodec.decode(python.file, role: name, dialect: .tuf)
            // What the signatures cover, as received, and as netctl writes the same model.
            #expect(decoded.signedBytes == python.canonical, "\(name)")
            #expect(MetadataCodec.signedJSON(decoded.signed, dialect: .tuf).canonical == python.canonical, "\(name)")
            #expect(decoded.fileBytes == python.file)
            // The whole file as python-tuf writes it too (it escapes non-ASCII, so only
            // where there is none).
            let written = MetadataCodec.file(signed: MetadataCodec.signedJSON(decoded.signed, dialect: .tuf),
                                             signatures: decoded.signatures, dialect: .tuf)
            if written.allSatisfy({ $0 < 0x80 }) { #expect(written == python.file, "\(name)") }
            try Data(written).write(to: URL(fileURLWithPath: "\(directory)/\(name).json"))
        }
        // python-tuf reads what netctl wrote, and python-tuf's signatures hold over it.
        let reread = try Self.files(fromScriptOutput: PythonTUF.run(script: Self.pythonVerify, args: [directory]))
        for (name, python) in made {
            #expect(reread[name]?.canonical == python.canonical, "\(name)")
        }
    }

    @Test func pythonTUFModelReadsAsWritten() throws {
        let made = try Self.files(fromScriptOutput: PythonTUF.run(script: Self.pythonCollection))
        let root = try MetadataCodec.decode(try #require(made["root"]).file, role: "root", dialect: .tuf)
        guard case .root(let rootPart) = root.signed else { Issue.record("not a root"); return }
        #expect(rootPart.version == 3 && rootPart.consistentSnapshot)
        #expect(rootPart.expires.rfc3339(dialect: .tuf) == "2031-05-06T07:08:09Z")
        #expect(Set(rootPart.keys.values.map(\.kind)) == [.ecdsa, .ed25519, .rsa])
        #expect(rootPart.keys.values.filter { $0.kind == .ed25519 }.allSatisfy { $0.material.count == 32 && $0.scheme == "ed25519" })
        #expect(rootPart.keys.values.filter { $0.kind == .ecdsa }.allSatisfy { $0.material.first == 0x30 && $0.scheme == "ecdsa-sha2-nistp256" })
        #expect(rootPart.roles.mapValues(\.threshold) == ["root": 1, "targets": 1, "snapshot": 1, "timestamp": 1])
        #expect(root.signatures.count == 1 && root.signatures[0].method == nil)

        let targets = try MetadataCodec.decode(try #require(made["targets"]).file, role: "targets", dialect: .tuf)
        guard case .targets(let targetsPart) = targets.signed else { Issue.record("not targets"); return }
        let release = try #require(targetsPart.targets["1.0"])
        #expect(release.length == 1234 && release.hashes["sha256"]?.count == 32 && release.hashes["sha512"]?.count == 64)
        #expect(release.custom?["mediaType"] == .string("application/vnd.oci.image.manifest.v1+json"))
        #expect(release.custom?["n"] == .array([.integer(1), .integer(-2), .null, .bool(true)]))
        #expect(targetsPart.targets["café/\"quoted\"\\tag 😀"]?.length == 0)
        #expect(targetsPart.delegations.map(\.name) == ["releases", "bins"])
        #expect(targetsPart.delegations[0].paths == ["1.*", "latest"] && !targetsPart.delegations[0].terminating)
        #expect(targetsPart.delegations[1].pathHashPrefixes == ["ab", "c"] && targetsPart.delegations[1].paths == nil)
        #expect(targetsPart.delegations[1].terminating && targetsPart.delegations[1].keys.threshold == 2)
        #expect(targetsPart.delegationKeys.count == 2)

        let snapshot = try MetadataCodec.decode(try #require(made["snapshot"]).file, role: "snapshot", dialect: .tuf)
        guard case .snapshot(let snapshotPart) = snapshot.signed else { Issue.record("not a snapshot"); return }
        #expect(snapshotPart.meta["targets"] == MetaFile(version: 2))
        let releasesFile = try #require(made["releases"]).file
        #expect(snapshotPart.meta["releases"]?.length == Int64(releasesFile.count))
        #expect(snapshotPart.meta["releases"]?.hashes?["sha256"] == TrustDigest.sha256(releasesFile))
        #expect(snapshotPart.meta["releases"]?.hashes?["sha512"] == TrustDigest.sha512(releasesFile))

        let timestamp = try MetadataCodec.decode(try #require(made["timestamp"]).file, role: "timestamp", dialect: .tuf)
        guard case .timestamp(let timestampPart) = timestamp.signed else { Issue.record("not a timestamp"); return }
        #expect(timestampPart.meta.keys.sorted() == ["snapshot"] && timestampPart.meta["snapshot"]?.version == 4)
        #expect(timestampPart.meta["snapshot"]?.hashes?["sha256"] == TrustDigest.sha256(try #require(made["snapshot"]).file))
    }

    /// Key IDs are securesystemslib's: the sha256 of the key's canonical JSON.
    @Test func keyIDsEqualPythonTUFs() throws {
        let made = try Self.files(fromScriptOutput: PythonTUF.run(script: Self.pythonCollection))
        for name in ["root", "targets"] {
            let decoded = try MetadataCodec.decode(try #require(made[name]).file, role: name, dialect: .tuf)
            let keys: [String: PublicKey] = switch decoded.signed {
            case .root(let root): root.keys
            case .targets(let targets): targets.delegationKeys
            default: [:]
            }
            #expect(keys.count >= 2)
            for (id, key) in keys {
                #expect(key.keyID(dialect: .tuf) == id, "\(key.kind)")
                #expect(try PublicKey(json: key.json(dialect: .tuf), dialect: .tuf) == key)
            }
        }
    }

    /// The bytes the codec says the signatures cover are the ones python-tuf signed: every
    /// signature verifies over `signedBytes` with the key as the codec read it (ecdsa and
    /// rsa from PEM, ed25519 from hex), and none over a byte changed.
    @Test func pythonTUFSignaturesHoldOverSignedBytes() throws {
        let made = try Self.files(fromScriptOutput: PythonTUF.run(script: Self.pythonCollection))
        let root = try MetadataCodec.decode(try #require(made["root"]).file, role: "root", dialect: .tuf)
        let targets = try MetadataCodec.decode(try #require(made["targets"]).file, role: "targets", dialect: .tuf)
        guard case .root(let rootPart) = root.signed, case .targets(let targetsPart) = targets.signed else { Issue.record("kinds"); return }
        let keys = rootPart.keys.merging(targetsPart.delegationKeys) { a, _ in a }
        var checked: Set<PublicKey.Kind> = []
        for (name, python) in made {
            let decoded = try MetadataCodec.decode(python.file, role: name, dialect: .tuf)
            #expect(decoded.signatures.count == 1)
            for signature in decoded.signatures {
                let key = try #require(keys[signature.keyID])
                #expect(key.verify(signature.bytes, of: decoded.signedBytes), "\(name) \(key.kind)")
                var changed = decoded.signedBytes
                changed[changed.count / 2] ^= 1
                #expect(!key.verify(signature.bytes, of: changed))
                checked.insert(key.kind)
            }
        }
        #expect(checked == [.ecdsa, .ed25519, .rsa])
    }

    @Test func signedMemberIsTheFilesSignedObject() throws {
        let file = try Self.fixture("notary0.3", "targets")
        let decoded = try MetadataCodec.decode(file, role: "targets", dialect: .notary)
        #expect(MetadataCodec.signedMember(of: decoded)?.canonical == decoded.signedBytes)
    }

    /// Members python-tuf would keep as `unrecognized_fields` survive a change and a re-sign,
    /// and so do records the change left alone, to the byte.
    @Test func unknownMembersSurviveAChange() throws {
        let script = Self.pythonCollection.replacingOccurrences(of: "files = {\"root\"", with: """
            targets.signed.unrecognized_fields["x-top"] = {"a": 1}
            targets.signed.delegations.unrecognized_fields["x-deleg"] = "d"
            targets.signed.targets["1.0"].unrecognized_fields["x-target"] = [1]
            files = {"root"
            """)
        let made = try Self.files(fromScriptOutput: PythonTUF.run(script: script))
        let original = try #require(made["targets"])
        let decoded = try MetadataCodec.decode(original.file, role: "targets", dialect: .tuf)
        let signed = try #require(try TrustJSON.parse(original.file, limit: 1 << 20)["signed"])
        #expect(MetadataCodec.signedJSON(decoded.signed, dialect: .tuf, keeping: signed).canonical == original.canonical)

        guard case .targets(var part) = decoded.signed else { Issue.record("not targets"); return }
        part.version += 1
        part.targets["2.0"] = TargetFile(length: 7, hashes: ["sha256": TrustDigest.sha256([1, 2, 3])])
        let changed = MetadataCodec.signedJSON(.targets(part), dialect: .tuf, keeping: signed)
        #expect(changed["x-top"] == .object(["a": .integer(1)]))
        #expect(changed["delegations"]?["x-deleg"] == .string("d"))
        #expect(changed["targets"]?["1.0"]?["x-target"] == .array([.integer(1)]))
        #expect(changed["targets"]?["2.0"]?["hashes"]?["sha256"] == .string(TrustEncoding.hex(TrustDigest.sha256([1, 2, 3]))))
        #expect(changed["version"] == .integer(3))
        let reread = try MetadataCodec.decode(MetadataCodec.file(signed: changed, signatures: [], dialect: .tuf), role: "targets", dialect: .tuf)
        #expect(reread.signed == .targets(part))

        // A target removed is gone, not carried over from the old file.
        part.targets["1.0"] = nil
        #expect(MetadataCodec.signedJSON(.targets(part), dialect: .tuf, keeping: signed)["targets"]?["1.0"] == nil)
    }

    // MARK: - Notary

    static let notaryRoles: [String: [RoleName]] = [
        "notary0.3": ["root", "targets", "targets/releases", "snapshot", "timestamp"],
        "notary0.1": ["root", "targets", "snapshot", "timestamp"],
    ]

    /// The bytes of a Notary file's `signed` member as notary wrote them (its canonical
    /// form, followed by `,"signatures":`).
    static func signedMember(of file: [UInt8]) throws -> [UInt8] {
        let text = String(decoding: file, as: UTF8.self)
        let start = try #require(text.range(of: "{\"signed\":")).upperBound
        let end = try #require(text.range(of: ",\"signatures\":", options: .backwards)).lowerBound
        return Array(text[start..<end].utf8)
    }

    @Test(arguments: ["notary0.3", "notary0.1"])
    func notaryFilesReadAndWriteBackByteForByte(version: String) throws {
        for role in try #require(Self.notaryRoles[version]) {
            let file = try Self.fixture(version, role)
            let decoded = try MetadataCodec.decode(file, role: role, dialect: .notary)
            #expect(decoded.signedBytes == (try Self.signedMember(of: file)), "\(version) \(role)")
            let signed = try #require(try TrustJSON.parse(file, limit: 1 << 20)["signed"])
            // Kept: the file itself, to the byte (times with nanoseconds and offsets included).
            let kept = MetadataCodec.signedJSON(decoded.signed, dialect: .notary, keeping: signed)
            #expect(MetadataCodec.file(signed: kept, signatures: decoded.signatures, dialect: .notary) == file, "\(version) \(role)")
            // Written afresh: the same model.
            let fresh = MetadataCodec.file(signed: MetadataCodec.signedJSON(decoded.signed, dialect: .notary),
                                           signatures: decoded.signatures, dialect: .notary)
            let again = try MetadataCodec.decode(fresh, role: role, dialect: .notary)
            #expect(again.signed == decoded.signed && again.signatures == decoded.signatures, "\(version) \(role)")
        }
    }

    @Test func notaryModelReadsAsWritten() throws {
        let root = try MetadataCodec.decode(try Self.fixture("notary0.3", "root"), role: "root", dialect: .notary)
        guard case .root(let rootPart) = root.signed else { Issue.record("not a root"); return }
        // "2116-07-03T17:56:36.027379879-05:00"
        #expect(rootPart.expires == (try TrustTime(rfc3339: "2116-07-03T22:56:36Z")))
        #expect(!rootPart.consistentSnapshot && rootPart.version == 1)
        let rootKeyID = try #require(rootPart.roles["root"]?.keyIDs.first)
        #expect(rootPart.keys[rootKeyID]?.kind == .ecdsaX509)
        let certificate = String(decoding: rootPart.keys[rootKeyID]?.material ?? [], as: UTF8.self)
        #expect(certificate.hasPrefix("-----BEGIN CERTIFICATE-----\n"))
        #expect(root.signatures.allSatisfy { $0.method == "ecdsa" && $0.bytes.count == 64 })

        let targets = try MetadataCodec.decode(try Self.fixture("notary0.3", "targets"), role: "targets", dialect: .notary)
        guard case .targets(let targetsPart) = targets.signed else { Issue.record("not targets"); return }
        #expect(targetsPart.delegations.map(\.name) == ["targets/releases"])
        #expect(targetsPart.delegations[0].paths == [""] && targetsPart.delegations[0].keys.threshold == 1)
        #expect(targetsPart.delegationKeys.values.map(\.kind) == [.rsaX509])
        #expect(Set(targetsPart.targets.keys) == ["LICENSE", "change"])

        let releases = try MetadataCodec.decode(try Self.fixture("notary0.3", "targets/releases"), role: "targets/releases", dialect: .notary)
        #expect(releases.signatures.map(\.method) == ["rsapss"])
        guard case .targets(let releasesPart) = releases.signed else { Issue.record("not targets"); return }
        // The empty file's digests.
        #expect(releasesPart.targets["hello"] == TargetFile(length: 0, hashes: ["sha256": TrustDigest.sha256([]), "sha512": TrustDigest.sha512([])]))

        let timestamp = try MetadataCodec.decode(try Self.fixture("notary0.3", "timestamp"), role: "timestamp", dialect: .notary)
        #expect(timestamp.signed.expires.rfc3339(dialect: .notary) == "2116-07-03T23:08:08Z")
    }

    /// Key IDs are notary's `TUFKey.ID()`: of the certificate form for x509 keys.
    @Test func keyIDsEqualNotarys() throws {
        var checked = 0
        for (version, roles) in Self.notaryRoles {
            for role in roles where role == "root" || role == "targets" {
                let decoded = try MetadataCodec.decode(try Self.fixture(version, role), role: role, dialect: .notary)
                let keys: [String: PublicKey] = switch decoded.signed {
                case .root(let root): root.keys
                case .targets(let targets): targets.delegationKeys
                default: [:]
                }
                for (id, key) in keys {
                    #expect(key.keyID(dialect: .notary) == id, "\(version) \(key.kind)")
                    checked += 1
                }
            }
        }
        #expect(checked == 9)
    }

    /// Notary's signatures verify over `signedBytes` with the keys as the codec read them
    /// (base64 DER, certificates as PEM), the method as the file names it: ecdsa, the
    /// root's ecdsa-x509, and the delegation's rsa-x509 with rsapss. Checked at a time in
    /// 2017, when the certificates notary made were valid.
    @Test(arguments: ["notary0.3", "notary0.1"])
    func notarySignaturesHoldOverSignedBytes(version: String) throws {
        let then = TrustTime(seconds: 1_500_000_000)
        let root = try MetadataCodec.decode(try Self.fixture(version, "root"), role: "root", dialect: .notary)
        let targets = try MetadataCodec.decode(try Self.fixture(version, "targets"), role: "targets", dialect: .notary)
        guard case .root(let rootPart) = root.signed, case .targets(let targetsPart) = targets.signed else { Issue.record("kinds"); return }
        let keys = rootPart.keys.merging(targetsPart.delegationKeys) { a, _ in a }
        var checked: Set<PublicKey.Kind> = []
        for role in try #require(Self.notaryRoles[version]) {
            let decoded = try MetadataCodec.decode(try Self.fixture(version, role), role: role, dialect: .notary)
            #expect(!decoded.signatures.isEmpty)
            for signature in decoded.signatures {
                let key = try #require(keys[signature.keyID])
                #expect(key.verify(signature.bytes, of: decoded.signedBytes, method: signature.method, at: then), "\(role) \(key.kind)")
                #expect(!key.verify(signature.bytes, of: decoded.signedBytes + [0x20], method: signature.method, at: then))
                checked.insert(key.kind)
            }
        }
        #expect(checked == (version == "notary0.3" ? [.ecdsa, .ecdsaX509, .rsaX509] : [.ecdsa, .ecdsaX509]))
    }

    /// notary names a root key's file by the ID of the key inside the certificate:
    /// `private/root_keys/f4eaf871….key` holds the key of notary0.3's root certificate.
    @Test func canonicalKeyIDsNameNotarysKeyFiles() throws {
        let files = ["notary0.3": "f4eaf871a74aa3b3a0ff95cef2455a1e4d461639f5625418e76756fc5c948690",
                     "notary0.1": "d0c623c8e70c70d42a8a8125c44a8598588b3f6e31d5c21a83cbc338dfde8a68"]
        for (version, fileID) in files {
            let root = try MetadataCodec.decode(try Self.fixture(version, "root"), role: "root", dialect: .notary)
            guard case .root(let part) = root.signed else { Issue.record("not a root"); return }
            let rootID = try #require(part.roles["root"]?.keyIDs.first)
            let rootKey = try #require(part.keys[rootID])
            #expect(rootKey.kind == .ecdsaX509 && rootKey.keyID(dialect: .notary) == rootID)
            #expect(try rootKey.canonicalKeyID() == fileID, "\(version)")
            for (id, key) in part.keys where key.kind == .ecdsa {
                #expect(try key.canonicalKeyID() == id)
            }
        }
    }

    /// The snapshot and timestamp notary wrote describe the other files by length and
    /// digests, as the codec reads them.
    @Test func notaryMetaDescribesTheFiles() throws {
        let snapshotFile = try Self.fixture("notary0.3", "snapshot")
        let snapshot = try MetadataCodec.decode(snapshotFile, role: "snapshot", dialect: .notary)
        guard case .snapshot(let part) = snapshot.signed else { Issue.record("not a snapshot"); return }
        #expect(part.meta.keys.sorted() == ["root", "targets", "targets/releases"])
        for (role, meta) in part.meta {
            let file = try Self.fixture("notary0.3", role)
            #expect(meta == MetaFile(version: nil, length: Int64(file.count), hashes: ["sha256": TrustDigest.sha256(file), "sha512": TrustDigest.sha512(file)]), "\(role)")
        }
        let timestamp = try MetadataCodec.decode(try Self.fixture("notary0.3", "timestamp"), role: "timestamp", dialect: .notary)
        guard case .timestamp(let stamp) = timestamp.signed else { Issue.record("not a timestamp"); return }
        #expect(stamp.meta["snapshot"]?.hashes?["sha256"] == TrustDigest.sha256(snapshotFile))
    }

    // MARK: - Round trips

    /// Notary keys have no scheme.
    static func sampleKeys(_ dialect: TrustDialect) -> [PublicKey] {
        let scheme: String? = dialect == .tuf ? "ed25519" : nil
        return [PublicKey(kind: .ed25519, scheme: scheme, material: Array(0..<32)),
                PublicKey(kind: .ed25519, scheme: scheme, material: Array(32..<64))]
    }

    static func sampleParts(dialect: TrustDialect) -> [RoleName: SignedPart] {
        let keys = sampleKeys(dialect)
        let ids = keys.map { TrustEncoding.hex(TrustDigest.sha256($0.material)) }
        let expires = TrustTime(seconds: 1_900_000_000)
        let delegated: RoleName = dialect == .notary ? "targets/releases" : "releases"
        let hashes: [String: [UInt8]] = ["sha256": TrustDigest.sha256([7]), "sha512": TrustDigest.sha512([7])]
        return [
            "root": .root(RootMetadata(version: 2, expires: expires, consistentSnapshot: dialect == .tuf,
                                       keys: [ids[0]: keys[0], ids[1]: keys[1]],
                                       roles: ["root": RoleKeys(keyIDs: [ids[0]], threshold: 1), "targets": RoleKeys(keyIDs: [ids[1]], threshold: 1),
                                               "snapshot": RoleKeys(keyIDs: ids, threshold: 2), "timestamp": RoleKeys(keyIDs: [ids[1]], threshold: 1)])),
            "targets": .targets(TargetsMetadata(version: 3, expires: expires,
                                                targets: ["latest": TargetFile(length: 528, hashes: hashes, custom: .object(["k": .string("v\n")]))],
                                                delegationKeys: [ids[0]: keys[0]],
                                                delegations: [Delegation(name: delegated, keys: RoleKeys(keyIDs: [ids[0]], threshold: 1), paths: ["1.", ""],
                                                                         terminating: false)])),
            delegated: .targets(TargetsMetadata(version: 1, expires: expires, targets: ["1.0": TargetFile(length: 1, hashes: hashes)])),
            "snapshot": .snapshot(SnapshotMetadata(version: 4, expires: expires, meta: dialect == .tuf
                ? ["targets": MetaFile(version: 3), delegated: MetaFile(version: 1, length: 10, hashes: hashes)]
                : ["root": MetaFile(version: nil, length: 5, hashes: hashes), "targets": MetaFile(version: nil, length: 6, hashes: hashes)])),
            "timestamp": .timestamp(TimestampMetadata(version: 9, expires: expires,
                                                      meta: ["snapshot": MetaFile(version: dialect == .tuf ? 4 : nil, length: 77, hashes: hashes)])),
        ]
    }

    @Test(arguments: [TrustDialect.tuf, .notary])
    func modelRoundTrips(dialect: TrustDialect) throws {
        for (role, part) in Self.sampleParts(dialect: dialect) {
            let signatures = [TrustSignature(keyID: "ab12", method: dialect == .notary ? PublicKey.Kind.ed25519.notaryMethod : nil, bytes: Array(0..<64))]
            let file = MetadataCodec.file(signed: MetadataCodec.signedJSON(part, dialect: dialect), signatures: signatures, dialect: dialect)
            let decoded = try MetadataCodec.decode(file, role: role, dialect: dialect)
            #expect(decoded.signed == part, "\(dialect) \(role)")
            #expect(decoded.signatures == signatures)
            #expect(decoded.signedBytes == MetadataCodec.signedJSON(part, dialect: dialect).canonical)
            // The type each dialect writes.
            let type = try #require(try TrustJSON.parse(file, limit: 1 << 20)["signed"]?["_type"]?.string)
            #expect(type == (dialect == .tuf ? type.lowercased() : type.prefix(1).uppercased() + type.dropFirst()))
        }
    }

    /// Notary's file shape: signed first, signatures with a method, base64 everywhere, no
    /// spec_version, meta keyed by role name, delegations always present.
    @Test func notaryShapes() throws {
        let parts = Self.sampleParts(dialect: .notary)
        let snapshot = String(decoding: MetadataCodec.file(signed: MetadataCodec.signedJSON(try #require(parts["snapshot"]), dialect: .notary),
                                                          signatures: [TrustSignature(keyID: "k", method: "ecdsa", bytes: [1, 2, 3])], dialect: .notary), as: UTF8.self)
        #expect(snapshot.hasPrefix("{\"signed\":{\"_type\":\"Snapshot\",\"expires\":\"2030-03-17T17:46:40Z\",\"meta\":{\"root\":{\"hashes\":{\"sha256\":\""))
        #expect(snapshot.hasSuffix(",\"version\":4},\"signatures\":[{\"keyid\":\"k\",\"method\":\"ecdsa\",\"sig\":\"AQID\"}]}"))
        #expect(!snapshot.contains("spec_version"))
        let leaf = MetadataCodec.signedJSON(.targets(TargetsMetadata(version: 1, expires: TrustTime(seconds: 0))), dialect: .notary)
        #expect(String(decoding: leaf.canonical, as: UTF8.self)
            == "{\"_type\":\"Targets\",\"delegations\":{\"keys\":{},\"roles\":[]},\"expires\":\"1970-01-01T00:00:00Z\",\"targets\":{},\"version\":1}")
        let key = PublicKey(kind: .ecdsa, material: [0x30, 1, 2])
        #expect(String(decoding: key.json(dialect: .notary).canonical, as: UTF8.self)
            == "{\"keytype\":\"ecdsa\",\"keyval\":{\"private\":null,\"public\":\"MAEC\"}}")
        #expect(String(decoding: key.json(dialect: .tuf).canonical, as: UTF8.self)
            == "{\"keytype\":\"ecdsa\",\"keyval\":{\"public\":\"-----BEGIN PUBLIC KEY-----\nMAEC\n-----END PUBLIC KEY-----\n\"},\"scheme\":\"ecdsa-sha2-nistp256\"}")
    }

    // MARK: - Malformed files

    /// Sets (or with nil removes) the member at `path` of a JSON tree.
    static func setting(_ json: TrustJSON, _ path: ArraySlice<String>, _ value: TrustJSON?) -> TrustJSON {
        guard let key = path.first else { return value ?? .null }
        switch json {
        case .object(var members):
            if path.count == 1 { members[key] = value } else { members[key] = setting(members[key] ?? .null, path.dropFirst(), value) }
            return .object(members)
        case .array(var elements):
            let index = Int(key)!
            if path.count == 1 { if let value { elements[index] = value } else { elements.remove(at: index) } } else {
                elements[index] = setting(elements[index], path.dropFirst(), value)
            }
            return .array(elements)
        default:
            return json
        }
    }

    struct Bad: CustomStringConvertible, Sendable {
        var dialect: TrustDialect
        var role: RoleName
        /// Member path from the top of the file ("signed/version") and its new value (nil: removed).
        var path: String
        var value: TrustJSON?
        var message: String
        var description: String { "\(dialect) \(role) \(path)" }
    }

    static let sampleID = "ab12"
    static let badCases: [Bad] = {
        let tufKey = "signed/keys/\(sampleKeyID(.tuf))"
        let notaryKey = "signed/keys/\(sampleKeyID(.notary))"
        return [
            Bad(dialect: .tuf, role: "root", path: "signed/_type", value: .string("Root"), message: "root: signed._type: \"Root\" where \"root\" was expected"),
            Bad(dialect: .notary, role: "root", path: "signed/_type", value: .string("root"), message: "root: signed._type: \"root\" where \"Root\" was expected"),
            Bad(dialect: .tuf, role: "timestamp", path: "signed/_type", value: .string("snapshot"), message: "timestamp: signed._type: \"snapshot\" where \"timestamp\" was expected"),
            Bad(dialect: .tuf, role: "root", path: "signed/spec_version", value: nil, message: "root: signed: missing \"spec_version\""),
            Bad(dialect: .tuf, role: "root", path: "signed/spec_version", value: .string("2.0.0"), message: "root: signed.spec_version: \"2.0.0\" is not supported (expected 1.x)"),
            Bad(dialect: .tuf, role: "root", path: "signed/spec_version", value: .string("1.x"), message: "root: signed.spec_version: \"1.x\" is not a version such as \"1.0.31\""),
            Bad(dialect: .tuf, role: "targets", path: "signed/version", value: .integer(0), message: "targets: signed.version: 0 is less than 1"),
            Bad(dialect: .notary, role: "targets", path: "signed/version", value: .integer(-4), message: "targets: signed.version: -4 is less than 1"),
            Bad(dialect: .tuf, role: "snapshot", path: "signed/version", value: .string("4"), message: "snapshot: signed.version: expected an integer, found a string"),
            Bad(dialect: .tuf, role: "snapshot", path: "signed/expires", value: nil, message: "snapshot: signed: missing \"expires\""),
            Bad(dialect: .tuf, role: "snapshot", path: "signed/expires", value: .string("2030-01-01T00:00:00.5Z"), message: "snapshot: signed.expires: \"2030-01-01T00:00:00.5Z\" is not a time such as 2030-01-31T23:59:59Z"),
            Bad(dialect: .notary, role: "snapshot", path: "signed/expires", value: .string("2030-02-30T00:00:00Z"), message: "snapshot: signed.expires: time \"2030-02-30T00:00:00Z\": day 30, expected RFC 3339 as 2030-01-31T23:59:59Z"),
            Bad(dialect: .tuf, role: "root", path: "signed/roles/timestamp/threshold", value: .integer(0), message: "root: signed.roles[\"timestamp\"].threshold: 0 is less than 1"),
            Bad(dialect: .tuf, role: "root", path: "signed/roles/snapshot", value: nil, message: "root: signed.roles: missing \"snapshot\""),
            Bad(dialect: .tuf, role: "root", path: "signed/roles/mirror", value: .object(["keyids": .array([]), "threshold": .integer(1)]), message: "root: signed.roles[\"mirror\"]: not a top-level role (expected root, targets, snapshot, timestamp)"),
            Bad(dialect: .tuf, role: "root", path: "signed/roles/root/keyids", value: .array([.string("a"), .string("a")]), message: "root: signed.roles[\"root\"].keyids: \"a\" listed twice"),
            Bad(dialect: .notary, role: "root", path: "signed/roles/root/keyids", value: .array([.string("cafe")]), message: "root: signed.roles[\"root\"].keyids: key cafe is not in signed.keys"),
            Bad(dialect: .tuf, role: "root", path: "signed/consistent_snapshot", value: .string("yes"), message: "root: signed.consistent_snapshot: expected true or false, found a string"),
            Bad(dialect: .tuf, role: "root", path: tufKey + "/keytype", value: .string("dsa"), message: "root: signed.keys[\"\(sampleKeyID(.tuf))\"]: unknown key type \"dsa\" with scheme \"ed25519\" (expected ed25519, ecdsa or rsa)"),
            Bad(dialect: .notary, role: "root", path: notaryKey + "/keytype", value: .string("dsa"), message: "root: signed.keys[\"\(sampleKeyID(.notary))\"].keytype: unknown key type \"dsa\" (expected ed25519, ecdsa, ecdsa-x509, rsa or rsa-x509)"),
            Bad(dialect: .tuf, role: "root", path: tufKey + "/keyval/public", value: .string("abcd"), message: "root: signed.keys[\"\(sampleKeyID(.tuf))\"].keyval.public: an ed25519 key must be 64 hex digits"),
            Bad(dialect: .tuf, role: "root", path: tufKey + "/scheme", value: nil, message: "root: signed.keys[\"\(sampleKeyID(.tuf))\"]: missing \"scheme\""),
            Bad(dialect: .notary, role: "root", path: notaryKey + "/keyval/public", value: .string("!!"), message: "root: signed.keys[\"\(sampleKeyID(.notary))\"].keyval.public: expected base64"),
            Bad(dialect: .notary, role: "root", path: notaryKey + "/keyval/private", value: .string("AAAA"), message: "root: signed.keys[\"\(sampleKeyID(.notary))\"].keyval.private: a private key in public metadata"),
            Bad(dialect: .tuf, role: "targets", path: "signed/targets/latest/length", value: .integer(-1), message: "targets: signed.targets[\"latest\"].length: -1 is less than 0"),
            Bad(dialect: .tuf, role: "targets", path: "signed/targets/latest/hashes", value: .object([:]), message: "targets: signed.targets[\"latest\"].hashes: no hashes"),
            Bad(dialect: .tuf, role: "targets", path: "signed/targets/latest/hashes/sha256", value: .string("abcd"), message: "targets: signed.targets[\"latest\"].hashes[\"sha256\"]: a sha256 digest is 32 bytes, not 2"),
            Bad(dialect: .tuf, role: "targets", path: "signed/targets/latest/hashes/sha256", value: .string("xyz"), message: "targets: signed.targets[\"latest\"].hashes[\"sha256\"]: expected hex"),
            Bad(dialect: .notary, role: "targets", path: "signed/targets/latest/hashes/sha512", value: .string("AAAA"), message: "targets: signed.targets[\"latest\"].hashes[\"sha512\"]: a sha512 digest is 64 bytes, not 3"),
            Bad(dialect: .notary, role: "targets", path: "signed/targets/latest/hashes", value: .object(["md5": .string("AAAA")]), message: "targets: signed.targets[\"latest\"].hashes: neither sha256 nor sha512"),
            Bad(dialect: .tuf, role: "targets", path: "signed/targets", value: .array([]), message: "targets: signed.targets: expected an object, found an array"),
            Bad(dialect: .tuf, role: "targets", path: "signed/delegations/roles/0/threshold", value: .integer(0), message: "targets: signed.delegations.roles[0].threshold: 0 is less than 1"),
            Bad(dialect: .tuf, role: "targets", path: "signed/delegations/roles/0/terminating", value: nil, message: "targets: signed.delegations.roles[0]: missing \"terminating\""),
            Bad(dialect: .tuf, role: "targets", path: "signed/delegations/roles/0/path_hash_prefixes", value: .array([]), message: "targets: signed.delegations.roles[0]: exactly one of \"paths\" and \"path_hash_prefixes\" expected"),
            Bad(dialect: .tuf, role: "targets", path: "signed/delegations/roles/0/name", value: .string("a/b"), message: "targets: signed.delegations.roles[0].name: \"a/b\" is not a delegated role name"),
            Bad(dialect: .tuf, role: "targets", path: "signed/delegations/succinct_roles", value: .object([:]), message: "targets: signed.delegations.succinct_roles: hash-bin delegations (succinct_roles) are not supported"),
            Bad(dialect: .notary, role: "targets", path: "signed/delegations/roles/0/name", value: .string("targets/a/b"), message: "targets: signed.delegations.roles[0].name: \"targets/a/b\" is not a role directly under targets"),
            Bad(dialect: .notary, role: "targets", path: "signed/delegations/roles/0/keyids", value: .array([.string("cafe")]), message: "targets: signed.delegations.roles[0].keyids: key cafe is not in signed.delegations.keys"),
            Bad(dialect: .notary, role: "targets", path: "signed/delegations/roles/0/paths", value: .string(""), message: "targets: signed.delegations.roles[0].paths: expected an array, found a string"),
            Bad(dialect: .tuf, role: "snapshot", path: "signed/meta/targets.json/version", value: .integer(0), message: "snapshot: signed.meta[\"targets.json\"].version: 0 is less than 1"),
            Bad(dialect: .tuf, role: "snapshot", path: "signed/meta/targets", value: .object(["version": .integer(1)]), message: "snapshot: signed.meta[\"targets\"]: not a metadata file name (ROLE.json)"),
            Bad(dialect: .tuf, role: "timestamp", path: "signed/meta/snapshot.json", value: nil, message: "timestamp: signed.meta: missing \"snapshot.json\""),
            Bad(dialect: .tuf, role: "timestamp", path: "signed/meta/snapshot.json/length", value: .integer(-77), message: "timestamp: signed.meta[\"snapshot.json\"].length: -77 is less than 0"),
            Bad(dialect: .notary, role: "timestamp", path: "signed/meta/snapshot/length", value: nil, message: "timestamp: signed.meta[\"snapshot\"]: missing \"length\""),
            Bad(dialect: .notary, role: "snapshot", path: "signed/meta/root", value: nil, message: "snapshot: signed.meta: missing \"root\""),
            Bad(dialect: .notary, role: "snapshot", path: "signed/meta/root/hashes", value: .object(["sha512": .string(TrustEncoding.base64([UInt8](repeating: 1, count: 64)))]), message: "snapshot: signed.meta[\"root\"].hashes: no sha256"),
            Bad(dialect: .tuf, role: "root", path: "signatures/0/sig", value: .string("zz"), message: "root: signatures[0].sig: expected hex"),
            Bad(dialect: .notary, role: "root", path: "signatures/0/sig", value: .string("ab="), message: "root: signatures[0].sig: expected base64"),
            Bad(dialect: .notary, role: "root", path: "signatures/0/method", value: nil, message: "root: signatures[0]: missing \"method\""),
            Bad(dialect: .tuf, role: "root", path: "signatures", value: .array([.object(["keyid": .string(sampleID), "sig": .string("00")]), .object(["keyid": .string(sampleID), "sig": .string("01")])]), message: "root: signatures[1].keyid: a second signature by key ab12"),
            Bad(dialect: .tuf, role: "root", path: "signatures", value: .object([:]), message: "root: signatures: expected an array, found an object"),
            Bad(dialect: .tuf, role: "root", path: "signed", value: nil, message: "root: the file: missing \"signed\""),
            Bad(dialect: .tuf, role: "root", path: "signed", value: .string("{}"), message: "root: signed: expected an object, found a string"),
        ]
    }()

    static func sampleKeyID(_ dialect: TrustDialect) -> String { TrustEncoding.hex(TrustDigest.sha256(sampleKeys(dialect)[0].material)) }

    @Test(arguments: badCases)
    func malformedFilesAreRefusedNamingTheField(_ bad: Bad) throws {
        let part = try #require(Self.sampleParts(dialect: bad.dialect)[bad.role])
        let signatures = [TrustSignature(keyID: Self.sampleID, method: "eddsa", bytes: [1])]
        let good = try TrustJSON.parse(MetadataCodec.file(signed: MetadataCodec.signedJSON(part, dialect: bad.dialect), signatures: signatures, dialect: bad.dialect), limit: 1 << 20)
        let mutated = Self.setting(good, ArraySlice(bad.path.split(separator: "/").map(String.init)), bad.value)
        // Through the file writer when only `signed` changed, so that it is written as the
        // dialect writes it; otherwise as the whole tree.
        let bytes = bad.path.hasPrefix("signed/") ? MetadataCodec.file(signed: mutated["signed"] ?? .null, signatures: [], dialect: bad.dialect) : mutated.canonical
        #expect(throws: TrustError.malformed(bad.message)) { try MetadataCodec.decode(bytes, role: bad.role, dialect: bad.dialect) }
    }

    @Test func everyRefusalHasItsOwnMessage() {
        let messages = Self.badCases.map(\.message)
        #expect(Set(messages).count == messages.count)
    }

    @Test func malformedBytesAndRoles() throws {
        let cases: [(bytes: [UInt8], role: RoleName, dialect: TrustDialect, message: String)] = [
            (Array("{\"signed\":{}".utf8), "root", .tuf, "root: JSON at byte 12: unexpected end"),
            (Array("[]".utf8), "targets", .tuf, "targets: the file: expected an object, found an array"),
            (Array("{\"signed\":{},\"signatures\":[],\"signed\":{}}".utf8), "root", .notary, "root: JSON at byte 40: member \"signed\" appears twice"),
            (Array("{\"signed\":{\"version\":1.0}}".utf8), "snapshot", .tuf, "snapshot: JSON at byte 22: a number that is not an integer (canonical JSON has integers only)"),
            ([UInt8](repeating: 0x20, count: 16 * 1024 + 1), "timestamp", .tuf, "timestamp: metadata is 16385 bytes, more than the 16384 allowed"),
            ([UInt8](repeating: 0x20, count: 512 * 1024 + 1), "root", .notary, "root: metadata is 524289 bytes, more than the 524288 allowed"),
            (Array("{}".utf8), "releases", .notary, "role \"releases\": not a role name (expected root, targets, snapshot, timestamp or a delegated role targets/NAME)"),
            (Array("{}".utf8), "targets/releases", .tuf, "role \"targets/releases\": not a role name (expected root, targets, snapshot, timestamp or a delegated role)"),
        ]
        for item in cases {
            #expect(throws: TrustError.malformed(item.message)) { try MetadataCodec.decode(item.bytes, role: item.role, dialect: item.dialect) }
        }
        // Names that could leave the trust store's directory, or that the dialect refuses.
        for (name, dialect) in [("targets/../../etc", TrustDialect.notary), ("targets//x", .notary), ("targets/x/", .notary), ("targets/X", .notary),
                                ("targets/a.b", .notary), ("targets/" + String(repeating: "a", count: 248), .notary),
                                ("..", .tuf), (".", .tuf), ("a\\b", .tuf), ("a\u{0}b", .tuf), ("", .tuf), (String(repeating: "a", count: 256), .tuf)] {
            #expect(throws: TrustError.self, "\(name)") { try MetadataCodec.decode(Array("{}".utf8), role: name, dialect: dialect) }
        }
        // Allowed names get as far as the file.
        for (name, dialect) in [("targets/releases", TrustDialect.notary), ("targets/a-b_c/d9", .notary), ("releases", .tuf), ("café ok", .tuf)] {
            #expect(throws: TrustError.malformed("\(name): the file: missing \"signed\"")) { try MetadataCodec.decode(Array("{}".utf8), role: name, dialect: dialect) }
        }
        // Delegated roles get targets' limit: 4 MiB.
        #expect(MetadataCodec.sizeLimit(for: "targets/releases") == 4 * 1024 * 1024 && MetadataCodec.sizeLimit(for: "releases") == 4 * 1024 * 1024)
        let big = [UInt8](repeating: 0x20, count: 4 * 1024 * 1024 + 1)
        #expect(throws: TrustError.malformed("targets/x: metadata is 4194305 bytes, more than the 4194304 allowed")) {
            try MetadataCodec.decode(big, role: "targets/x", dialect: .notary)
        }
    }

    // MARK: - Times

    @Test func rfc3339() throws {
        let cases: [(String, Int64)] = [
            ("1970-01-01T00:00:00Z", 0),
            ("2031-05-06T07:08:09Z", 1_935_817_689),
            ("2116-07-03T17:56:36.027379879-05:00", 4_623_260_196),
            ("2116-07-03T22:56:36.999999999Z", 4_623_260_196),
            ("2000-02-29T23:59:59+01:30", 951_863_399),
            ("1969-12-31T23:59:59Z", -1),
            ("0001-01-01T00:00:00Z", -62_135_596_800),
            ("9999-12-31T23:59:59Z", 253_402_300_799),
        ]
        for (text, seconds) in cases {
            #expect(try TrustTime(rfc3339: text).seconds == seconds, "\(text)")
        }
        for (text, _) in cases where !text.contains(".") && !text.contains("+") {
            #expect(try TrustTime(rfc3339: text).rfc3339(dialect: .tuf) == text)
            #expect(try TrustTime(rfc3339: text).rfc3339(dialect: .notary) == text)
        }
        #expect(TrustTime(seconds: .max).rfc3339(dialect: .tuf) == "9999-12-31T23:59:59Z")
        #expect(TrustTime(seconds: .min).rfc3339(dialect: .notary) == "0000-01-01T00:00:00Z")
        let bad = ["", "2030-01-01", "2030-01-01T00:00:00", "2030-01-01 00:00:00Z", "2030-01-01t00:00:00z", "2030-13-01T00:00:00Z",
                   "2100-02-29T00:00:00Z", "2030-01-01T24:00:00Z", "2030-01-01T00:60:00Z", "2030-01-01T00:00:60Z", "2030-01-01T00:00:00.Z",
                   "2030-01-01T00:00:00+0100", "2030-01-01T00:00:00+24:00", "2030-01-01T00:00:00Zjunk", "+2030-01-01T00:00:00Z", "２030-01-01T00:00:00Z"]
        for text in bad {
            #expect(throws: TrustError.self, "\(text)") { try TrustTime(rfc3339: text) }
        }
    }

    // MARK: - Encodings

    @Test func encodings() {
        #expect(TrustEncoding.hex([0, 0xab, 0xff]) == "00abff")
        #expect(TrustEncoding.bytes(hex: "00ABff") == [0, 0xab, 0xff])
        #expect(TrustEncoding.bytes(hex: "abc") == nil && TrustEncoding.bytes(hex: "zz") == nil)
        for count in 0..<8 {
            let bytes = (0..<count).map { UInt8(truncatingIfNeeded: $0 * 89 + 250) }
            #expect(TrustEncoding.bytes(base64: TrustEncoding.base64(bytes)) == bytes)
            #expect(TrustEncoding.base64(bytes) == Data(bytes).base64EncodedString())
        }
        for bad in ["A", "AB=", "A===", "AB=C", "AB\nC", "ABC=ABCD", "AB==", "AAB="] {
            // "AB==" has bits left over in its last character; "AAB=" too.
            #expect(TrustEncoding.bytes(base64: bad) == nil, "\(bad)")
        }
        #expect(TrustEncoding.bytes(base64: "AA==") == [0] && TrustEncoding.bytes(base64: "AAA=") == [0, 0])
        let der = [UInt8](repeating: 0x30, count: 91)
        let pem = TrustEncoding.pem(der, label: "PUBLIC KEY")
        #expect(pem.split(separator: "\n").map(\.count) == [26, 64, 60, 24])
        #expect(TrustEncoding.bytes(pem: pem, label: "PUBLIC KEY") == der)
        #expect(TrustEncoding.bytes(pem: pem.replacingOccurrences(of: "\n", with: "\r\n"), label: "PUBLIC KEY") == der)
        #expect(TrustEncoding.bytes(pem: pem, label: "CERTIFICATE") == nil)
        #expect(TrustEncoding.bytes(pem: String(pem.dropLast(10)), label: "PUBLIC KEY") == nil)
    }

    // MARK: - TrustJSON

    @Test func jsonEdgeCases() throws {
        func parse(_ text: String) throws -> TrustJSON { try TrustJSON.parse(Array(text.utf8), limit: 1 << 20) }
        #expect(try parse(#""a\"b\\c\/d\b\f\n\r\t\u00e9\u20AC""#) == .string("a\"b\\c/d\u{8}\u{C}\n\r\té€"))
        #expect(try parse(#""\ud83d\ude00""#) == .string("😀"))
        #expect(try parse(" { \"a\" : [ 1 , -0 , true , null ] } ") == .object(["a": .array([.integer(1), .integer(0), .bool(true), .null])]))
        #expect(try parse("9223372036854775807") == .integer(.max))
        #expect(try parse("-9223372036854775808") == .integer(.min))
        let refused: [(String, String)] = [
            (#""\ud83d""#, "JSON at byte 7: a lone surrogate in a string"),
            (#""\ude00""#, "JSON at byte 7: a lone surrogate in a string"),
            (#""\ud83d\u0041""#, "JSON at byte 13: a lone surrogate in a string"),
            (#""\x""#, "JSON at byte 3: an unknown escape in a string"),
            ("\"a\nb\"", "JSON at byte 2: a control character in a string"),
            ("\"abc", "JSON at byte 4: an unterminated string"),
            (#"{"a":1,"a":2}"#, "JSON at byte 12: member \"a\" appears twice"),
            ("1.5", "JSON at byte 1: a number that is not an integer (canonical JSON has integers only)"),
            ("1e3", "JSON at byte 1: a number that is not an integer (canonical JSON has integers only)"),
            ("9223372036854775808", "JSON at byte 19: an integer out of range"),
            ("123456789012345678901234567890", "JSON at byte 30: an integer out of range"),
            ("01", "JSON at byte 2: a number with a leading zero"),
            ("-", "JSON at byte 1: expected digits"),
            ("[1,]", "JSON at byte 3: expected a value"),
            ("{\"a\":1,}", "JSON at byte 7: expected a member name"),
            ("{} {}", "JSON at byte 3: text after the JSON value"),
            ("NaN", "JSON at byte 0: expected a value"),
            ("tru", "JSON at byte 0: expected true"),
            ("", "JSON at byte 0: unexpected end"),
        ]
        for (text, message) in refused {
            #expect(throws: TrustError.malformed(message), "\(text)") { try parse(text) }
        }
        #expect(throws: TrustError.malformed("JSON at byte 2: a string that is not UTF-8")) {
            try TrustJSON.parse([0x22, 0xff, 0x22], limit: 10)
        }
        // Depth: 64 levels of nesting are read, 65 refused.
        let deep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect(try TrustJSON.parse(Array(deep.utf8), limit: 1000) != .null)
        #expect(throws: TrustError.malformed("JSON at byte 65: nested deeper than 64 levels")) {
            try TrustJSON.parse(Array(("[" + deep + "]").utf8), limit: 1000)
        }
        // A document far deeper than the stack would allow fails as cleanly.
        #expect(throws: TrustError.self) { try TrustJSON.parse([UInt8](repeating: UInt8(ascii: "["), count: 200_000), limit: 1 << 20) }
    }

    /// Canonical JSON as securesystemslib's `encode_canonical` writes it: keys by code point
    /// (a character beyond U+FFFF after U+FFFD, unlike UTF-16 order), only `"` and `\`
    /// escaped, control characters and non-ASCII raw.
    @Test func canonicalEqualsSecuresystemslibs() throws {
        let value: TrustJSON = .object([
            "b": .array([.integer(-1), .integer(0), .integer(Int64.max), .null, .bool(false)]),
            "a\u{FFFD}": .string("\u{10000}"), "a\u{10000}": .string("x"), "A": .string("\"\\\n\u{1}/é"),
            "": .object([:]), "é": .array([]),
        ])
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Through a file so that no shell or JSON library sees the value first.
        let file = "\(directory)/value.json"
        var compact: [UInt8] = []
        value.appendCanonical(to: &compact)
        try Data(MetadataCodec.file(signed: value, signatures: [], dialect: .tuf)).write(to: URL(fileURLWithPath: file))
        let output = try PythonTUF.run(script: """
            import sys, json, base64
            from securesystemslib.formats import encode_canonical
            value = json.load(open(sys.argv[1], "rb"))["signed"]
            print(base64.b64encode(encode_canonical(value).encode("utf-8")).decode())
            """, args: [file])
        #expect(TrustEncoding.bytes(base64: output.trimmingCharacters(in: .whitespacesAndNewlines)) == value.canonical)
        #expect(compact == value.canonical)
    }
}
