import CNM

/// A named bundle of run settings — capabilities, security options (seccomp, AppArmor,
/// no-new-privileges), read-only rootfs, user and limits — used with `run --profile NAME`.
/// Flags given with `run` override it: scalars replace the profile's, lists are applied
/// after the profile's (so `--cap-add X` on top of a profile that drops ALL keeps just X).
public struct SecureRunProfile: Codable, Sendable {
    public var name: String
    public var capAdd: [String] = []
    public var capDrop: [String] = []
    public var securityOptions: [String] = []
    public var readOnly = false
    public var user: String?
    public var memory: String?
    public var cpus: String?
    public var pidsLimit: String?
    public var builtin = false

    public init(name: String) { self.name = name }

    /// Shipped with netctl: Docker's defaults, and a locked-down one.
    public static let builtins: [SecureRunProfile] = {
        var restricted = SecureRunProfile(name: "restricted")
        restricted.capDrop = ["ALL"]
        restricted.securityOptions = ["no-new-privileges"]
        restricted.readOnly = true
        restricted.user = "65534:65534"
        restricted.pidsLimit = "256"
        restricted.builtin = true
        var standard = SecureRunProfile(name: "default")
        standard.builtin = true
        return [standard, restricted]
    }()

    /// The request with this profile under it.
    public func apply(to request: RunRequest) -> RunRequest {
        var merged = request
        merged.capAdd = capAdd + request.capAdd
        merged.capDrop = capDrop + request.capDrop
        merged.securityOptions = securityOptions + request.securityOptions
        merged.readOnly = readOnly || request.readOnly
        merged.user = request.user ?? user
        merged.memory = request.memory ?? memory
        merged.cpus = request.cpus ?? cpus
        merged.pidsLimit = request.pidsLimit ?? pidsLimit
        return merged
    }
}

extension ContainerRuntime {
    public func profiles() throws -> [SecureRunProfile] {
        let saved = try store.all(SecureRunProfile.self, under: "profiles")
        return (SecureRunProfile.builtins + saved).sorted { $0.name < $1.name }
    }

    public func profile(_ name: String) throws -> SecureRunProfile {
        guard let profile = try profiles().first(where: { $0.name == name }) else {
            let names = try profiles().map(\.name).joined(separator: ", ")
            throw RuntimeError("profile \"\(name)\" not found (there are: \(names))")
        }
        return profile
    }

    /// Saves a profile after checking that a container could be run with it.
    /// A seccomp profile it names is compiled once here (so a bad one is refused now) and
    /// kept by its absolute path.
    public func createProfile(_ profile: SecureRunProfile) throws {
        do { try validateName(profile.name, of: "profile") } catch let error as CNMError { throw RuntimeError(error.description) }
        var profile = profile
        profile.securityOptions = profile.securityOptions.map { option in
            guard option.hasPrefix("seccomp="), option != "seccomp=unconfined" else { return option }
            return "seccomp=" + absolutePath(String(option.dropFirst(8)))
        }
        let probe = profile.apply(to: RunRequest(image: ""))
        let security = try securitySettings(probe)
        let capabilities = try capabilitySets(security, uid: 0)
        if let path = security.seccompProfile, path != ContainerRecord.SecuritySettings.builtinSeccomp {
            _ = try SeccompCache(directory: "\(storage)/seccomp").filter(profilePath: path, capabilities: capabilities.bounding)
        }
        _ = try probe.memory.map(Self.parseMemory)
        _ = try probe.cpus.map(Self.parseCPUs)
        _ = try probe.pidsLimit.map(Self.parsePids)
        try probe.user.map(UserLookup.checkNumbers)
        try store.locked {
            if try profiles().contains(where: { $0.name == profile.name }) {
                throw RuntimeError("profile \"\(profile.name)\" already exists")
            }
            try store.put("profiles/\(profile.name)", profile)
        }
    }

    public func removeProfile(_ name: String) throws {
        let profile = try profile(name)
        guard !profile.builtin else { throw RuntimeError("profile \"\(name)\" is built in and cannot be removed") }
        try store.delete("profiles/\(name)")
    }
}
