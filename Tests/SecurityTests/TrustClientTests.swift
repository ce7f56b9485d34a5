import Foundation
import Security
import Testing

/// The client workflow against collections made and signed here, one attack at a time:
/// each must be refused with its own message and leave the state store as it was.
@Suite struct TrustClientTests {
    static let now = TrustTime(seconds: 1_800_000_000)   // 2027-01-15
    static let day: Int64 = 86_400

    // MARK: A collection that verifies

    @Test(arguments: [TrustDialect.tuf, .notary])
    func verifiesTagsInTargetsAndDelegation(_ dialect: TrustDialect) throws {
        let repository = try TestCollection(dialect)
        // Signed once: ECDSA signatures differ each time, and the second run must see the same files.
        let source = MemorySource(files: try repository.files())
        try withState { state in
            let collection = try repository.client(state, source: source).update()
            let delegated = try collection.target("1.0")
            #expect(delegated.role == repository.releases)
            #expect(delegated.file == repository.manifest("1.0"))
            let top = try collection.target("latest")
            #expect(top.role == TopRole.targets)
            #expect(collection.allTargets().map(\.tag) == ["1.0", "latest"])
            #expect(Set(try state.roles()) == Set(TopRole.all + [repository.releases]))
            // A second run with nothing new on the server writes nothing.
            let before = try contents(of: state)
            _ = try repository.client(state, source: source).update()
            #expect(try contents(of: state) == before)
        }
    }

    @Test(arguments: [TrustDialect.tuf, .notary])
    func unsignedTag(_ dialect: TrustDialect) throws {
        let repository = try TestCollection(dialect)
        try withState { state in
            let collection = try repository.client(state).update()
            #expect(throws: TrustError.noTrustData("No valid trust data for 2.0")) { try collection.target("2.0") }
        }
    }

