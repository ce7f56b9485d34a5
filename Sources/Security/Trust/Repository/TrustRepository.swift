/// One trust collection as its publisher holds it: the roles' metadata to change, and the
/// files last signed. Changes (`setTarget`, `addDelegation`, `rotateRootKeys`, …) edit the
/// model and mark the roles they touch; `sign(with:now:)` then gives each marked role its
/// next version and signatures, and re-signs snapshot and timestamp over the result, as
/// `notary publish` and python-tuf's repository tools do.
///
/// It never talks to a network: a Notary publisher posts what `sign` returns, a static
/// repository is what `writeStatic(to:)` leaves on disk.
public struct TrustRepository: Sendable {
    public let gun: String
    public let dialect: TrustDialect
    public internal(set) var root: RootMetadata
    /// The top-level targets role and every delegated one, by role name.
    public internal(set) var targets: [RoleName: TargetsMetadata]
    public internal(set) var snapshot: SnapshotMetadata
    public internal(set) var timestamp: TimestampMetadata
    /// The files last signed (or received), by role.
    public internal(set) var files: [RoleName: [UInt8]]
    /// The versions of `files`, which the model's run ahead of until `sign`.
    public internal(set) var fileVersions: [RoleName: Int]
    /// Every root file known, by version: a client that trusts version 1 walks them all to
    /// reach the newest, so a static repository keeps each one.
    public var rootHistory: [Int: [UInt8]]

    /// Roles changed since the last signing, already at their next version (a role changed
    /// twice is bumped once).
    var pending: Set<RoleName>
    /// The last versions of delegated roles removed: a role delegated again goes on from there.
    var retiredVersions: [RoleName: Int] = [:]
    /// The root role of the last root signed: a new root must satisfy it as well as itself,
    /// so that a client trusting the old root accepts the new one.
    var previousRoot: (keys: [String: PublicKey], role: RoleKeys)
    /// Each role's `signed` member as received, so that re-signing keeps what netctl does
    /// not model (TUF's unknown fields, `custom`).
    var received: [RoleName: TrustJSON] = [:]
    /// The keys `create` was given, for its first signing only.
    var creationKeys: KeyRing?

    // MARK: - Lifetimes

    /// How long a role's signature holds, as Notary sets it: root 10 years, targets and
    /// delegations 3 years, snapshot 3 years, timestamp 14 days.
    public static func lifetime(of role: RoleName) -> Int64 {
        let day: Int64 = 86_400
        switch role {
        case TopRole.root: return 3_652 * day
        case TopRole.timestamp: return 14 * day
        default: return 1_095 * day
        }
    }

    // MARK: - A new collection

    /// A new collection at version 1: root lists the keys of all four roles, targets is
    /// empty. Notary lists each root key as a self-signed certificate (CN = the GUN), as the
    /// notary CLI does. A role whose private key is not given must be in `serverKeys` (Docker
    /// leaves snapshot and timestamp to the Notary server); `sign` then leaves its file to
    /// the server. Call `sign` to get the files: it may use the keys given here.
    public static func create(gun: String, dialect: TrustDialect, rootKeys: [PrivateKey], targetsKey: PrivateKey,
                              snapshotKey: PrivateKey?, timestampKey: PrivateKey?,
                              serverKeys: [RoleName: PublicKey] = [:], now: TrustTime) throws(TrustError) -> TrustRepository {
        guard !rootKeys.isEmpty else { throw .key("\(gun): a new collection needs a root key, got none") }
        var keys: [String: PublicKey] = [:]
        var roles: [RoleName: RoleKeys] = [:]
        var ring: [String: PrivateKey] = [:]
        let rootExpires = now.plusLifetime(lifetime(of: TopRole.root))

        var rootIDs: [String] = []
        for key in rootKeys {
            let listed = dialect == .notary
                ? try key.selfSignedCertificate(commonName: gun, notAfter: rootExpires)
                : key.publicKey.forMetadata(dialect)
            let id = listed.keyID(dialect: dialect)
            keys[id] = listed
            ring[id] = key
            if !rootIDs.contains(id) { rootIDs.append(id) }
        }
        roles[TopRole.root] = RoleKeys(keyIDs: rootIDs, threshold: 1)

        for (role, key) in [(TopRole.targets, Optional(targetsKey)), (TopRole.snapshot, snapshotKey), (TopRole.timestamp, timestampKey)] {
            let listed: PublicKey
            if let key {
                listed = key.publicKey.forMetadata(dialect)
                ring[listed.keyID(dialect: dialect)] = key
            } else if let server = serverKeys[role] {
                listed = server.forMetadata(dialect)
            } else {
                throw .key("\(gun): no key for \(role): expected its private key or the server's public key")
            }
            let id = listed.keyID(dialect: dialect)
            keys[id] = listed
            roles[role] = RoleKeys(keyIDs: [id], threshold: 1)
        }

        let root = RootMetadata(version: 1, expires: rootExpires, consistentSnapshot: dialect == .tuf, keys: keys, roles: roles)
        var repository = TrustRepository(
            gun: gun, dialect: dialect, root: root,
            targets: [TopRole.targets: TargetsMetadata(version: 1, expires: now.plusLifetime(lifetime(of: TopRole.targets)))],
            snapshot: SnapshotMetadata(version: 1, expires: now.plusLifetime(lifetime(of: TopRole.snapshot)), meta: [:]),
            timestamp: TimestampMetadata(version: 1, expires: now.plusLifetime(lifetime(of: TopRole.timestamp)), meta: [:]),
            files: [:], fileVersions: [:], rootHistory: [:], pending: Set(TopRole.all),
            previousRoot: (keys, roles[TopRole.root]!))
        repository.creationKeys = KeyRing(ring)
        return repository
    }

