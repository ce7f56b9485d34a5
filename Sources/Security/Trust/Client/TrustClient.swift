/// Verifies one trust collection the way the TUF specification's "Detailed client
/// workflow" (§5) does, for both dialects: the root chain, then timestamp, snapshot,
/// targets and every delegation, each checked for its signers' threshold, expiry, rollback
/// against what was trusted last time, and the hashes, lengths and versions the role above
/// it gives. Only when all of that holds is anything written to the state store.
///
/// Notary's client (`client/tufclient.go`) differs in a few places, followed here for the
/// Notary dialect: the server serves the latest `root.json` (the versions in between are
/// fetched to check the chain), files are pinned by hashes rather than versions, and a
/// delegation that is expired or under its threshold is set aside rather than failing the
/// whole collection (`TrustedCollection.target` reports it when a lookup reaches it).
public struct TrustClient: Sendable {
    public let gun: String
    public let dialect: TrustDialect
    public let source: any TrustSource
    public let state: TrustStateStore
    /// The update's start: everything is checked for expiry against this one time (§5.1).
    public let now: TrustTime
    public let trustedRoot: [UInt8]?
    /// Trust pinning by key (Docker's `trust-pinning` `root-keys`): the root must carry a
    /// valid signature by one of these key IDs, checked before anything is saved, so that
    /// a root that fails it is never trusted on first use (and what was stored is removed).
    public let pinnedRootKeyIDs: [String]?

    /// python-tuf's bound on the root versions one update walks through.
    public static let maximumRootRotations = 256
    /// How deep delegations are followed (python-tuf's `max_delegations`).
    public static let maximumDelegationDepth = 32

    public init(gun: String, dialect: TrustDialect, source: any TrustSource, state: TrustStateStore,
                now: TrustTime, trustedRoot: [UInt8]? = nil /* pin; else the stored root; else trust on first use */,
                pinnedRootKeyIDs: [String]? = nil) {
        self.gun = gun
        self.dialect = dialect
        self.source = source
        self.state = state
        self.now = now
        self.trustedRoot = trustedRoot
        self.pinnedRootKeyIDs = pinnedRootKeyIDs
    }

    /// The TUF client workflow (spec §5 "Detailed client workflow"): root chain, timestamp,
    /// snapshot, targets, each checked for signatures/threshold, expiry, rollback, hashes,
    /// lengths; saves what it trusted.
    public func update() throws(TrustError) -> TrustedCollection {
        let stored = try StoredFiles(state: state, dialect: dialect)
        let root = try updateRoot(stored: stored)
        if let pinnedRootKeyIDs {
            do throws(TrustError) {
                try checkPinned(root, keyIDs: pinnedRootKeyIDs)
            } catch {
                // Nothing of a collection whose root the pins refuse stays trusted here.
                if !stored.bytes.isEmpty { try? state.save([:], removing: stored.bytes.keys.sorted()) }
                throw error
            }
        }
        let timestamp = try updateTimestamp(root: root, stored: stored)
        let snapshot = try updateSnapshot(root: root, timestamp: timestamp, stored: stored)
        let (targets, unverified, delegators) = try updateTargets(root: root, snapshot: snapshot, stored: stored)

        var changed: [RoleName: [UInt8]] = [:]
        for file in [root, timestamp, snapshot] + targets.values where stored.bytes[file.role] != file.fileBytes {
            changed[file.role] = file.fileBytes
        }
        // Delegations no longer delegated: forget them, so that a role of the same name made
        // again later starts from version 1 without looking like a rollback.
        let gone = stored.bytes.keys.sorted().filter {
            !TopRole.all.contains($0) && targets[$0] == nil && unverified[$0] == nil
        }
        if !changed.isEmpty || !gone.isEmpty { try state.save(changed, removing: gone) }
        return TrustedCollection(root: root, timestamp: timestamp, snapshot: snapshot, targets: targets, unverifiedRoles: unverified,
                                 delegators: delegators)
    }

    // MARK: Root (§5.2, §5.3)

