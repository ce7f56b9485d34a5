import Glibc
import Runtime
import Security

/// A tag as trust data has it: what `pull`, `run` and `import` fetch or accept in its place.
public struct TrustedTarget: Sendable, Equatable {
    public var name: ImageName
    public var digest: Digest
    public var length: Int64
    /// The role whose signature it was found under (`targets`, `targets/releases`).
    public var role: RoleName
    /// `127.0.0.1:5000/team/app:1.0@sha256:…`: pulls the signed manifest and keeps the tag.
    public var pinned: String { "\(name.registry)/\(name.repository):\(name.tag ?? "latest")@\(digest)" }
}

/// Content trust for a repository: resolving a tag through its trust collection, and
/// signing one into it, against a Notary server or a static TUF repository.
public struct ContentTrust: Sendable {
    public var settings: ContentTrustSettings
    public var configuration: RegistryConfiguration
    public var now: TrustTime
    /// Asked for a key's passphrase: (role, key ID, whether the key is being made).
    public var passphrase: @Sendable (RoleName, String, Bool) throws -> String

    public init(settings: ContentTrustSettings, configuration: RegistryConfiguration, now: TrustTime = .now,
                passphrase: @escaping @Sendable (RoleName, String, Bool) throws -> String = { role, _, _ in
                    throw TrustError.key("no passphrase for the \(role) key (set NETCTL_CONTENT_TRUST_\(role == "root" ? "ROOT" : "REPOSITORY")_PASSPHRASE)")
                }) {
        self.settings = settings
        self.configuration = configuration
        self.now = now
        self.passphrase = passphrase
    }

    /// The collection's name: `registry/repository`, as Docker names it.
    public static func gun(of name: ImageName) -> String { "\(name.registry)/\(name.repository)" }

    // MARK: Where a collection lives

    /// A collection's place: its source, dialect, and how changes reach it.
    struct Location {
        var gun: String
        var dialect: TrustDialect
        var source: any TrustSource
        var server: String
        /// Nil for a static repository read over HTTP: it is published by copying files.
        var publisher: (any TrustPublisher)?
        var state: TrustStateStore
    }

    func server(for name: ImageName) -> String {
        if let server = settings.server { return server }
        return name.registry == ImageName.dockerHub ? "https://notary.docker.io" : "https://\(name.registry)"
    }

    func location(of name: ImageName) throws -> Location {
        let gun = Self.gun(of: name)
        let server = server(for: name)
        let state = TrustStateStore(directory: settings.directory, gun: gun)
        if server.hasPrefix("tuf+") {
            let base = String(server.dropFirst(4))
            let source = try StaticTrustSource(base: base, gun: gun)
            let publisher: (any TrustPublisher)? = base.hasPrefix("file://") ? StaticDirectoryPublisher(directory: String(base.dropFirst(7)) + "/" + gun) : nil
            return Location(gun: gun, dialect: .tuf, source: source, server: server, publisher: publisher, state: state)
        }
        let source = try NotarySource(server: server, gun: gun, configuration: configuration)
        return Location(gun: gun, dialect: .notary, source: source, server: server, publisher: NotaryPublisher(source), state: state)
    }

    // MARK: Verifying

    /// The collection, brought up to date and checked (the TUF client workflow), its root
    /// against the pinned keys: for signing and inspecting as much as for verifying.
    func update(_ location: Location) throws -> TrustedCollection {
        try TrustClient(gun: location.gun, dialect: location.dialect, source: location.source, state: location.state, now: now,
                        pinnedRootKeyIDs: settings.pinnedRootKeys(for: location.gun)).update()
    }

    /// The signed manifest of `name`'s tag, checked against every required signer.
    public func verify(_ name: ImageName) throws -> TrustedTarget {
        let tag = name.tag ?? "latest"
        let location = try location(of: name)
        let collection = try update(location)
        let required = settings.requiredSigners(for: location.gun).map { TrustNames.role(ofSigner: $0, dialect: location.dialect) }
        let (file, role) = try collection.target(tag, requiredRoles: required)
        guard let hash = file.hashes["sha256"], hash.count == 32 else {
            throw TrustError.malformed("\(location.gun): target \(tag) has no sha256 hash")
        }
        return TrustedTarget(name: name, digest: Digest(hex: TrustEncoding.hex(hash)), length: file.length, role: role)
    }
}