    @Test(arguments: [TrustDialect.tuf, .notary])
    func requiredSignerRoles(_ dialect: TrustDialect) throws {
        var repository = try TestCollection(dialect)
        let secops = dialect == .notary ? "targets/secops" : "secops"
        try repository.delegate(secops, to: [try TestSigner(repository.keyKind)], paths: [dialect == .notary ? "" : "*"])
        repository.targets[secops]!.targets["1.0"] = repository.manifest("1.0")
        repository.targets[secops]!.targets["2.0"] = repository.manifest("other")
        repository.targets[repository.releases]!.targets["2.0"] = repository.manifest("2.0")
        try withState { state in
            let collection = try repository.client(state).update()
            #expect(try collection.target("1.0", requiredRoles: [secops]).role == repository.releases)
            #expect(throws: TrustError.noTrustData("No valid trust data for latest signed by \(secops)")) {
                try collection.target("latest", requiredRoles: [secops])
            }
            #expect(throws: TrustError.self) { try collection.target("2.0", requiredRoles: [secops]) }
        }
    }

    /// A delegation signs only the paths it is given: TUF's patterns, Notary's prefixes.
    @Test(arguments: [TrustDialect.tuf, .notary])
    func delegationPaths(_ dialect: TrustDialect) throws {
        var repository = try TestCollection(dialect)
        try repository.delegate(repository.releases, to: repository.roleSigners[repository.releases]!,
                                paths: [dialect == .tuf ? "1.*" : "1."], keepTargets: true)
        repository.targets[repository.releases]!.targets["2.0"] = repository.manifest("2.0")
        try withState { state in
            let collection = try repository.client(state).update()
            #expect(try collection.target("1.0").role == repository.releases)
            #expect(throws: TrustError.noTrustData("No valid trust data for 2.0")) { try collection.target("2.0") }
            #expect(collection.allTargets().map(\.tag) == ["1.0", "latest"])
        }
    }

    /// TUF: a terminating delegation that covers the tag ends the search, even without it.
    @Test func terminatingDelegation() throws {
        var repository = try TestCollection(.tuf)
        var top = repository.targets[TopRole.targets]!
        top.delegations[0].terminating = true
        repository.targets[TopRole.targets] = top
        try repository.delegate("secops", to: [try TestSigner(repository.keyKind)], paths: ["*"])
        repository.targets["secops"]!.targets["3.0"] = repository.manifest("3.0")
        try withState { state in
            let collection = try repository.client(state).update()
            #expect(throws: TrustError.noTrustData("No valid trust data for 3.0")) { try collection.target("3.0") }
        }
        repository.targets[TopRole.targets]!.delegations[0].terminating = false
        try withState { state throws in
            #expect(try repository.client(state).update().target("3.0").role == "secops")
        }
    }

    // MARK: Attacks

    /// The targets file changed after it was signed; in Notary the server, which holds the
    /// snapshot and timestamp keys, signs a snapshot over it.
    @Test(arguments: [TrustDialect.tuf, .notary])
    func tamperedTargets(_ dialect: TrustDialect) throws {
        var repository = try TestCollection(dialect)
        repository.tamper[TopRole.targets] = { $0.targets["latest"] = TestCollection.manifestFile("evil") }
        try expectRefused(repository, .signature("valid signatures did not meet threshold for targets"))
    }

    @Test(arguments: [TrustDialect.tuf, .notary], [TopRole.timestamp, TopRole.snapshot, TopRole.targets, TopRole.root])
    func expired(_ dialect: TrustDialect, _ role: RoleName) throws {
        var repository = try TestCollection(dialect)
        let expiry = TrustTime(seconds: Self.now.seconds - Self.day)
        repository.expires[role] = expiry
        if role == TopRole.root { try repository.signRoot() }
        try expectRefused(repository, .expired("\(role) expired at \(expiry.rfc3339(dialect: dialect))"))
    }

    @Test(arguments: [TrustDialect.tuf, .notary])
    func expiredDelegation(_ dialect: TrustDialect) throws {
        var repository = try TestCollection(dialect)
        let expiry = TrustTime(seconds: Self.now.seconds - Self.day)
        repository.expires[repository.releases] = expiry
        try withState { state in
            let collection = try repository.client(state).update()
            #expect(throws: TrustError.expired("\(repository.releases) expired at \(expiry.rfc3339(dialect: dialect))")) {
                try collection.target("1.0")
            }
            #expect(try state.load(repository.releases, limit: 1 << 20) == nil)
        }
    }

    /// A server that keeps serving the files of a day that has passed: the timestamp's
    /// expiry is the only thing that can tell, and it does.
    @Test(arguments: [TrustDialect.tuf, .notary])
    func frozenTimestamp(_ dialect: TrustDialect) throws {
        let repository = try TestCollection(dialect)
        try withState { state in
            _ = try repository.client(state).update()
            let later = TrustTime(seconds: Self.now.seconds + 15 * Self.day)
            let before = try contents(of: state)
            let expiry = repository.expires[TopRole.timestamp]!
            #expect(throws: TrustError.expired("timestamp expired at \(expiry.rfc3339(dialect: dialect))")) {
                try repository.client(state, now: later).update()
            }
            #expect(try contents(of: state) == before)
        }
    }

    /// Each role served at an older version than the last run trusted: the newer
    /// collection is verified first, then the older files are offered, validly signed.
    @Test(arguments: [TrustDialect.tuf, .notary], [TopRole.timestamp, TopRole.snapshot, TopRole.targets, "releases"])
    func rollback(_ dialect: TrustDialect, _ role: RoleName) throws {
        var repository = try TestCollection(dialect)
        let role = role == "releases" ? repository.releases : role
        let old = try repository.files()
        repository.bumpAll()
        let new = try repository.files()
        try withState { state in
            _ = try repository.client(state).update()
            var files = new
            switch role {
            case TopRole.timestamp:
                files = new.merging(old.filter { $0.key.hasSuffix("timestamp") }) { $1 }
            case TopRole.snapshot:
                // Old snapshot under a newer timestamp (the Notary server holds that key).
                repository.versions[TopRole.timestamp]! += 1
                files = try repository.files(snapshotFrom: old)
            default:
                repository.versions[TopRole.timestamp]! += 1
                repository.versions[TopRole.snapshot]! += 1
                files = try repository.files(roleFrom: old, role)
            }
            // The TUF timestamp names the snapshot's version, so an older snapshot is already
            // caught there; the message is the same.
            let message = "\(role): version 1 is lower than current version 2"
            let before = try contents(of: state)
            #expect(throws: TrustError.rollback(message)) {
                try repository.client(state, source: MemorySource(files: files)).update()
            }
            #expect(try contents(of: state) == before)
        }
    }

    @Test func notaryRootRollback() throws {
        var repository = try TestCollection(.notary)
        let first = try repository.files()
        repository.versions[TopRole.root] = 2
        try repository.signRoot()
        try withState { state in
            _ = try repository.client(state).update()
            let before = try contents(of: state)
            #expect(throws: TrustError.rollback("root: version 1 is lower than current version 2")) {
                try repository.client(state, source: MemorySource(files: first)).update()
            }
            #expect(try contents(of: state) == before)
        }
    }

    /// Notary's root key is a certificate: once it has expired, nothing it signed counts.
    @Test func notaryRootCertificateExpired() throws {
        var repository = try TestCollection(.notary)
        let key = try PrivateKey.generate(.ecdsa)
        let notAfter = TrustTime(seconds: Self.now.seconds - Self.day)
        repository.rootSigners = [TestSigner(key: key, publicKey: try key.selfSignedCertificate(commonName: repository.gun, notAfter: notAfter))]
        try repository.signRoot()
        let id = repository.rootSigners[0].id(.notary)
        do {
            try withState { state in try repository.client(state).update() }
            Issue.record("a root with an expired certificate accepted")
        } catch let error as TrustError {
            #expect(error == .key("root: the certificate of key \(id) expired at \(notAfter.rfc3339(dialect: .notary))"))
        }
    }

    @Test(arguments: [TrustDialect.tuf, .notary])
    func thresholdTwoSignedByOne(_ dialect: TrustDialect) throws {
        var repository = try TestCollection(dialect)
        let second = try TestSigner(repository.keyKind)
        repository.roleSigners[TopRole.targets]!.append(second)
        repository.thresholds[TopRole.targets] = 2
        try repository.signRoot()
        repository.signingOverride[TopRole.targets] = [repository.roleSigners[TopRole.targets]![0]]
        try expectRefused(repository, .signature("valid signatures did not meet threshold for targets"))
    }

    @Test(arguments: [TrustDialect.tuf, .notary])
    func signatureByUnlistedKey(_ dialect: TrustDialect) throws {
        var repository = try TestCollection(dialect)
        repository.signingOverride[TopRole.timestamp] = [try TestSigner(repository.keyKind)]
        try expectRefused(repository, .signature("valid signatures did not meet threshold for timestamp"))
    }

    @Test(arguments: [TrustDialect.tuf, .notary])
    func delegationSignedByNonDelegatedKey(_ dialect: TrustDialect) throws {
        var repository = try TestCollection(dialect)
        repository.signingOverride[repository.releases] = [try TestSigner(repository.keyKind)]
        try withState { state in
            let collection = try repository.client(state).update()
            #expect(throws: TrustError.signature("valid signatures did not meet threshold for \(repository.releases)")) {
                try collection.target("1.0")
            }
            #expect(try state.load(repository.releases, limit: 1 << 20) == nil)
            #expect(try collection.target("latest").role == TopRole.targets)
        }
    }

    /// TUF role names are flat: a signer delegated only `b-*` delegates `releases` again,
    /// to a key of its own, and signs `1.0` there. The file was checked with that key, so a
    /// lookup through targets' own delegation to `releases` must not take it.
    @Test func delegationReachedThroughAnotherDelegator() throws {
        var repository = try TestCollection(.tuf)
        let b = try TestSigner(repository.keyKind), intruder = try TestSigner(repository.keyKind)
        try repository.delegate("b", to: [b], paths: ["b-*"])
        // targets delegates b first, then releases.
        try repository.delegate(repository.releases, to: repository.roleSigners[repository.releases]!, paths: ["*"], keepTargets: true)
        repository.targets["b"]!.delegationKeys[intruder.id(.tuf)] = intruder.publicKey
        repository.targets["b"]!.delegations = [Delegation(name: repository.releases, keys: RoleKeys(keyIDs: [intruder.id(.tuf)], threshold: 1), paths: ["*"])]
        repository.signingOverride[repository.releases] = [intruder]
        repository.targets[repository.releases]!.targets["1.0"] = repository.manifest("intruder's")
        try withState { state in
            let collection = try repository.client(state).update()
            #expect(throws: TrustError.signature("valid signatures did not meet threshold for releases: it was checked with the keys b delegates to it, not those of targets")) {
                try collection.target("1.0")
            }
            #expect(collection.allTargets().allSatisfy { $0.file != repository.manifest("intruder's") })
        }
    }

    /// A stored root that no longer decodes is not a reason to trust the server's afresh.
    @Test func undecodableStoredRootIsNotTrustOnFirstUse() throws {
        let repository = try TestCollection(.tuf)
        try withState { state in
            _ = try repository.client(state).update()
            try state.save([TopRole.root: Array("{\"signed\": ".utf8)], removing: [])
            let error = #expect(throws: TrustError.self) { try repository.client(state).update() }
            #expect(error?.description.contains("\(repository.gun): the trusted root in ") == true, "\(String(describing: error))")
            #expect(error?.description.hasSuffix("root.json does not decode; remove it to trust the server's root anew") == true, "\(String(describing: error))")
        }
    }

    /// `trust signer remove`: the signer's key leaves the delegation; what it signed
    /// before no longer counts.
    @Test(arguments: [TrustDialect.tuf, .notary])
    func revokedSigner(_ dialect: TrustDialect) throws {
        var repository = try TestCollection(dialect)
        try withState { state in
            _ = try repository.client(state).update().target("1.0")
            let stored = try state.load(repository.releases, limit: 1 << 20)
            let signer = repository.roleSigners[repository.releases]![0]
            repository.signingOverride[repository.releases] = [signer]
            try repository.delegate(repository.releases, to: [try TestSigner(repository.keyKind)], paths: nil, keepTargets: true)
            repository.versions[TopRole.targets]! += 1
            repository.versions[TopRole.snapshot]! += 1
            repository.versions[TopRole.timestamp]! += 1
            let collection = try repository.client(state).update()
            #expect(throws: TrustError.signature("valid signatures did not meet threshold for \(repository.releases)")) {
                try collection.target("1.0")
            }
            #expect(try state.load(repository.releases, limit: 1 << 20) == stored)
        }
    }

    /// Targets from another version of the collection than snapshot names.
    @Test(arguments: [TrustDialect.tuf, .notary])
    func mixAndMatch(_ dialect: TrustDialect) throws {
        var repository = try TestCollection(dialect)
        let old = try repository.files()
        repository.bumpAll()
        repository.targets[TopRole.targets]!.targets["latest"] = repository.manifest("newer")
        var files = try repository.files()
        // The old targets where the new one should be, under the new one's name (in TUF its
        // consistent-snapshot name, 2.targets.json).
        files[TopRole.targets] = old[TopRole.targets]
        files["2.\(TopRole.targets)"] = old[TopRole.targets]
        try withState { state in
            let before = try contents(of: state)
            do {
                _ = try repository.client(state, source: MemorySource(files: files)).update()
                Issue.record("mix and match accepted")
            } catch let error as TrustError {
                // TUF names the version, Notary the length and hashes.
                if dialect == .tuf {
                    #expect(error == .mismatch("targets: version 1 does not match version 2 in snapshot"))
                } else if case .mismatch(let line) = error {
                    #expect(line.hasPrefix("targets: ") && line.hasSuffix(" in snapshot"))
                } else {
                    Issue.record("expected a mismatch, got \(error)")
                }
            }
            #expect(try contents(of: state) == before)
        }
    }

    /// A server that sends without end: each file is cut at its size limit.
    @Test(arguments: [TrustDialect.tuf, .notary], [TopRole.root, TopRole.timestamp, TopRole.snapshot, TopRole.targets])
    func endlessMetadata(_ dialect: TrustDialect, _ role: RoleName) throws {
        let repository = try TestCollection(dialect)
        try withState { state in
            let source = EndlessSource(inner: MemorySource(files: try repository.files()), role: role)
            do {
                _ = try repository.client(state, source: source).update()
                Issue.record("endless \(role) accepted")
            } catch let error as TrustError {
                // A snapshot or targets whose length the role above gives is refused at
                // that length, as a mismatch; otherwise at the role's size limit.
                switch error {
                case .malformed(let line): #expect(line.contains("more than"))
                case .mismatch(let line): #expect(line.hasPrefix("\(role):"))
                default: Issue.record("unexpected \(error)")
                }
            }
            #expect(try contents(of: state).isEmpty)
        }
    }

    /// Role names come from the server: none may lead out of the collection's directory.
    @Test func stateStoreRefusesPathsOutOfItsDirectory() throws {
        try withState { state throws in
            for role in ["targets/../../../etc/x", "targets//a", ".."] {
                #expect(throws: TrustError.self) { try state.save([role: [1]]) }
                #expect(throws: TrustError.self) { try state.load(role, limit: 10) }
            }
            #expect(try contents(of: state).isEmpty)
        }
    }

    // MARK: Root rotation

    @Test(arguments: [TrustDialect.tuf, .notary])
    func rootRotationSignedByOldAndNew(_ dialect: TrustDialect) throws {
        var repository = try TestCollection(dialect)
        try withState { state in
            _ = try repository.client(state).update()
            let old = repository.rootSigners
            repository.rootSigners = [try TestSigner.root(repository)]
            repository.versions[TopRole.root] = 2
            try repository.signRoot(by: old + repository.rootSigners)
            let collection = try repository.client(state).update()
            #expect(collection.root.signed.version == 2)
            let stored = try #require(try state.load(TopRole.root, limit: 1 << 20))
            #expect(try MetadataCodec.decode(stored, role: TopRole.root, dialect: dialect).signed.version == 2)
        }
    }

    @Test(arguments: [TrustDialect.tuf, .notary])
    func rootRotationSignedByNewOnly(_ dialect: TrustDialect) throws {
        var repository = try TestCollection(dialect)
        try withState { state in
            _ = try repository.client(state).update()
            repository.rootSigners = [try TestSigner.root(repository)]
            repository.versions[TopRole.root] = 2
            try repository.signRoot()
            let before = try contents(of: state)
            #expect(throws: TrustError.signature("valid signatures did not meet threshold for root: version 2 is not signed by the keys of version 1")) {
                try repository.client(state).update()
            }
            #expect(try contents(of: state) == before)
        }
    }

    /// New timestamp keys after a compromise: the old timestamp's higher version must not
    /// lock the client out (§5.3.11).
    @Test func fastForwardRecovery() throws {
        var repository = try TestCollection(.tuf)
        repository.versions[TopRole.timestamp] = 50
        try withState { state in
            _ = try repository.client(state).update()
            repository.roleSigners[TopRole.timestamp] = [try TestSigner(repository.keyKind)]
            repository.versions[TopRole.root] = 2
            try repository.signRoot()
            repository.versions[TopRole.timestamp] = 1
            let collection = try repository.client(state).update()
            #expect(collection.timestamp.signed.version == 1)
        }
    }

    /// Pinning by key ID (config.json's trust-pinning): a root that lists the pinned key
    /// beside another, threshold 1, signed by the other alone, is refused and not stored.
    @Test(arguments: [TrustDialect.tuf, .notary])
    func pinnedRootKeyMustSign(_ dialect: TrustDialect) throws {
        var repository = try TestCollection(dialect)
        let pinned = repository.rootSigners[0]
        let intruder = try TestSigner.root(repository)
        repository.rootSigners = [pinned, intruder]
        try repository.signRoot(by: [intruder])
        let source = MemorySource(files: try repository.files())
        let message = "\(repository.gun): the root is not signed with a pinned root key (\(pinned.id(dialect).prefix(12)))"
        try withState { state throws in
            let client = TrustClient(gun: repository.gun, dialect: dialect, source: source, state: state, now: Self.now,
                                     pinnedRootKeyIDs: [pinned.id(dialect)])
            #expect(throws: TrustError.signature(message)) { try client.update() }
            #expect(try contents(of: state).isEmpty)
        }
        try repository.signRoot(by: [pinned])
        try withState { state in
            let client = TrustClient(gun: repository.gun, dialect: dialect, source: MemorySource(files: try repository.files()), state: state,
                                     now: Self.now, pinnedRootKeyIDs: [pinned.id(dialect)])
            #expect(try client.update().target("latest").role == TopRole.targets)
        }
    }

    @Test func pinnedRootRefusesAnotherCollection() throws {
        let repository = try TestCollection(.tuf)
        let other = try TestCollection(.tuf)
        try withState { state in
            let pin = try #require(try other.files()["1.root"])
            #expect(throws: TrustError.signature("valid signatures did not meet threshold for root: version 2 is not signed by the keys of version 1")) {
                var rotated = repository
                rotated.versions[TopRole.root] = 2
                try rotated.signRoot()
                _ = try TrustClient(gun: rotated.gun, dialect: .tuf, source: MemorySource(files: try rotated.files()), state: state,
                                    now: Self.now, trustedRoot: pin).update()
            }
        }
    }

    // MARK: Measure

    /// The whole update and a lookup in a delegation, from a warm state (the usual run) and
    /// from nothing (trust on first use). Printed, not asserted; the target is 5 ms.
    @Test(arguments: [TrustDialect.tuf, .notary])
    func measureUpdateAndLookup(_ dialect: TrustDialect) throws {
        let repository = try TestCollection(dialect)
        let source = MemorySource(files: try repository.files())
        try withState { state in
            let client = TrustClient(gun: repository.gun, dialect: dialect, source: source, state: state, now: Self.now)
            _ = try client.update().target("1.0")
            let rounds = 200
            let clock = ContinuousClock()
            let cpuBefore = threadCPUMicroseconds()
            let warm = try clock.measure {
                for _ in 0..<rounds { _ = try client.update().target("1.0") }
            }
            // CPU time of this thread too: on a shared, loaded machine the wall clock mostly
            // measures waiting for a core.
            let cpu = (threadCPUMicroseconds() - cpuBefore) / rounds
            print("trust client \(dialect): update + lookup (one delegation, stored state): \(microseconds(warm) / rounds) µs (\(cpu) µs CPU)")
        }
        var total = Duration.zero
        for _ in 0..<20 {
            try withState { state in
                let client = TrustClient(gun: repository.gun, dialect: dialect, source: source, state: state, now: Self.now)
                total += try ContinuousClock().measure { _ = try client.update().target("1.0") }
            }
        }
        print("trust client \(dialect): update + lookup (one delegation, first use): \(microseconds(total) / 20) µs")
    }

    // MARK: Helpers

    /// Verifies `repository` from an empty state, expects `error`, and that nothing was stored.
    func expectRefused(_ repository: TestCollection, _ expected: TrustError) throws {
        try withState { state throws in
            #expect(throws: expected) { try repository.client(state).update() }
            #expect(try contents(of: state).isEmpty)
        }
    }
}

