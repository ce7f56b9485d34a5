/// Signing a collection's changes: each changed role once, then snapshot over the targets
/// roles (and root, in Notary), then timestamp over snapshot, as `notary publish` and
/// python-tuf's repository tools order it.
extension TrustRepository {
    /// Signs every changed role with the keys of it in `keys` (and, the first time, those
    /// `create` was given), giving each a fresh expiry; then snapshot and timestamp. Returns
    /// the new files by role. Nothing changes when a role cannot be signed:
    /// `TrustError.key("GUN: no private key for targets/releases (key …)")`.
    ///
    /// In Notary a snapshot or timestamp key the ring lacks is the server's: those files are
    /// left to it (it makes them when the others are published). A new delegation's empty
    /// file whose key the ring lacks is left to its signer.
    public mutating func sign(with keys: KeyRing, now: TrustTime) throws(TrustError) -> [RoleName: [UInt8]] {
        let ring = creationKeys.map { $0.merging(keys) } ?? keys
        var next = self
        var signed: [RoleName: [UInt8]] = [:]
        var leftToSigners: Set<RoleName> = []

        if next.pending.contains(TopRole.root) {
            next.root.expires = now.plusLifetime(Self.lifetime(of: TopRole.root))
            let newRoot = (keys: next.root.keys, role: next.root.roles[TopRole.root] ?? RoleKeys(keyIDs: [], threshold: 1))
            var requirements = [newRoot]
            if previousRoot.role != newRoot.role { requirements.append(previousRoot) }
            signed[TopRole.root] = try next.signFile(.root(next.root), role: TopRole.root, by: requirements, ring: ring)
        }

        for role in next.pending.sorted() where role != TopRole.root && role != TopRole.snapshot && role != TopRole.timestamp {
            guard let metadata = next.targets[role] else { continue }
            let requirement = try next.signers(of: role)
            if next.files[role] == nil, metadata.targets.isEmpty, !ring.satisfies(requirement, dialect: dialect) {
                leftToSigners.insert(role)
                continue
            }
            next.targets[role]!.expires = now.plusLifetime(Self.lifetime(of: role))
            signed[role] = try next.signFile(.targets(next.targets[role]!), role: role, by: [requirement], ring: ring)
        }

        let snapshotSigners = (keys: next.root.keys, role: next.root.roles[TopRole.snapshot] ?? RoleKeys(keyIDs: [], threshold: 1))
        let snapshotChanged = !signed.isEmpty || next.pending.contains(TopRole.snapshot)
        if snapshotChanged, dialect == .tuf || ring.satisfies(snapshotSigners, dialect: dialect) {
            next.touch(TopRole.snapshot)
            for (role, file) in signed where role != TopRole.root || dialect == .notary {
                next.snapshot.meta[role] = next.metaFile(file, version: next.version(of: role))
            }
            next.snapshot.expires = now.plusLifetime(Self.lifetime(of: TopRole.snapshot))
            signed[TopRole.snapshot] = try next.signFile(.snapshot(next.snapshot), role: TopRole.snapshot, by: [snapshotSigners], ring: ring)
        }

        let timestampSigners = (keys: next.root.keys, role: next.root.roles[TopRole.timestamp] ?? RoleKeys(keyIDs: [], threshold: 1))
        let snapshotFile = signed[TopRole.snapshot] ?? next.files[TopRole.snapshot]
        if let snapshotFile, signed[TopRole.snapshot] != nil || next.pending.contains(TopRole.timestamp),
           dialect == .tuf || ring.satisfies(timestampSigners, dialect: dialect) {
            next.touch(TopRole.timestamp)
            let snapshotVersion = signed[TopRole.snapshot] != nil ? next.snapshot.version : (next.fileVersions[TopRole.snapshot] ?? next.snapshot.version)
            next.timestamp.meta = [TopRole.snapshot: next.metaFile(snapshotFile, version: snapshotVersion)]
            next.timestamp.expires = now.plusLifetime(Self.lifetime(of: TopRole.timestamp))
            signed[TopRole.timestamp] = try next.signFile(.timestamp(next.timestamp), role: TopRole.timestamp, by: [timestampSigners], ring: ring)
        }

        for (role, file) in signed {
            next.files[role] = file
            next.fileVersions[role] = next.version(of: role)
        }
        if let rootFile = signed[TopRole.root] {
            next.rootHistory[next.root.version] = rootFile
            next.previousRoot = (next.root.keys, next.root.roles[TopRole.root]!)
        }
        next.pending = leftToSigners
        next.creationKeys = nil
        self = next
        return signed
    }

