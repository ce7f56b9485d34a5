/// The four top-level roles and delegated targets roles of one trust collection, as one
/// model for both dialects: TUF 1.0 (python-tuf, PEP 458) and Notary v1 (Docker Content
/// Trust). The dialects differ only in how these are written (see `TrustDialect`).

/// Which specification a collection's files follow.
public enum TrustDialect: String, Sendable, Equatable {
    /// TUF 1.0: `"_type": "root"`, hex signatures and key values, `spec_version`, versioned
    /// meta entries (`"targets.json": {"version": 3}`), files named `3.root.json`.
    case tuf
    /// Notary v1: `"_type": "Root"`, base64 signatures and key values, meta entries with
    /// length and hashes (`"targets": {"length": …, "hashes": …}`), role names as paths
    /// (`targets/releases`), an x509 certificate as the root key.
    case notary
}

/// A role's name: `root`, `targets`, `snapshot`, `timestamp`, or a delegated targets role
/// (`targets/releases`, `targets/secops` in Notary; `releases` in TUF).
public typealias RoleName = String

public enum TopRole {
    public static let root: RoleName = "root"
    public static let targets: RoleName = "targets"
    public static let snapshot: RoleName = "snapshot"
    public static let timestamp: RoleName = "timestamp"
    public static let all: [RoleName] = [root, targets, snapshot, timestamp]
}

/// A point in time, in whole seconds since the epoch (UTC), as metadata's `expires` holds.
public struct TrustTime: Comparable, Hashable, Sendable {
    public var seconds: Int64
    public init(seconds: Int64) { self.seconds = seconds }
    public static func < (a: TrustTime, b: TrustTime) -> Bool { a.seconds < b.seconds }
}

/// Which keys may sign a role, and how many of them must.
public struct RoleKeys: Equatable, Sendable {
    public var keyIDs: [String]
    public var threshold: Int
    public init(keyIDs: [String], threshold: Int) {
        self.keyIDs = keyIDs
        self.threshold = threshold
    }
}

/// The root role: the keys of every top-level role, and its own.
public struct RootMetadata: Equatable, Sendable {
    public var version: Int
    public var expires: TrustTime
    public var consistentSnapshot: Bool
    public var keys: [String: PublicKey]
    public var roles: [RoleName: RoleKeys]
    public init(version: Int, expires: TrustTime, consistentSnapshot: Bool, keys: [String: PublicKey], roles: [RoleName: RoleKeys]) {
        self.version = version
        self.expires = expires
        self.consistentSnapshot = consistentSnapshot
        self.keys = keys
        self.roles = roles
    }
}

/// One target: for netctl, a tag naming an image manifest (its length and sha256).
public struct TargetFile: Equatable, Sendable {
    public var length: Int64
    /// Algorithm ("sha256", "sha512") to the raw digest bytes.
    public var hashes: [String: [UInt8]]
    /// TUF's free-form `custom` member, kept so that re-signing does not drop it.
    public var custom: TrustJSON?
    public init(length: Int64, hashes: [String: [UInt8]], custom: TrustJSON? = nil) {
        self.length = length
        self.hashes = hashes
        self.custom = custom
    }
}

/// A delegated targets role, as its delegator lists it.
public struct Delegation: Equatable, Sendable {
    public var name: RoleName
    public var keys: RoleKeys
    /// The target paths it may sign: shell-style patterns in TUF, prefixes in Notary
    /// (`""` is every path). Nil when `pathHashPrefixes` is used instead.
    public var paths: [String]?
    public var pathHashPrefixes: [String]?
    public var terminating: Bool
    public init(name: RoleName, keys: RoleKeys, paths: [String]?, pathHashPrefixes: [String]? = nil, terminating: Bool = false) {
        self.name = name
        self.keys = keys
        self.paths = paths
        self.pathHashPrefixes = pathHashPrefixes
        self.terminating = terminating
    }
}

/// The targets role or a delegated one.
public struct TargetsMetadata: Equatable, Sendable {
    public var version: Int
    public var expires: TrustTime
    public var targets: [String: TargetFile]
    /// The keys of the delegated roles, by key ID, and the roles in order of priority.
    public var delegationKeys: [String: PublicKey]
    public var delegations: [Delegation]
    public init(version: Int, expires: TrustTime, targets: [String: TargetFile] = [:],
                delegationKeys: [String: PublicKey] = [:], delegations: [Delegation] = []) {
        self.version = version
        self.expires = expires
        self.targets = targets
        self.delegationKeys = delegationKeys
        self.delegations = delegations
    }
}

/// What snapshot and timestamp say of another role's file.
public struct MetaFile: Equatable, Sendable {
    /// Required in TUF; Notary has none and pins by hashes.
    public var version: Int?
    public var length: Int64?
    public var hashes: [String: [UInt8]]?
    public init(version: Int?, length: Int64? = nil, hashes: [String: [UInt8]]? = nil) {
        self.version = version
        self.length = length
        self.hashes = hashes
    }
}

/// The snapshot role (role name → the file of each targets role, and in Notary root's too)
/// or the timestamp role (`snapshot` → the snapshot file). Keys are role names, whatever
/// the dialect writes (`targets.json` in TUF, `targets` in Notary).
public struct SnapshotMetadata: Equatable, Sendable {
    public var version: Int
    public var expires: TrustTime
    public var meta: [RoleName: MetaFile]
    public init(version: Int, expires: TrustTime, meta: [RoleName: MetaFile]) {
        self.version = version
        self.expires = expires
        self.meta = meta
    }
}
public typealias TimestampMetadata = SnapshotMetadata

/// Any role's signed part.
public enum SignedPart: Equatable, Sendable {
    case root(RootMetadata)
    case targets(TargetsMetadata)
    case snapshot(SnapshotMetadata)
    case timestamp(TimestampMetadata)

    public var version: Int {
        switch self {
        case .root(let m): m.version
        case .targets(let m): m.version
        case .snapshot(let m), .timestamp(let m): m.version
        }
    }
    public var expires: TrustTime {
        switch self {
        case .root(let m): m.expires
        case .targets(let m): m.expires
        case .snapshot(let m), .timestamp(let m): m.expires
        }
    }
}

/// One signature over a role's canonical `signed` bytes.
public struct TrustSignature: Equatable, Sendable {
    public var keyID: String
    /// Notary's `method` ("ecdsa", "eddsa" for ed25519 keys, "rsapss"); TUF keeps the scheme in the key.
    public var method: String?
    public var bytes: [UInt8]
    public init(keyID: String, method: String? = nil, bytes: [UInt8]) {
        self.keyID = keyID
        self.method = method
        self.bytes = bytes
    }
}

/// A metadata file as received: its parsed parts, the canonical bytes its signatures cover,
/// and the file's own bytes (which snapshot and timestamp hash).
public struct SignedMetadata: Equatable, Sendable {
    public var role: RoleName
    public var dialect: TrustDialect
    public var signed: SignedPart
    public var signatures: [TrustSignature]
    /// The canonical encoding of the file's `signed` member, exactly as received (unknown
    /// members included).
    public var signedBytes: [UInt8]
    /// The file itself.
    public var fileBytes: [UInt8]
    public init(role: RoleName, dialect: TrustDialect, signed: SignedPart, signatures: [TrustSignature], signedBytes: [UInt8], fileBytes: [UInt8]) {
        self.role = role
        self.dialect = dialect
        self.signed = signed
        self.signatures = signatures
        self.signedBytes = signedBytes
        self.fileBytes = fileBytes
    }
}
