/// What a publisher changes in a collection: tags, delegations and their keys, and keys of
/// the roles themselves. Each change marks the roles it touches; nothing is signed until
/// `sign(with:now:)`.
extension TrustRepository {
    // MARK: - Targets

    /// Signs `tag` as `file` into `role` (the top-level targets role or a delegation), as
    /// `notary add` / `docker trust sign` do. A delegation may only sign the paths its
    /// delegator gave it.
    // notary add GUN TAG manifest.json --roles targets/releases
    public mutating func setTarget(_ tag: String, _ file: TargetFile, in role: RoleName) throws(TrustError) {
        guard !tag.isEmpty else { throw .malformed("\(named)a target needs a name (a tag), got an empty one") }
        if role != TopRole.targets {
            let delegation = try self.delegation(role)
            guard delegation.covers(tag, dialect: dialect) else {
                throw .signature("\(named)\(role) may not sign \(tag): its paths are \(delegation.pathsDescription)")
            }
        }
        if targets[role] == nil {
            guard snapshot.meta[role] == nil else {
                throw .noTrustData("\(named)\(role) was published but is not loaded: update the collection first")
            }
            targets[role] = TargetsMetadata(version: 0, expires: TrustTime(seconds: 0))
        }
        touch(role)
        targets[role]!.targets[tag] = file
    }

    /// Removes `tag` from `role`: `notary remove`, `docker trust revoke IMAGE:TAG`.
    // notary remove GUN TAG --roles targets/releases
    public mutating func removeTarget(_ tag: String, from role: RoleName) throws(TrustError) {
        guard let metadata = targets[role] else { throw .noTrustData("\(named)no role \(role) in the collection") }
        guard metadata.targets[tag] != nil else { throw .noTrustData("\(named)\(tag) is not signed in \(role)") }
        touch(role)
        targets[role]!.targets[tag] = nil
    }

    // MARK: - Delegations

    /// Delegates paths to `name` with `keys` and `threshold`; for a delegation that exists,
    /// adds the keys and paths and sets the threshold, as `notary delegation add` does (how
    /// Docker adds a signer to `targets/releases`). Notary names delegations
    /// `targets/<name>` (nested under their delegator's path); TUF plain names, delegated
    /// by the top-level targets role unless another role already delegates the name.
    // notary delegation add GUN targets/releases cert.pem --all-paths
    public mutating func addDelegation(_ name: RoleName, keys: [PublicKey], threshold: Int, paths: [String]) throws(TrustError) {
        let delegator = try self.delegator(of: name, creating: true)
        guard targets[delegator] != nil else { throw .malformed("\(named)delegation \(name): its delegator \(delegator) does not exist") }
        guard threshold >= 1 else { throw .malformed("\(named)delegation \(name): threshold \(threshold), expected 1 or more") }

        var ids: [String] = []
        for key in keys {
            let listed = key.forMetadata(dialect)
            let id = listed.keyID(dialect: dialect)
            targets[delegator]!.delegationKeys[id] = listed
            if !ids.contains(id) { ids.append(id) }
        }
        var delegations = targets[delegator]!.delegations
        if let index = delegations.firstIndex(where: { $0.name == name }) {
            for id in ids where !delegations[index].keys.keyIDs.contains(id) { delegations[index].keys.keyIDs.append(id) }
            delegations[index].keys.threshold = threshold
            if !paths.isEmpty {
                var known = delegations[index].paths ?? []
                for path in paths where !known.contains(path) { known.append(path) }
                delegations[index].paths = known
            }
        } else {
            guard !ids.isEmpty else { throw .key("\(named)delegation \(name): a new delegation needs a key, got none") }
            delegations.append(Delegation(name: name, keys: RoleKeys(keyIDs: ids, threshold: threshold), paths: paths))
        }
        guard delegations.first(where: { $0.name == name })!.keys.keyIDs.count >= threshold else {
            throw .malformed("\(named)delegation \(name): threshold \(threshold) but only \(delegations.first(where: { $0.name == name })!.keys.keyIDs.count) keys")
        }
        touch(delegator)
        targets[delegator]!.delegations = delegations
        // The role's own file, empty until its signer signs into it; a TUF client needs it
        // to walk past the delegation (see `sign`, which leaves it to its signer). A role
        // delegated before goes on from the version snapshot last listed.
        if targets[name] == nil {
            targets[name] = TargetsMetadata(version: snapshot.meta[name]?.version ?? retiredVersions[name] ?? 0, expires: TrustTime(seconds: 0))
            touch(name)
        }
    }