func threadCPUMicroseconds() -> Int {
    var time = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
    return time.tv_sec * 1_000_000 + time.tv_nsec / 1_000
}

func microseconds(_ duration: Duration) -> Int {
    Int(duration.components.seconds * 1_000_000 + duration.components.attoseconds / 1_000_000_000_000)
}

/// A fresh trust directory for one test, removed whatever happens.
@discardableResult
func withState<Value>(_ body: (TrustStateStore) throws -> Value) throws -> Value {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("netctl-trust-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: directory) }
    return try body(TrustStateStore(directory: directory, gun: "127.0.0.1:5000/team/app"))
}

/// Every stored file, by path.
func contents(of state: TrustStateStore) throws -> [String: Data] {
    var files: [String: Data] = [:]
    guard let walker = FileManager.default.enumerator(atPath: state.directory) else { return files }
    for case let path as String in walker {
        var isDirectory: ObjCBool = false
        let full = "\(state.directory)/\(path)"
        if FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory), !isDirectory.boolValue {
            files[path] = try Data(contentsOf: URL(fileURLWithPath: full))
        }
    }
    return files
}

/// Files by name: `root`, `2.root`, `targets/releases`, `3.releases`.
struct MemorySource: TrustSource {
    var files: [String: [UInt8]]
    func fetch(role: RoleName, version: Int?, limit: Int) throws(TrustError) -> [UInt8]? {
        guard let file = files[version.map { "\($0).\(role)" } ?? role] else { return nil }
        return Array(file.prefix(limit + 1))
    }
}