    private func updateRoot(stored: StoredFiles) throws(TrustError) -> SignedMetadata {
        let limit = Self.limit(TopRole.root)
        var trusted: SignedMetadata
        var latestFetched = false
        if let pin = trustedRoot {
            trusted = try decode(pin, role: TopRole.root)
            try checkSelfSigned(trusted)
        } else if let root = stored.metadata(TopRole.root) {
            trusted = root
        } else if stored.bytes[TopRole.root] != nil {
            // Trusting the server's root afresh would undo the pinning that trust on first
            // use gave: the user decides.
            throw .storage("\(gun): the trusted root in \(try state.path(of: TopRole.root)) does not decode; remove it to trust the server's root anew")
        } else {
            // Trust on first use: a root that its own keys sign. TUF starts from version 1
            // and walks the chain from there, so that the latest is vouched for by each before.
            guard let bytes = try fetch(TopRole.root, version: dialect == .tuf ? 1 : nil, limit: limit) else {
                throw .noTrustData("remote trust data does not exist for \(gun)")
            }
            trusted = try decode(bytes, role: TopRole.root)
            try checkSelfSigned(trusted)
            latestFetched = dialect == .notary
        }
        let first = trusted

        switch dialect {
        case .tuf:
            for _ in 0..<Self.maximumRootRotations {
                let next = trusted.signed.version + 1
                guard let bytes = try fetch(TopRole.root, version: next, limit: limit) else { break }
                trusted = try rotate(from: trusted, to: bytes, version: next)
            }
        case .notary where !latestFetched:
            guard let bytes = try fetch(TopRole.root, version: nil, limit: limit) else {
                throw .noTrustData("remote trust data does not exist for \(gun)")
            }
            if bytes != trusted.fileBytes {
                let latest = try decode(bytes, role: TopRole.root)
                let current = trusted.signed.version, newest = latest.signed.version
                guard newest >= current else { throw .rollback("root: version \(newest) is lower than current version \(current)") }
                guard newest - current <= Self.maximumRootRotations else {
                    throw .mismatch("root: version \(newest) is more than \(Self.maximumRootRotations) versions past \(current)")
                }
                if newest > current + 1 {
                    for version in (current + 1)..<newest {
                        guard let step = try fetch(TopRole.root, version: version, limit: limit) else {
                            throw .unavailable("root: \(version).root.json is missing on the trust server: cannot check the chain from version \(current) to \(newest)")
                        }
                        trusted = try rotate(from: trusted, to: step, version: version)
                    }
                }
                trusted = try rotate(from: trusted, to: bytes, version: newest)
            }
        case .notary:
            break
        }
        try checkExpiry(trusted)
        try checkCertificates(of: trusted)   // the stored root's may have expired since

        // Fast-forward recovery (§5.3.11): after new keys, the old files' versions are no
        // bound on the new ones.
        let before = try root(of: first), after = try root(of: trusted)
        if before.roles[TopRole.timestamp] != after.roles[TopRole.timestamp] || before.roles[TopRole.snapshot] != after.roles[TopRole.snapshot] {
            stored.forget(TopRole.timestamp)
            stored.forget(TopRole.snapshot)
        }
        if before.roles[TopRole.targets] != after.roles[TopRole.targets] { stored.forget(TopRole.targets) }
        return trusted
    }

    /// One step of the chain: the next root, signed by the threshold of the keys trusted
    /// so far and by its own (§5.3.4–5.3.5), of exactly the version asked for.
    private func rotate(from trusted: SignedMetadata, to bytes: [UInt8], version: Int) throws(TrustError) -> SignedMetadata {
        let next = try decode(bytes, role: TopRole.root)
        guard next.signed.version == version else {
            throw .mismatch("root: \(version).root.json holds version \(next.signed.version)")
        }
        // The old root's certificates may have expired (the usual reason to rotate): their
        // keys still vouch for the next root, as in notary's ValidateRoot.
        var (keys, role) = try rootKeys(of: trusted)
        for (id, key) in keys where role.keyIDs.contains(id) && (key.kind == .ecdsaX509 || key.kind == .rsaX509) {
            keys[id] = try key.certificate().key
        }
        guard count(validSignaturesOf: next, keys: keys, role: role) >= role.threshold else {
            throw .signature("valid signatures did not meet threshold for root: version \(version) is not signed by the keys of version \(trusted.signed.version)")
        }
        try checkSelfSigned(next)
        return next
    }

