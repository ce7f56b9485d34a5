import ArgumentParser
import CNM
import Runtime
import Glibc

/// Options every command takes: where state lives and which namespace is the host. They
/// may also come before the subcommand (`netctl --root DIR network ls`), as docker's and
/// podman's do.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("State root (env NETCTL_ROOT).", valueName: "DIR"))
    var root: String?

    @Option(name: .long, help: ArgumentHelp("Treat this named network namespace as the host (env NETCTL_HOST_NETNS).", valueName: "NAME"))
    var hostNetns: String?

    @Option(name: .long, help: ArgumentHelp("Pool for networks created without --subnet, repeatable (env NETCTL_DEFAULT_ADDRESS_POOLS).", valueName: "base=CIDR,size=N"))
    var defaultAddressPool: [String] = []

    var values: Globals { Globals(root: root, hostNetns: hostNetns, defaultAddressPools: defaultAddressPool) }

    var rootPath: String { values.rootPath }
    func controller() throws -> NetworkController { try values.controller() }
    func runtime() throws -> ContainerRuntime { try values.runtime() }
    func ociRuntime() throws -> OCIRuntime { try values.ociRuntime() }
    func images() throws -> ImageStore { try values.images() }
}

/// The global options as plain values, for the commands parsed without ArgumentParser too.
struct Globals {
    var root: String?
    var hostNetns: String?
    var defaultAddressPools: [String] = []

    /// What each global option's spelling sets, for the hand-written parser.
    static func setter(for name: String) -> ((inout Globals, String) -> Void)? {
        switch name {
        case "--root": { $0.root = $1 }
        case "--host-netns": { $0.hostNetns = $1 }
        case "--default-address-pool": { $0.defaultAddressPools.append($1) }
        default: nil
        }
    }

    /// Global options given before the subcommand become the environment variables they
    /// stand for, which every command reads when its own flags do not say otherwise; the
    /// rest of the line is returned. Only the options before the first word move.
    static func takeLeading(_ arguments: [String]) -> [String] {
        var pools: [String] = []
        var index = 0
        while index < arguments.count {
            var name = arguments[index]
            var value: String?
            if let equals = name.firstIndex(of: "="), name.hasPrefix("--") {
                value = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            guard setter(for: name) != nil else { break }
            if value == nil {
                guard index + 1 < arguments.count else { break }
                index += 1
                value = arguments[index]
            }
            switch name {
            case "--root": setenv("NETCTL_ROOT", value!, 1)
            case "--host-netns": setenv("NETCTL_HOST_NETNS", value!, 1)
            default: pools.append(value!)
            }
            index += 1
        }
        if !pools.isEmpty { setenv("NETCTL_DEFAULT_ADDRESS_POOLS", pools.joined(separator: " "), 1) }
        return Array(arguments[index...])
    }

    var rootPath: String { root ?? environment("NETCTL_ROOT") ?? "/var/lib/netctl" }

    func controller() throws -> NetworkController {
        let store = try LocalStore(root: rootPath)
        return try NetworkController(
            store: store,
            hostNamespace: hostNetns ?? environment("NETCTL_HOST_NETNS"),
            defaultPools: try pools(store: store),
            faults: FaultInjector(point: environment("NETCTL_FAULT")))
    }

    func runtime() throws -> ContainerRuntime {
        ContainerRuntime(root: rootPath, network: try controller())
    }

    func ociRuntime() throws -> OCIRuntime {
        OCIRuntime(store: try LocalStore(root: rootPath), root: rootPath)
    }

    func images() throws -> ImageStore {
        ImageStore(store: try LocalStore(root: rootPath), root: rootPath, faults: FaultInjector(point: environment("NETCTL_FAULT")))
    }

    /// Flags, then the environment, then the root's config.json (Docker's daemon.json key
    /// `default-address-pools`), then Docker's defaults.
    private func pools(store: LocalStore) throws -> [DefaultAddressPool] {
        if !defaultAddressPools.isEmpty { return try defaultAddressPools.map(DefaultAddressPool.parse) }
        if let text = environment("NETCTL_DEFAULT_ADDRESS_POOLS") { return try DefaultAddressPool.parseList(text) }
        if let config = try store.get(RootConfig.self, "config"), let pools = config.defaultAddressPools {
            return try pools.map { try DefaultAddressPool.parse("base=\($0.base),size=\($0.size)") }
        }
        return DefaultAddressPool.dockerDefaults
    }
}

struct RootConfig: Decodable {
    struct Pool: Decodable { var base: String; var size: Int }
    var defaultAddressPools: [Pool]?
    enum CodingKeys: String, CodingKey { case defaultAddressPools = "default-address-pools" }
}

func environment(_ name: String) -> String? {
    guard let value = getenv(name) else { return nil }
    let text = String(cString: value)
    return text.isEmpty ? nil : text
}
