import Glibc
import Runtime
import Security

/// Where a collection's changes go: a Notary server (which signs timestamp and snapshot
/// with keys of its own), or a static TUF repository's directory.
protocol TrustPublisher: Sendable {
    /// Keys the server holds and signs with (Notary: timestamp and snapshot); empty when
    /// the publisher signs everything itself.
    func serverKeys() throws -> [RoleName: PublicKey]
    /// Sends the signed files of the changed roles (and writes the whole repository when
    /// it is static).
    func publish(_ files: [RoleName: [UInt8]], repository: TrustRepository) throws
}

/// A static TUF repository on disk (`tuf+file:///DIR`), written whole after each change.
struct StaticDirectoryPublisher: TrustPublisher {
    var directory: String
    func serverKeys() throws -> [RoleName: PublicKey] { [:] }
    func publish(_ files: [RoleName: [UInt8]], repository: TrustRepository) throws {
        try repository.writeStatic(to: directory)
    }
}

/// Docker's set-up: the Notary server holds the timestamp and snapshot keys.
extension NotaryPublisher: TrustPublisher {
    func serverKeys() throws -> [RoleName: PublicKey] {
        [TopRole.timestamp: try remoteKey(TopRole.timestamp), TopRole.snapshot: try remoteKey(TopRole.snapshot)]
    }
    func publish(_ files: [RoleName: [UInt8]], repository: TrustRepository) throws {
        try publish(files)
    }
}

/// The private keys one command has decrypted, by the IDs metadata gives them, and the
/// key store's list, read once.
struct SigningKeys {
    var keys: [String: PrivateKey] = [:]
    var held: Set<String>?
    /// Key files this command made (a new collection's keys): removed if it fails.
    var created: [String] = []
}

extension ContentTrust {
    /// The key store of the trust directory.
    var keyStore: KeyStore { KeyStore(directory: settings.directory + "/private") }

    /// The collection as it stands (brought up to date), or a new one when the server has
    /// none (then `collection` is nil).
    func openRepository(_ location: Location, ring: inout SigningKeys) throws -> (repository: TrustRepository, collection: TrustedCollection?) {
        if try location.source.fetch(role: TopRole.root, version: nil, limit: MetadataCodec.sizeLimit(for: TopRole.root)) != nil
            || location.source.fetch(role: TopRole.root, version: 1, limit: MetadataCodec.sizeLimit(for: TopRole.root)) != nil {
            let collection = try update(location)
            return (TrustRepository(collection: collection, gun: location.gun), collection)
        }
        guard let publisher = location.publisher else {
            throw TrustError.unavailable("\(location.gun): \(location.server) has no trust data, and netctl publishes a static repository only to a directory (tuf+file:///DIR)")
        }
        return (try initialize(location, publisher: publisher, ring: &ring), nil)
    }

    /// A new collection, as `docker trust sign` makes one for a repository that has none:
    /// the host's root key (made on first use), a new targets ("repository") key, and
    /// timestamp and snapshot keys held by the Notary server (or made here for a static
    /// repository).
    func initialize(_ location: Location, publisher: any TrustPublisher, ring: inout SigningKeys) throws -> TrustRepository {
        let rootKey = try rootKey(dialect: location.dialect, ring: &ring)
        let targetsKey = try newKey(role: TopRole.targets, gun: location.gun, dialect: location.dialect, ring: &ring)
        let serverKeys = try publisher.serverKeys()
        var snapshotKey: PrivateKey?
        var timestampKey: PrivateKey?
        if serverKeys[TopRole.snapshot] == nil { snapshotKey = try newKey(role: TopRole.snapshot, gun: location.gun, dialect: location.dialect, ring: &ring) }
        if serverKeys[TopRole.timestamp] == nil { timestampKey = try newKey(role: TopRole.timestamp, gun: location.gun, dialect: location.dialect, ring: &ring) }
        for key in [rootKey, targetsKey, snapshotKey, timestampKey].compactMap({ $0 }) {
            ring.keys[key.publicKey.keyID(dialect: location.dialect)] = key
        }
        return try TrustRepository.create(gun: location.gun, dialect: location.dialect, rootKeys: [rootKey], targetsKey: targetsKey,
                                          snapshotKey: snapshotKey, timestampKey: timestampKey, serverKeys: serverKeys, now: now)
    }

    /// The root key of this trust directory: the one there is, or a new one.
    func rootKey(dialect: TrustDialect, ring: inout SigningKeys) throws -> PrivateKey {
        if let entry = try keyStore.list().first(where: { $0.role == TopRole.root }) {
            return try keyStore.load(id: entry.id, passphrase: try passphrase(TopRole.root, entry.id, false))
        }
        return try newKey(role: TopRole.root, gun: nil, dialect: dialect, ring: &ring)
    }