/// A server that answers one role with bytes that never end (read up to the limit, as a
/// real source stops reading there).
struct EndlessSource: TrustSource {
    var inner: MemorySource
    var role: RoleName
    func fetch(role: RoleName, version: Int?, limit: Int) throws(TrustError) -> [UInt8]? {
        guard role == self.role else { return try inner.fetch(role: role, version: version, limit: limit) }
        return [UInt8](repeating: UInt8(ascii: " "), count: limit + 1)
    }
}

/// A key and the public key that metadata lists for it (a certificate for Notary's root).
struct TestSigner {
    var key: PrivateKey
    var publicKey: PublicKey

    init(_ kind: PublicKey.Kind) throws {
        key = try PrivateKey.generate(kind)
        publicKey = key.publicKey
    }

    init(key: PrivateKey, publicKey: PublicKey) {
        self.key = key
        self.publicKey = publicKey
    }

    static func root(_ collection: TestCollection) throws -> TestSigner {
        guard collection.dialect == .notary else { return try TestSigner(collection.keyKind) }
        let key = try PrivateKey.generate(.ecdsa)
        let certificate = try key.selfSignedCertificate(commonName: collection.gun,
                                                        notAfter: TrustTime(seconds: TrustClientTests.now.seconds + 3650 * TrustClientTests.day))
        return TestSigner(key: key, publicKey: certificate)
    }