    /// Marks `role` to be signed again at its next version with a fresh expiry, unchanged
    /// otherwise: how a publisher renews metadata before it expires.
    public mutating func resign(_ role: RoleName) throws(TrustError) {
        guard TopRole.all.contains(role) || targets[role] != nil else { throw .noTrustData("\(named)no role \(role) in the collection") }
        touch(role)
    }

    // MARK: - Helpers

    /// The keys that sign a targets role: root's for the top-level one, the delegator's
    /// for a delegation.
    func signers(of role: RoleName) throws(TrustError) -> (keys: [String: PublicKey], role: RoleKeys) {
        if role == TopRole.targets { return (root.keys, root.roles[TopRole.targets] ?? RoleKeys(keyIDs: [], threshold: 1)) }
        let delegator = try self.delegator(of: role, creating: false)
        let delegation = try self.delegation(role)
        return (targets[delegator]!.delegationKeys, delegation.keys)
    }

    func version(of role: RoleName) -> Int {
        switch role {
        case TopRole.root: root.version
        case TopRole.snapshot: snapshot.version
        case TopRole.timestamp: timestamp.version
        default: targets[role]?.version ?? 0
        }
    }

    /// What snapshot and timestamp say of a file: TUF its version, Notary its length and
    /// hashes (sha256 and sha512, as the notary CLI writes them).
    func metaFile(_ file: [UInt8], version: Int) -> MetaFile {
        switch dialect {
        case .tuf: MetaFile(version: version)
        case .notary: MetaFile(version: nil, length: Int64(file.count),
                               hashes: ["sha256": TrustDigest.sha256(file), "sha512": TrustDigest.sha512(file)])
        }
    }

    /// The file of `part`, signed by the keys of each requirement in the ring, each
    /// requirement's threshold met (a rotated root meets the old root's and its own).
    func signFile(_ part: SignedPart, role: RoleName, by requirements: [(keys: [String: PublicKey], role: RoleKeys)],
                  ring: KeyRing) throws(TrustError) -> [UInt8] {
        let signed = MetadataCodec.signedJSON(part, dialect: dialect, keeping: received[role])
        let bytes = signed.canonical
        var signatures: [TrustSignature] = []
        for requirement in requirements {
            var count = 0
            var missing: String?
            for id in requirement.role.keyIDs {
                if signatures.contains(where: { $0.keyID == id }) { count += 1; continue }
                guard let key = ring.key(for: id, listed: requirement.keys[id]) else {
                    missing = missing ?? id
                    continue
                }
                let method: String? = dialect == .tuf ? nil : key.kind.notaryMethod
                signatures.append(TrustSignature(keyID: id, method: method, bytes: try key.sign(bytes, dialect: dialect)))
                count += 1
            }
            guard count >= requirement.role.threshold else {
                if let missing { throw .key("\(named)no private key for \(role) (key \(missing))") }
                throw .key("\(named)\(role) has \(requirement.role.keyIDs.count) keys, fewer than its threshold \(requirement.role.threshold)")
            }
        }
        return MetadataCodec.file(signed: signed, signatures: signatures, dialect: dialect)
    }
}

extension KeyRing {
    /// Whether the ring holds enough of a role's keys to meet its threshold.
    func satisfies(_ requirement: (keys: [String: PublicKey], role: RoleKeys), dialect: TrustDialect) -> Bool {
        let held = requirement.role.keyIDs.filter { key(for: $0, listed: requirement.keys[$0]) != nil }
        return !held.isEmpty && held.count >= requirement.role.threshold
    }
}