    // MARK: - A published collection

    /// A collection as a client trusted it, to change and sign again. `gun` names it in
    /// messages (a client's collection does not carry it).
    public init(collection: TrustedCollection, gun: String = "") {
        let dialect = collection.root.dialect
        var root = RootMetadata(version: 0, expires: TrustTime(seconds: 0), consistentSnapshot: false, keys: [:], roles: [:])
        if case .root(let part) = collection.root.signed { root = part }
        var targets: [RoleName: TargetsMetadata] = [:]
        var files: [RoleName: [UInt8]] = [:]
        var versions: [RoleName: Int] = [:]
        var received: [RoleName: TrustJSON] = [:]
        for metadata in [collection.root, collection.snapshot, collection.timestamp] + Array(collection.targets.values) {
            files[metadata.role] = metadata.fileBytes
            versions[metadata.role] = metadata.signed.version
            // Kept only when it holds what the model does not (unknown members, other
            // spellings): merging with it costs more than writing the role afresh.
            if let member = MetadataCodec.signedMember(of: metadata), member != MetadataCodec.signedJSON(metadata.signed, dialect: dialect) {
                received[metadata.role] = member
            }
            if case .targets(let part) = metadata.signed { targets[metadata.role] = part }
        }
        var snapshot = SnapshotMetadata(version: 0, expires: TrustTime(seconds: 0), meta: [:])
        if case .snapshot(let part) = collection.snapshot.signed { snapshot = part }
        var timestamp = TimestampMetadata(version: 0, expires: TrustTime(seconds: 0), meta: [:])
        if case .timestamp(let part) = collection.timestamp.signed { timestamp = part }

        self.init(gun: gun, dialect: dialect, root: root, targets: targets, snapshot: snapshot, timestamp: timestamp,
                  files: files, fileVersions: versions, rootHistory: [root.version: collection.root.fileBytes], pending: [],
                  previousRoot: (root.keys, root.roles[TopRole.root] ?? RoleKeys(keyIDs: [], threshold: 1)))
        self.received = received
    }

    init(gun: String, dialect: TrustDialect, root: RootMetadata, targets: [RoleName: TargetsMetadata],
         snapshot: SnapshotMetadata, timestamp: TimestampMetadata, files: [RoleName: [UInt8]], fileVersions: [RoleName: Int],
         rootHistory: [Int: [UInt8]], pending: Set<RoleName>, previousRoot: (keys: [String: PublicKey], role: RoleKeys)) {
        self.gun = gun
        self.dialect = dialect
        self.root = root
        self.targets = targets
        self.snapshot = snapshot
        self.timestamp = timestamp
        self.files = files
        self.fileVersions = fileVersions
        self.rootHistory = rootHistory
        self.pending = pending
        self.previousRoot = previousRoot
    }

    /// Roles changed and not yet signed.
    public var changedRoles: Set<RoleName> { pending }

    /// "GUN: " before a message, when the collection's name is known.
    var named: String { gun.isEmpty ? "" : "\(gun): " }
}

extension TrustTime {
    func plusLifetime(_ seconds: Int64) -> TrustTime { TrustTime(seconds: self.seconds + seconds) }
}