    func id(_ dialect: TrustDialect) -> String { publicKey.keyID(dialect: dialect) }
}

/// A small signing side for the tests: a collection with a root, the three other top-level
/// roles, and one delegation (`releases` / `targets/releases`) holding `1.0`, while
/// targets holds `latest`. Versions, expiries and signers can be set per role; `files()`
/// signs and lays it all out as a server serves it.
struct TestCollection {
    var dialect: TrustDialect
    var gun = "127.0.0.1:5000/team/app"
    var keyKind: PublicKey.Kind
    var rootSigners: [TestSigner] = []
    var roleSigners: [RoleName: [TestSigner]] = [:]
    var thresholds: [RoleName: Int] = [:]
    var versions: [RoleName: Int] = [:]
    var expires: [RoleName: TrustTime] = [:]
    var targets: [RoleName: TargetsMetadata] = [:]
    /// Signs a role with these instead of its listed keys.
    var signingOverride: [RoleName: [TestSigner]] = [:]
    /// Changes a targets role after it is signed.
    var tamper: [RoleName: (inout TargetsMetadata) -> Void] = [:]
    /// Every root version signed so far.
    var roots: [Int: [UInt8]] = [:]

    var releases: RoleName { dialect == .notary ? "targets/releases" : "releases" }

    init(_ dialect: TrustDialect) throws {
        self.dialect = dialect
        keyKind = dialect == .notary ? .ecdsa : .ed25519
        let now = TrustClientTests.now.seconds, day = TrustClientTests.day
        expires = [TopRole.root: TrustTime(seconds: now + 3650 * day), TopRole.targets: TrustTime(seconds: now + 1095 * day),
                   TopRole.snapshot: TrustTime(seconds: now + 1095 * day), TopRole.timestamp: TrustTime(seconds: now + 14 * day)]
        for role in TopRole.all { versions[role] = 1 }
        rootSigners = [try TestSigner.root(self)]
        for role in [TopRole.targets, TopRole.snapshot, TopRole.timestamp] { roleSigners[role] = [try TestSigner(keyKind)] }
        try signRoot()
        targets[TopRole.targets] = TargetsMetadata(version: 1, expires: expires[TopRole.targets]!, targets: ["latest": manifest("latest")])
        try delegate(releases, to: [try TestSigner(keyKind)], paths: [dialect == .notary ? "" : "*"])
        targets[releases]!.targets["1.0"] = manifest("1.0")
    }