    /// Revokes signers: their keys no longer count for `name` (what it signed with them
    /// alone stops verifying). The delegator is re-signed, not the delegation.
    // notary delegation remove GUN targets/releases KEYID
    public mutating func removeDelegationKeys(_ name: RoleName, keyIDs: [String]) throws(TrustError) {
        let delegator = try self.delegator(of: name, creating: false)
        var delegations = targets[delegator]!.delegations
        let index = delegations.firstIndex(where: { $0.name == name })!
        for id in keyIDs where !delegations[index].keys.keyIDs.contains(id) {
            throw .key("\(named)\(name) has no key \(id): its keys are \(delegations[index].keys.keyIDs.joined(separator: ", "))")
        }
        delegations[index].keys.keyIDs.removeAll { keyIDs.contains($0) }
        touch(delegator)
        targets[delegator]!.delegations = delegations
        targets[delegator]!.forgetUnusedDelegationKeys()
    }

    /// Removes the delegation `name` and the roles it delegates to. Snapshot goes on
    /// listing their last files (a TUF client refuses a snapshot that drops a role it
    /// listed, §5.5.5); no delegator reaches them any more.
    // notary delegation remove GUN targets/releases
    public mutating func removeDelegation(_ name: RoleName) throws(TrustError) {
        let delegator = try self.delegator(of: name, creating: false)
        touch(delegator)
        targets[delegator]!.delegations.removeAll { $0.name == name }
        targets[delegator]!.forgetUnusedDelegationKeys()
        var doomed = [name]
        while let role = doomed.popLast() {
            doomed += targets[role]?.delegations.map(\.name) ?? []
            if dialect == .notary { doomed += targets.keys.filter { $0.hasPrefix(role + "/") && !doomed.contains($0) } }
            if let version = targets[role]?.version, fileVersions[role] != nil { retiredVersions[role] = max(version, fileVersions[role]!) }
            targets[role] = nil
            files[role] = nil
            fileVersions[role] = nil
            received[role] = nil
            pending.remove(role)
        }
    }

    // MARK: - Keys of roles

    /// A new root: `keys` with `threshold`. The first signing after this signs it with the
    /// old root's keys as well as the new ones, so a client that trusts the old root moves
    /// to the new (TUF §5.3.4). Notary lists root keys as certificates
    /// (`PrivateKey.selfSignedCertificate`).
    // notary key rotate GUN root
    public mutating func rotateRootKeys(to keys: [PublicKey], threshold: Int) throws(TrustError) {
        guard !keys.isEmpty else { throw .key("\(named)root needs a key, got none") }
        guard (1...keys.count).contains(threshold) else {
            throw .malformed("\(named)root threshold \(threshold), expected 1 to \(keys.count) (the number of keys)")
        }
        if dialect == .notary, let plain = keys.first(where: { $0.kind != .ecdsaX509 && $0.kind != .rsaX509 }) {
            throw .key("\(named)root key \(plain.keyID(dialect: dialect)) is \(plain.kind.rawValue): Notary root keys are x509 certificates")
        }
        setRoleKeys(TopRole.root, keys, threshold: threshold)
    }