    /// A valid signature by a pinned key that the root lists for itself. Listing one is not
    /// enough: with threshold 1, any other key it lists could have signed it alone.
    private func checkPinned(_ root: SignedMetadata, keyIDs pinned: [String]) throws(TrustError) {
        let (keys, role) = try rootKeys(of: root)
        let signed = root.signatures.contains { signature in
            pinned.contains(signature.keyID) && role.keyIDs.contains(signature.keyID)
                && keys[signature.keyID]?.verify(signature.bytes, of: root.signedBytes, method: signature.method, at: now) == true
        }
        guard signed else {
            throw .signature("\(gun): the root is not signed with a pinned root key (\(pinned.map { String($0.prefix(12)) }.joined(separator: ", ")))")
        }
    }

    /// A root signed by the threshold of its own keys, whose certificates (Notary) are valid.
    private func checkSelfSigned(_ root: SignedMetadata) throws(TrustError) {
        try checkCertificates(of: root)
        try checkSignatures(root, by: rootKeys(of: root), role: TopRole.root)
    }

    /// Notary's root keys are certificates (`trustpinning.ValidateRoot`): as many as the
    /// threshold must be valid now, or the collection cannot be trusted whoever signed it.
    private func checkCertificates(of file: SignedMetadata) throws(TrustError) {
        let (keys, role) = try rootKeys(of: file)
        var valid = 0
        var problem: TrustError?
        for id in role.keyIDs {
            guard let key = keys[id] else { continue }
            guard key.kind == .ecdsaX509 || key.kind == .rsaX509 else {
                valid += 1
                continue
            }
            let certificate = try key.certificate()
            if now > certificate.notAfter {
                problem = problem ?? .key("root: the certificate of key \(id) expired at \(certificate.notAfter.rfc3339(dialect: dialect))")
            } else if certificate.notBefore.seconds > now.seconds + 86_400 {
                problem = problem ?? .key("root: the certificate of key \(id) is not valid before \(certificate.notBefore.rfc3339(dialect: dialect))")
            } else {
                valid += 1
            }
        }
        if valid < role.threshold, let problem { throw problem }
    }

    // MARK: Timestamp (§5.4)

    private func updateTimestamp(root: SignedMetadata, stored: StoredFiles) throws(TrustError) -> SignedMetadata {
        let bytes = try fetchRequired(TopRole.timestamp, version: nil, limit: Self.limit(TopRole.timestamp))
        let timestamp = try decode(bytes, role: TopRole.timestamp)
        try checkSignatures(timestamp, by: topKeys(TopRole.timestamp, of: root), role: TopRole.timestamp)
        if let old = stored.baseline(for: timestamp) {
            try checkRollback(timestamp, current: old)
            if let new = try snapshotMeta(of: timestamp).version, let current = try snapshotMeta(of: old).version, new < current {
                throw .rollback("snapshot: version \(new) is lower than current version \(current)")
            }
        }
        try checkExpiry(timestamp)
        return timestamp
    }

    // MARK: Snapshot (§5.5)

