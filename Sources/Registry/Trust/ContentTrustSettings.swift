import FoundationEssentials
import Runtime
import Security

/// Whether content trust is on, where trust data lives, and what a host requires: from the
/// environment (Docker's variables honoured beside netctl's) and the state root's
/// config.json, whose `content-trust` member follows Docker Engine's daemon.json:
///
///     "content-trust": {
///       "mode": "enforced",
///       "trust-server": "https://notary.example:4443",
///       "required-signers": {"registry.example/prod/*": ["secops"]},
///       "trust-pinning": {"root-keys": {"registry.example/prod/*": ["KEYID", …]}}
///     }
public struct ContentTrustSettings: Sendable, Equatable {
    /// Pull, push, run and import by tag go through trust data.
    public var enabled: Bool
    /// The trust server for every repository: Notary at `https://HOST:PORT`, or a static
    /// TUF repository at `tuf+https://…`, `tuf+http://…` or `tuf+file:///DIR` (its
    /// collections in `<base>/<GUN>/`). Nil: Docker's default, `https://notary.docker.io`
    /// for Docker Hub and `https://REGISTRY` for any other.
    public var server: String?
    /// Keys and the last trusted metadata: `<dir>/private`, `<dir>/tuf/<GUN>/metadata`.
    public var directory: String
    /// Repository patterns (a GUN, or a prefix ending in `*`) to the signer roles that must
    /// each have signed a tag (`secops` means `targets/secops`).
    public var requiredSigners: [(pattern: String, signers: [String])]
    /// Repository patterns to the root key IDs a collection's root must be signed with,
    /// instead of trusting the first root seen.
    public var pinnedRootKeys: [(pattern: String, keyIDs: [String])]

    public init(enabled: Bool, server: String? = nil, directory: String,
                requiredSigners: [(pattern: String, signers: [String])] = [], pinnedRootKeys: [(pattern: String, keyIDs: [String])] = []) {
        self.enabled = enabled
        self.server = server
        self.directory = directory
        self.requiredSigners = requiredSigners
        self.pinnedRootKeys = pinnedRootKeys
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.enabled == b.enabled && a.server == b.server && a.directory == b.directory
            && a.requiredSigners.elementsEqual(b.requiredSigners) { $0.pattern == $1.pattern && $0.signers == $1.signers }
            && a.pinnedRootKeys.elementsEqual(b.pinnedRootKeys) { $0.pattern == $1.pattern && $0.keyIDs == $1.keyIDs }
    }

    /// The settings in effect. `policy` is config.json's `content-trust` member, if any.
    public static func load(stateRoot: String, environment: [String: String] = ProcessInfo.processInfo.environment, policy: TrustJSON?) throws(RegistryError) -> ContentTrustSettings {
        func variable(_ names: String...) -> String? {
            names.lazy.compactMap { environment[$0] }.first { !$0.isEmpty }
        }
        var settings = ContentTrustSettings(enabled: false, directory: variable("NETCTL_TRUST_DIR") ?? stateRoot + "/trust")
        if let policy { try settings.apply(policy: policy) }
        if let flag = variable("NETCTL_CONTENT_TRUST", "DOCKER_CONTENT_TRUST") {
            switch flag.lowercased() {
            case "1", "true", "yes", "on": settings.enabled = true
            case "0", "false", "no", "off": if !settings.policyEnforced { settings.enabled = false }
            default:
                throw RegistryError(.input, "NETCTL_CONTENT_TRUST=\"\(flag)\": expected 1 or 0 (true or false)")
            }
        }
        if let server = variable("NETCTL_CONTENT_TRUST_SERVER", "DOCKER_CONTENT_TRUST_SERVER") { settings.server = server }
        if let server = settings.server { try Self.checkServer(server) }
        return settings
    }

    /// A policy that enforces trust cannot be turned off from the environment.
    private var policyEnforced = false