    static func manifestFile(_ text: String) -> TargetFile {
        let bytes = Array("{\"manifest\": \"\(text)\"}".utf8)
        return TargetFile(length: Int64(bytes.count), hashes: ["sha256": TrustDigest.sha256(bytes)])
    }
    func manifest(_ text: String) -> TargetFile { Self.manifestFile(text) }

    /// Adds (or re-keys) a delegation of targets.
    mutating func delegate(_ name: RoleName, to signers: [TestSigner], paths: [String]?, keepTargets: Bool = false) throws {
        var top = targets[TopRole.targets]!
        let ids = signers.map { $0.id(dialect) }
        for signer in signers { top.delegationKeys[signer.id(dialect)] = signer.publicKey }
        let old = top.delegations.first { $0.name == name }
        let delegation = Delegation(name: name, keys: RoleKeys(keyIDs: ids, threshold: 1), paths: paths ?? old?.paths)
        top.delegations.removeAll { $0.name == name }
        top.delegations.append(delegation)
        targets[TopRole.targets] = top
        roleSigners[name] = signers
        if targets[name] == nil || !keepTargets {
            versions[name] = versions[name] ?? 1
            expires[name] = expires[name] ?? expires[TopRole.targets]!
            targets[name] = TargetsMetadata(version: 1, expires: expires[name]!)
        }
    }