    /// Gives `role` the single key `key` (its old keys stop counting), and marks the role to
    /// be re-signed with it. For a top-level role root changes; for a delegation its
    /// delegator does. A server-held key (Notary timestamp) is the server's new public key.
    // notary key rotate GUN targets
    public mutating func rotateKey(_ role: RoleName, to key: PublicKey) throws(TrustError) {
        switch role {
        case TopRole.root:
            try rotateRootKeys(to: [key], threshold: 1)
        case TopRole.targets, TopRole.snapshot, TopRole.timestamp:
            setRoleKeys(role, [key], threshold: 1)
            touch(role)
        default:
            let delegator = try self.delegator(of: role, creating: false)
            let listed = key.forMetadata(dialect)
            let id = listed.keyID(dialect: dialect)
            let index = targets[delegator]!.delegations.firstIndex(where: { $0.name == role })!
            touch(delegator)
            targets[delegator]!.delegationKeys[id] = listed
            targets[delegator]!.delegations[index].keys = RoleKeys(keyIDs: [id], threshold: 1)
            targets[delegator]!.forgetUnusedDelegationKeys()
            if targets[role] != nil { touch(role) }
        }
    }

    // MARK: - Helpers

    /// Marks `role` changed, moving it to its next version the first time since signing.
    mutating func touch(_ role: RoleName) {
        guard pending.insert(role).inserted else { return }
        switch role {
        case TopRole.root: root.version += 1
        case TopRole.snapshot: snapshot.version += 1
        case TopRole.timestamp: timestamp.version += 1
        default: targets[role]?.version += 1
        }
    }

    /// Root lists `keys` for `role`; keys no role lists any more leave root.
    mutating func setRoleKeys(_ role: RoleName, _ keys: [PublicKey], threshold: Int) {
        var ids: [String] = []
        for key in keys {
            let listed = key.forMetadata(dialect)
            let id = listed.keyID(dialect: dialect)
            root.keys[id] = listed
            if !ids.contains(id) { ids.append(id) }
        }
        touch(TopRole.root)
        root.roles[role] = RoleKeys(keyIDs: ids, threshold: threshold)
        let used = Set(root.roles.values.flatMap(\.keyIDs))
        root.keys = root.keys.filter { used.contains($0.key) }
    }

    /// The role that delegates to `name`: Notary's parent path (`targets/a/b` → `targets/a`);
    /// in TUF the role whose delegations list it, or (`creating`) the top-level targets role.
    public func delegator(of name: RoleName, creating: Bool) throws(TrustError) -> RoleName {
        guard !TopRole.all.contains(name) else { throw .malformed("\(named)\(name) is a top-level role, not a delegation") }
        switch dialect {
        case .notary:
            let parts = name.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count >= 2, parts[0] == "targets", !parts.contains(where: \.isEmpty) else {
                throw .malformed("\(named)delegation \"\(name)\": expected targets/<name> (Notary names delegations as paths)")
            }
            let delegator = parts.dropLast().joined(separator: "/")
            if !creating { _ = try delegation(name, by: delegator) }
            return delegator
        case .tuf:
            guard !name.isEmpty, !name.contains("/"), name != ".", name != ".." else {
                throw .malformed("\(named)delegation \"\(name)\": expected a plain name such as releases (TUF role names become file names)")
            }
            for (role, metadata) in targets.sorted(by: { $0.key < $1.key }) where metadata.delegations.contains(where: { $0.name == name }) {
                return role
            }
            if creating { return TopRole.targets }
            throw .noTrustData("\(named)no delegation \(name) in the collection")
        }
    }

    /// The delegation `name` as its delegator lists it.
    func delegation(_ name: RoleName) throws(TrustError) -> Delegation {
        try delegation(name, by: delegator(of: name, creating: false))
    }

    private func delegation(_ name: RoleName, by delegator: RoleName) throws(TrustError) -> Delegation {
        guard let delegation = targets[delegator]?.delegations.first(where: { $0.name == name }) else {
            throw .noTrustData("\(named)no delegation \(name) in the collection")
        }
        return delegation
    }
}

extension TargetsMetadata {
    /// Delegation keys no delegation lists any more are dropped from the delegator.
    mutating func forgetUnusedDelegationKeys() {
        let used = Set(delegations.flatMap(\.keys.keyIDs))
        delegationKeys = delegationKeys.filter { used.contains($0.key) }
    }
}