    private mutating func apply(policy: TrustJSON) throws(RegistryError) {
        let what = "config.json content-trust"
        guard let members = policy.object else { throw RegistryError(.input, "\(what): expected an object ({\"mode\": \"enforced\"})") }
        for (key, value) in members {
            switch key {
            case "mode":
                switch value.string {
                case "enforced": enabled = true; policyEnforced = true
                case "permissive", "disabled": break
                default: throw RegistryError(.input, "\(what) mode \(Self.show(value)): expected \"enforced\", \"permissive\" or \"disabled\"")
                }
            case "trust-server":
                guard let server = value.string else { throw RegistryError(.input, "\(what) trust-server: expected a URL") }
                self.server = server
            case "required-signers":
                requiredSigners = try Self.patternLists(value, what: "\(what) required-signers", item: "signer names")
                for (_, signers) in requiredSigners {
                    for signer in signers where !TrustNames.isSignerName(signer) {
                        throw RegistryError(.input, "\(what) required-signers: \"\(signer)\" is not a signer name (expected lowercase letters, digits, - and _)")
                    }
                }
            case "trust-pinning":
                guard let pinning = value.object else { throw RegistryError(.input, "\(what) trust-pinning: expected {\"root-keys\": {…}}") }
                for (pinKey, pinValue) in pinning {
                    switch pinKey {
                    case "root-keys": pinnedRootKeys = try Self.patternLists(pinValue, what: "\(what) trust-pinning root-keys", item: "key IDs").map { ($0.pattern, $0.signers) }
                    case "library-images": break
                    default: throw RegistryError(.input, "\(what) trust-pinning: unknown key \"\(pinKey)\" (expected \"root-keys\")")
                    }
                }
            default:
                throw RegistryError(.input, "\(what): unknown key \"\(key)\" (expected mode, trust-server, required-signers, trust-pinning)")
            }
        }
    }

    private static func patternLists(_ value: TrustJSON, what: String, item: String) throws(RegistryError) -> [(pattern: String, signers: [String])] {
        guard let members = value.object else { throw RegistryError(.input, "\(what): expected {\"REPOSITORY or PREFIX*\": [\(item)]}") }
        var lists: [(pattern: String, signers: [String])] = []
        for (pattern, list) in members.sorted(by: { $0.key < $1.key }) {
            guard let names = list.array?.compactMap(\.string), names.count == list.array?.count, !names.isEmpty else {
                throw RegistryError(.input, "\(what) \"\(pattern)\": expected a non-empty list of \(item)")
            }
            lists.append((pattern, names))
        }
        return lists
    }

    private static func show(_ value: TrustJSON) -> String { String(decoding: value.canonical, as: UTF8.self) }

    static func checkServer(_ server: String) throws(RegistryError) {
        // A Notary server speaks TLS (as Docker requires); a static repository may be plain
        // HTTP, since every file it serves is signed.
        let known = ["https://", "tuf+https://", "tuf+http://", "tuf+file://"]
        guard known.contains(where: server.hasPrefix), server.count > 8 else {
            throw RegistryError(.input, "trust server \"\(server)\": expected https://HOST[:PORT] (Notary) or tuf+https://…, tuf+http://…, tuf+file:///DIR (a static TUF repository)")
        }
    }

    /// The most specific pattern matching `gun`: the GUN itself, else the longest prefix
    /// pattern (`registry.example/prod/*`).
    static func match<T>(_ gun: String, in lists: [(pattern: String, signers: T)]) -> T? {
        if let exact = lists.first(where: { $0.pattern == gun }) { return exact.signers }
        return lists.filter { $0.pattern.hasSuffix("*") && gun.hasPrefix($0.pattern.dropLast()) }
            .max { $0.pattern.count < $1.pattern.count }?.signers
    }

    /// The signer roles `gun` requires.
    public func requiredSigners(for gun: String) -> [String] { Self.match(gun, in: requiredSigners) ?? [] }

    public func pinnedRootKeys(for gun: String) -> [String]? {
        Self.match(gun, in: pinnedRootKeys.map { (pattern: $0.pattern, signers: $0.keyIDs) })
    }
}

/// How roles are named in each dialect.
public enum TrustNames {
    /// A signer's name, as `docker trust signer add` accepts it.
    public static func isSignerName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 64 && name != "releases"
            && name.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2d || $0 == 0x5f }
            && name.utf8.first.map { $0 != 0x2d && $0 != 0x5f } == true
    }

    /// The role a signer signs into: `targets/secops` (Notary), `secops` (TUF).
    public static func role(ofSigner name: String, dialect: TrustDialect) -> RoleName {
        dialect == .notary ? "targets/\(name)" : name
    }

    /// Docker's releases role, which every signer also signs into.
    public static func releases(_ dialect: TrustDialect) -> RoleName { role(ofSigner: "releases", dialect: dialect) }

    /// The signer's name of a delegated role.
    public static func signer(ofRole role: RoleName) -> String {
        role.hasPrefix("targets/") ? String(role.dropFirst("targets/".count)) : role
    }
}