    mutating func bumpAll() {
        for role in versions.keys where role != TopRole.root { versions[role]! += 1 }
    }

    /// Signs the root of `versions[root]` with the current keys, by `signers` (default: its own keys).
    mutating func signRoot(by signers: [TestSigner]? = nil) throws {
        var keys: [String: PublicKey] = [:]
        var roles: [RoleName: RoleKeys] = [:]
        for signer in rootSigners { keys[signer.id(dialect)] = signer.publicKey }
        roles[TopRole.root] = RoleKeys(keyIDs: rootSigners.map { $0.id(dialect) }, threshold: 1)
        for role in [TopRole.targets, TopRole.snapshot, TopRole.timestamp] {
            for signer in roleSigners[role]! { keys[signer.id(dialect)] = signer.publicKey }
            roles[role] = RoleKeys(keyIDs: roleSigners[role]!.map { $0.id(dialect) }, threshold: thresholds[role] ?? 1)
        }
        let version = versions[TopRole.root]!
        let root = RootMetadata(version: version, expires: expires[TopRole.root]!, consistentSnapshot: dialect == .tuf, keys: keys, roles: roles)
        roots[version] = try sign(.root(root), role: TopRole.root, by: signers ?? rootSigners)
    }

    func sign(_ part: SignedPart, role: RoleName, by signers: [TestSigner]) throws -> [UInt8] {
        let signed = MetadataCodec.signedJSON(part, dialect: dialect)
        let bytes = signed.canonical
        let signatures = try signers.map { signer in
            TrustSignature(keyID: signer.id(dialect), method: dialect == .notary ? signer.key.kind.notaryMethod : nil,
                           bytes: try signer.key.sign(bytes, dialect: dialect))
        }
        return MetadataCodec.file(signed: signed, signatures: signatures, dialect: dialect)
    }