    /// A new ECDSA P-256 key (what Docker makes), saved encrypted under the role's passphrase.
    func newKey(role: RoleName, gun: String?, dialect: TrustDialect, ring: inout SigningKeys) throws -> PrivateKey {
        let key = try PrivateKey.generate(.ecdsa)
        let id = key.publicKey.keyID(dialect: dialect)
        try keyStore.save(key, id: id, role: role, gun: gun, passphrase: try passphrase(role, id, true))
        ring.created.append(id)
        return key
    }

    /// Runs `body`; when it fails, the key files it made are removed, so that a collection
    /// that was never published leaves no keys for it behind.
    func removingCreatedKeys<T>(_ ring: inout SigningKeys, _ body: (inout SigningKeys) throws -> T) throws -> T {
        do {
            return try body(&ring)
        } catch {
            for id in ring.created { try? keyStore.remove(id: id) }
            throw error
        }
    }

    /// Decrypts the private keys this trust directory holds of `keys` into `ring`, under
    /// the IDs the metadata gives them; returns how many it holds. A key file is found by
    /// that ID or by the key's ID in either dialect (`trust key generate` names files as
    /// Docker does, by the Notary ID, before any collection says which dialect it is in).
    func heldKeys(_ keys: [(id: String, key: PublicKey?)], role: RoleName, into ring: inout SigningKeys) throws -> Int {
        if ring.held == nil { ring.held = Set(try keyStore.list().map(\.id)) }
        let held = ring.held ?? []
        var count = 0
        for (id, key) in keys {
            if ring.keys[id] != nil {
                count += 1
                continue
            }
            let names = [id] + (key.map { [$0.keyID(dialect: .notary), $0.keyID(dialect: .tuf)] } ?? [])
            guard let file = names.first(where: held.contains) else { continue }
            ring.keys[id] = try keyStore.load(id: file, passphrase: try passphrase(role, file, false))
            count += 1
        }
        return count
    }

    /// The keys that may sign `role` in `collection`, by the IDs the metadata gives them.
    static func keys(of role: RoleName, in collection: TrustedCollection) -> [(id: String, key: PublicKey?)] {
        if TopRole.all.contains(role) {
            guard case .root(let root) = collection.root.signed else { return [] }
            return (root.roles[role]?.keyIDs ?? []).map { ($0, root.keys[$0]) }
        }
        for metadata in collection.targets.values {
            guard case .targets(let targets) = metadata.signed else { continue }
            if let delegation = targets.delegations.first(where: { $0.name == role }) {
                return delegation.keys.keyIDs.map { ($0, targets.delegationKeys[$0]) }
            }
        }
        return []
    }

    static func keyIDs(of role: RoleName, in collection: TrustedCollection) -> [String] { keys(of: role, in: collection).map(\.id) }

    /// The roles a change to targets is signed into: the delegations whose keys this host
    /// holds when the collection has signers (as Docker signs into `targets/releases` and
    /// the signer's own role), else the top-level targets role.
    func signingRoles(_ collection: TrustedCollection?, gun: String, ring: inout SigningKeys) throws -> [RoleName] {
        guard let collection, case .targets(let top)? = collection.targets[TopRole.targets]?.signed, !top.delegations.isEmpty else {
            return [TopRole.targets]
        }
        var roles: [RoleName] = []
        for delegation in top.delegations where try heldKeys(Self.keys(of: delegation.name, in: collection), role: delegation.name, into: &ring) > 0 {
            roles.append(delegation.name)
        }
        if roles.isEmpty, try heldKeys(Self.keys(of: TopRole.targets, in: collection), role: TopRole.targets, into: &ring) > 0 {
            roles = [TopRole.targets]
        }
        guard !roles.isEmpty else {
            throw TrustError.key("\(gun): no signing keys for any signer of this repository (\(top.delegations.map { TrustNames.signer(ofRole: $0.name) }.joined(separator: ", "))): load one with netctl trust key load")
        }
        return roles
    }

    /// Keys for the roles a publish re-signs beside `roles`: targets when delegations
    /// change, and snapshot and timestamp when this host holds them.
    func loadKeys(for roles: [RoleName], collection: TrustedCollection?, ring: inout SigningKeys) throws {
        guard let collection else { return }
        for role in roles + [TopRole.snapshot, TopRole.timestamp] {
            _ = try heldKeys(Self.keys(of: role, in: collection), role: role, into: &ring)
        }
    }

    /// Signs `name`'s tag as `digest` (`length` bytes of manifest) into the roles this host
    /// may sign, and publishes: what `trust sign` and a trusted `push` do.
    @discardableResult
    public func sign(_ name: ImageName, digest: Digest, length: Int64) throws -> [RoleName] {
        let location = try location(of: name)
        var ring = SigningKeys()
        return try removingCreatedKeys(&ring) { ring in
            var (repository, collection) = try openRepository(location, ring: &ring)
            let roles = try signingRoles(collection, gun: location.gun, ring: &ring)
            try loadKeys(for: roles, collection: collection, ring: &ring)
            let file = TargetFile(length: length, hashes: ["sha256": TrustEncoding.bytes(hex: digest.hex) ?? []])
            for role in roles { try repository.setTarget(name.tag ?? "latest", file, in: role) }
            try publish(&repository, location: location, ring: ring)
            return roles
        }
    }