    private func updateSnapshot(root: SignedMetadata, timestamp: SignedMetadata, stored: StoredFiles) throws(TrustError) -> SignedMetadata {
        let meta = try snapshotMeta(of: timestamp)
        let consistent = try self.root(of: root).consistentSnapshot && dialect == .tuf
        let bytes = try fetchRequired(TopRole.snapshot, version: consistent ? meta.version : nil,
                                      limit: meta.length.map { Int($0) } ?? Self.limit(TopRole.snapshot))
        try checkFile(bytes, against: meta, role: TopRole.snapshot, listedBy: TopRole.timestamp)
        let snapshot = try decode(bytes, role: TopRole.snapshot)
        try checkSignatures(snapshot, by: topKeys(TopRole.snapshot, of: root), role: TopRole.snapshot)
        try checkVersion(snapshot, against: meta, listedBy: TopRole.timestamp)
        if let old = stored.baseline(for: snapshot) {
            try checkRollback(snapshot, current: old)
            // Every targets role the last snapshot listed is still listed, at no lower version (§5.5.5).
            let new = try Self.snapshot(of: snapshot).meta, current = try Self.snapshot(of: old).meta
            for (role, file) in current where role != TopRole.root {
                guard let listed = new[role] else { throw .rollback("snapshot: \(role) is no longer listed") }
                if let version = listed.version, let was = file.version, version < was {
                    throw .rollback("\(role): version \(version) is lower than current version \(was)")
                }
            }
        }
        try checkExpiry(snapshot)
        // Notary's snapshot pins root too: a root the snapshot does not name is not this collection's.
        if dialect == .notary, let rootMeta = try Self.snapshot(of: snapshot).meta[TopRole.root] {
            try checkFile(root.fileBytes, against: rootMeta, role: TopRole.root, listedBy: TopRole.snapshot)
        }
        return snapshot
    }

    // MARK: Targets and delegations (§5.6)

    private struct Pending {
        var name: RoleName
        var parent: RoleName?
        var keys: [String: PublicKey]
        var role: RoleKeys
        var depth: Int
    }

    /// Loads targets and, depth first in order of priority, every delegation it leads to.
    /// A delegation whose signatures or expiry fail is set aside with its error; anything
    /// that shows the files themselves are not the ones snapshot names fails the update.
    private func updateTargets(root: SignedMetadata, snapshot: SignedMetadata, stored: StoredFiles)
        throws(TrustError) -> ([RoleName: SignedMetadata], [RoleName: TrustError], [RoleName: RoleName]) {
        let top = try topKeys(TopRole.targets, of: root)
        var pending = [Pending(name: TopRole.targets, parent: nil, keys: top.keys, role: top.role, depth: 0)]
        var visited = Set<RoleName>()
        var loaded: [RoleName: SignedMetadata] = [:]
        var unverified: [RoleName: TrustError] = [:]
        // The role whose keys each delegation was checked with: a TUF role delegated by two
        // parents (flat names) is trusted only below the one it was checked for.
        var delegators: [RoleName: RoleName] = [:]
        let meta = try Self.snapshot(of: snapshot).meta
        let consistent = try self.root(of: root).consistentSnapshot && dialect == .tuf

        while let next = pending.popLast() {
            guard visited.insert(next.name).inserted else { continue }
            if let parent = next.parent { delegators[next.name] = parent }
            let file: SignedMetadata
            do throws(TrustError) {
                guard let listed = meta[next.name] else {
                    // Notary delegates before the first file is published; TUF lists every role.
                    if next.name == TopRole.targets { throw TrustError.mismatch("snapshot lists no targets") }
                    if dialect == .notary { continue }
                    throw TrustError.noTrustData("\(next.name): not in the snapshot (the role has no metadata yet: its signer has signed nothing)")
                }
                guard let bytes = try fetch(next.name, version: consistent ? listed.version : nil,
                                            limit: listed.length.map { Int($0) } ?? Self.limit(next.name)) else {
                    throw TrustError.noTrustData("\(next.name) is missing on the trust server")
                }
                try checkFile(bytes, against: listed, role: next.name, listedBy: TopRole.snapshot)
                file = try decode(bytes, role: next.name)
                try checkSignatures(file, by: (next.keys, next.role), role: next.name)
                try checkVersion(file, against: listed, listedBy: TopRole.snapshot)
                if let old = stored.baseline(for: file) { try checkRollback(file, current: old) }
                try checkExpiry(file)
            } catch {
                guard next.name != TopRole.targets, error.setsDelegationAside else { throw error }
                unverified[next.name] = error
                continue
            }
            loaded[next.name] = file
            guard case .targets(let targets) = file.signed, next.depth < Self.maximumDelegationDepth else { continue }
            for delegation in targets.delegations.reversed() {
                if let problem = problem(delegating: delegation.name, from: next.name) {
                    if unverified[delegation.name] == nil && !visited.contains(delegation.name) { unverified[delegation.name] = problem }
                    continue
                }
                pending.append(Pending(name: delegation.name, parent: next.name, keys: targets.delegationKeys, role: delegation.keys, depth: next.depth + 1))
            }
        }
        return (loaded, unverified, delegators)
    }