    func meta(_ bytes: [UInt8], version: Int) -> MetaFile {
        dialect == .tuf
            ? MetaFile(version: version)
            : MetaFile(version: nil, length: Int64(bytes.count), hashes: ["sha256": TrustDigest.sha256(bytes), "sha512": TrustDigest.sha512(bytes)])
    }

    func client(_ state: TrustStateStore, now: TrustTime = TrustClientTests.now, source: (any TrustSource)? = nil) throws -> TrustClient {
        TrustClient(gun: gun, dialect: dialect, source: try source ?? MemorySource(files: try files()), state: state, now: now)
    }

    /// Every file as the server holds it: `root` (latest) and `N.root`, and for the others
    /// both `R` and `N.R`.
    func files() throws -> [String: [UInt8]] {
        var files: [String: [UInt8]] = [:]
        for (version, bytes) in roots { files["\(version).root"] = bytes }
        files[TopRole.root] = roots[roots.keys.max()!]
        var snapshotMeta: [RoleName: MetaFile] = [:]
        for (role, metadata) in targets {
            var metadata = metadata
            metadata.version = versions[role]!
            metadata.expires = expires[role]!
            var bytes = try sign(.targets(metadata), role: role, by: signingOverride[role] ?? roleSigners[role]!)
            if let change = tamper[role] {
                let file = try MetadataCodec.decode(bytes, role: role, dialect: dialect)
                change(&metadata)
                bytes = MetadataCodec.file(signed: MetadataCodec.signedJSON(.targets(metadata), dialect: dialect),
                                           signatures: file.signatures, dialect: dialect)
            }
            files[role] = bytes
            files["\(metadata.version).\(role)"] = bytes
            snapshotMeta[role] = meta(bytes, version: metadata.version)
        }
        if dialect == .notary { snapshotMeta[TopRole.root] = meta(files[TopRole.root]!, version: versions[TopRole.root]!) }
        return try addSnapshot(SnapshotMetadata(version: versions[TopRole.snapshot]!, expires: expires[TopRole.snapshot]!, meta: snapshotMeta), to: files)
    }

    /// The current files, with `old`'s snapshot under a newly signed timestamp.
    func files(snapshotFrom old: [String: [UInt8]]) throws -> [String: [UInt8]] {
        var files = try self.files()
        let snapshot = old[TopRole.snapshot]!
        let version = try MetadataCodec.decode(snapshot, role: TopRole.snapshot, dialect: dialect).signed.version
        files[TopRole.snapshot] = snapshot
        files["\(version).snapshot"] = snapshot
        return try addTimestamp(snapshot: snapshot, version: version, to: files)
    }

    /// The current files, with `old`'s file of a targets role under a snapshot and timestamp signed anew.
    func files(roleFrom old: [String: [UInt8]], _ role: RoleName) throws -> [String: [UInt8]] {
        var files = try self.files()
        let bytes = old[role]!
        files[role] = bytes
        let current = try MetadataCodec.decode(files[TopRole.snapshot]!, role: TopRole.snapshot, dialect: dialect)
        guard case .snapshot(var snapshot) = current.signed else { throw TrustError.malformed("snapshot") }
        snapshot.meta[role] = meta(bytes, version: try MetadataCodec.decode(bytes, role: role, dialect: dialect).signed.version)
        files["\(snapshot.meta[role]!.version ?? 0).\(role)"] = bytes
        return try addSnapshot(snapshot, to: files)
    }

    private func addSnapshot(_ snapshot: SnapshotMetadata, to files: [String: [UInt8]]) throws -> [String: [UInt8]] {
        var files = files
        let bytes = try sign(.snapshot(snapshot), role: TopRole.snapshot, by: signingOverride[TopRole.snapshot] ?? roleSigners[TopRole.snapshot]!)
        files[TopRole.snapshot] = bytes
        files["\(snapshot.version).snapshot"] = bytes
        return try addTimestamp(snapshot: bytes, version: snapshot.version, to: files)
    }

    private func addTimestamp(snapshot: [UInt8], version: Int, to files: [String: [UInt8]]) throws -> [String: [UInt8]] {
        var files = files
        let timestamp = TimestampMetadata(version: versions[TopRole.timestamp]!, expires: expires[TopRole.timestamp]!,
                                          meta: [TopRole.snapshot: meta(snapshot, version: version)])
        files[TopRole.timestamp] = try sign(.timestamp(timestamp), role: TopRole.timestamp,
                                            by: signingOverride[TopRole.timestamp] ?? roleSigners[TopRole.timestamp]!)
        return files
    }
}