    /// Removes `name`'s tag (or every tag, without one) from the roles this host may sign.
    public func revoke(_ name: ImageName, allTags: Bool) throws -> [String] {
        let location = try location(of: name)
        var ring = SigningKeys()
        let collection = try update(location)
        var repository = TrustRepository(collection: collection, gun: location.gun)
        let roles = try signingRoles(collection, gun: location.gun, ring: &ring)
        try loadKeys(for: roles, collection: collection, ring: &ring)
        var removed: [String] = []
        for (tag, role) in Self.signedTags(collection) where roles.contains(role) && (allTags || tag == (name.tag ?? "latest")) {
            try repository.removeTarget(tag, from: role)
            removed.append(tag)
        }
        guard !removed.isEmpty else {
            throw TrustError.noTrustData(allTags ? "\(location.gun): no signed tags to revoke" : "No valid trust data for \(name.tag ?? "latest")")
        }
        try publish(&repository, location: location, ring: ring)
        return Array(Set(removed)).sorted()
    }

    /// Adds signer `signer` with `keys` (and to the releases role, as Docker does); makes
    /// the collection when there is none.
    public func addSigner(_ signer: String, keys: [PublicKey], to name: ImageName) throws -> Bool {
        let location = try location(of: name)
        var ring = SigningKeys()
        return try removingCreatedKeys(&ring) { ring in
            var (repository, collection) = try openRepository(location, ring: &ring)
            if let collection { _ = try heldKeys(Self.keys(of: TopRole.targets, in: collection), role: TopRole.targets, into: &ring) }
            try loadKeys(for: [], collection: collection, ring: &ring)
            // The signer's own key, when this host holds it, signs the new roles' first files
            // (TUF lists every role in the snapshot; without them a lookup stops at the role).
            for role in [TrustNames.role(ofSigner: signer, dialect: location.dialect), TrustNames.releases(location.dialect)] {
                _ = try heldKeys(keys.map { ($0.keyID(dialect: location.dialect), $0) }, role: role, into: &ring)
            }
            let all = location.dialect == .notary ? [""] : ["*"]
            for role in [TrustNames.role(ofSigner: signer, dialect: location.dialect), TrustNames.releases(location.dialect)] {
                try repository.addDelegation(role, keys: keys, threshold: 1, paths: all)
            }
            try publish(&repository, location: location, ring: ring)
            return collection == nil
        }
    }

    /// Removes signer `signer`: its role, and its keys from the releases role.
    public func removeSigner(_ signer: String, from name: ImageName) throws {
        let location = try location(of: name)
        var ring = SigningKeys()
        let collection = try update(location)
        var repository = TrustRepository(collection: collection, gun: location.gun)
        let role = TrustNames.role(ofSigner: signer, dialect: location.dialect)
        let keyIDs = Self.keyIDs(of: role, in: collection)
        guard !keyIDs.isEmpty else { throw TrustError.noTrustData("\(location.gun): no signer \(signer)") }
        _ = try heldKeys(Self.keys(of: TopRole.targets, in: collection), role: TopRole.targets, into: &ring)
        try loadKeys(for: [], collection: collection, ring: &ring)
        try repository.removeDelegation(role)
        let releases = TrustNames.releases(location.dialect)
        let releaseKeys = Self.keyIDs(of: releases, in: collection)
        if !releaseKeys.isEmpty {
            if Set(releaseKeys).isSubset(of: keyIDs) { try repository.removeDelegation(releases) }
            else { try repository.removeDelegationKeys(releases, keyIDs: keyIDs) }
        }
        try publish(&repository, location: location, ring: ring)
    }

    func publish(_ repository: inout TrustRepository, location: Location, ring: SigningKeys) throws {
        guard let publisher = location.publisher else {
            throw TrustError.unavailable("\(location.gun): netctl publishes a static repository only to a directory (tuf+file:///DIR), not to \(location.server)")
        }
        let files = try repository.sign(with: KeyRing(ring.keys), now: now)
        try publisher.publish(files, repository: repository)
    }

    /// Every (tag, role) signature of the collection's verified roles, each role's own.
    public static func signedTags(_ collection: TrustedCollection) -> [(tag: String, role: RoleName)] {
        collection.targets.sorted { $0.key < $1.key }.flatMap { role, metadata -> [(tag: String, role: RoleName)] in
            guard case .targets(let targets) = metadata.signed else { return [] }
            return targets.targets.keys.sorted().map { ($0, role) }
        }
    }

    /// The collection as it stands, for `trust inspect`.
    public func inspect(_ name: ImageName) throws -> (collection: TrustedCollection, dialect: TrustDialect) {
        let location = try location(of: name)
        return (try update(location), location.dialect)
    }
}