    /// Names a delegation may not have: a top-level role's, or in Notary one that is not
    /// below its delegator's (`targets/releases` under `targets`).
    private func problem(delegating name: RoleName, from parent: RoleName) -> TrustError? {
        if TopRole.all.contains(name) { return .malformed("\(parent) delegates to \"\(name)\": a top-level role's name") }
        if dialect == .notary && !(name.hasPrefix(parent + "/") && name.count > parent.count + 1) {
            return .malformed("\(parent) delegates to \"\(name)\": expected a role named \(parent)/NAME")
        }
        return nil
    }

    // MARK: Checks

    private func checkSignatures(_ file: SignedMetadata, by keys: (keys: [String: PublicKey], role: RoleKeys), role name: RoleName) throws(TrustError) {
        guard count(validSignaturesOf: file, keys: keys.keys, role: keys.role) >= keys.role.threshold else {
            throw .signature("valid signatures did not meet threshold for \(name)")
        }
    }

    /// Distinct keys of the role whose signatures verify (a key counts once however often
    /// it signs, and once however many IDs the role lists it under; a threshold below 1 is
    /// met by nothing).
    private func count(validSignaturesOf file: SignedMetadata, keys: [String: PublicKey], role: RoleKeys) -> Int {
        guard role.threshold >= 1 else { return Int.min }
        var valid = Set<String>()
        var material = Set<[UInt8]>()
        for signature in file.signatures where !valid.contains(signature.keyID) && role.keyIDs.contains(signature.keyID) {
            if let key = keys[signature.keyID], !material.contains(key.material),
               key.verify(signature.bytes, of: file.signedBytes, method: signature.method, at: now) {
                valid.insert(signature.keyID)
                material.insert(key.material)
                if valid.count >= role.threshold { break }
            }
        }
        return valid.count
    }

    private func checkExpiry(_ file: SignedMetadata) throws(TrustError) {
        let expires = file.signed.expires
        guard now < expires else { throw .expired("\(file.role) expired at \(expires.rfc3339(dialect: dialect))") }
    }

    private func checkRollback(_ file: SignedMetadata, current: SignedMetadata) throws(TrustError) {
        let version = file.signed.version, was = current.signed.version
        guard version >= was else { throw .rollback("\(file.role): version \(version) is lower than current version \(was)") }
    }

    /// The version the role above names (TUF), exactly.
    private func checkVersion(_ file: SignedMetadata, against meta: MetaFile, listedBy parent: RoleName) throws(TrustError) {
        if let version = meta.version, version != file.signed.version {
            throw .mismatch("\(file.role): version \(file.signed.version) does not match version \(version) in \(parent)")
        }
    }

    /// Length and hashes as the role above gives them: a file from another version of the
    /// collection (mix and match) or changed after signing does not pass.
    private func checkFile(_ bytes: [UInt8], against meta: MetaFile, role: RoleName, listedBy parent: RoleName) throws(TrustError) {
        if let length = meta.length, Int64(bytes.count) != length {
            throw .mismatch("\(role): \(bytes.count) bytes do not match length \(length) in \(parent)")
        }
        guard let hashes = meta.hashes, !hashes.isEmpty else { return }
        var checked = 0
        for (algorithm, expected) in hashes {
            let actual: [UInt8]
            switch algorithm {
            case "sha256": actual = TrustDigest.sha256(bytes)
            case "sha512": actual = TrustDigest.sha512(bytes)
            default: continue
            }
            guard actual == expected else {
                throw .mismatch("\(role): \(algorithm) \(TrustEncoding.hex(actual)) does not match \(TrustEncoding.hex(expected)) in \(parent)")
            }
            checked += 1
        }
        guard checked > 0 else {
            throw .mismatch("\(role): \(parent) gives only hashes netctl cannot check (\(hashes.keys.sorted().joined(separator: ", ")))")
        }
    }

    // MARK: Fetching and decoding

    static func limit(_ role: RoleName) -> Int { MetadataCodec.sizeLimit(for: role) }

    private func fetch(_ role: RoleName, version: Int?, limit: Int) throws(TrustError) -> [UInt8]? {
        guard let bytes = try source.fetch(role: role, version: version, limit: limit) else { return nil }
        guard bytes.count <= limit else {
            throw .malformed("\(version.map { "\($0)." } ?? "")\(role).json: more than \(limit) bytes")
        }
        return bytes
    }

    private func fetchRequired(_ role: RoleName, version: Int?, limit: Int) throws(TrustError) -> [UInt8] {
        guard let bytes = try fetch(role, version: version, limit: limit) else {
            throw .unavailable("\(version.map { "\($0)." } ?? "")\(role).json is missing on the trust server for \(gun)")
        }
        return bytes
    }

    private func decode(_ bytes: [UInt8], role: RoleName) throws(TrustError) -> SignedMetadata {
        try MetadataCodec.decode(bytes, role: role, dialect: dialect)
    }

    private func root(of file: SignedMetadata) throws(TrustError) -> RootMetadata {
        guard case .root(let root) = file.signed else { throw .malformed("\(file.role): expected root metadata") }
        return root
    }

    private func rootKeys(of file: SignedMetadata) throws(TrustError) -> (keys: [String: PublicKey], role: RoleKeys) {
        try topKeys(TopRole.root, of: file)
    }

    private func topKeys(_ role: RoleName, of file: SignedMetadata) throws(TrustError) -> (keys: [String: PublicKey], role: RoleKeys) {
        let root = try root(of: file)
        guard let keys = root.roles[role] else { throw .malformed("root lists no keys for \(role)") }
        return (root.keys, keys)
    }

    static func snapshot(of file: SignedMetadata) throws(TrustError) -> SnapshotMetadata {
        switch file.signed {
        case .snapshot(let meta), .timestamp(let meta): return meta
        default: throw .malformed("\(file.role): expected snapshot or timestamp metadata")
        }
    }

    private func snapshotMeta(of timestamp: SignedMetadata) throws(TrustError) -> MetaFile {
        guard let meta = try Self.snapshot(of: timestamp).meta[TopRole.snapshot] else { throw .malformed("timestamp lists no snapshot") }
        return meta
    }
}

/// What the state store held when the update began: the baselines for rollback, decoded
/// only when the server's file differs from the stored one (the usual run finds most the same).
private final class StoredFiles {
    let bytes: [RoleName: [UInt8]]
    private let dialect: TrustDialect
    private var decoded: [RoleName: SignedMetadata?] = [:]
    private var forgotten = Set<RoleName>()

    init(state: TrustStateStore, dialect: TrustDialect) throws(TrustError) {
        var bytes: [RoleName: [UInt8]] = [:]
        for role in try state.roles() {
            bytes[role] = try state.load(role, limit: TrustClient.limit(role))
        }
        self.bytes = bytes
        self.dialect = dialect
    }

    /// The stored file of `role`; nil when there is none or it no longer decodes (then the
    /// server's is checked on its own merits).
    func metadata(_ role: RoleName) -> SignedMetadata? {
        guard !forgotten.contains(role), let file = bytes[role] else { return nil }
        if let known = decoded[role] { return known }
        let metadata = try? MetadataCodec.decode(file, role: role, dialect: dialect)
        decoded[role] = metadata
        return metadata
    }

    /// The stored file to hold `file` against, unless it is the very same file.
    func baseline(for file: SignedMetadata) -> SignedMetadata? {
        bytes[file.role] == file.fileBytes ? nil : metadata(file.role)
    }

    func forget(_ role: RoleName) { forgotten.insert(role) }
}

extension TrustError {
    /// What makes Notary's client pass over a delegation rather than fail the collection
    /// (`client/tufclient.go` `downloadTargets`: expired or under its threshold), and a
    /// delegation whose file is not there.
    var setsDelegationAside: Bool {
        switch self {
        case .signature, .expired, .noTrustData: true
        default: false
        }
    }
}
