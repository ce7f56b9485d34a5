import ArgumentParser
import CNM
import Runtime
import Glibc

/// Options every command takes: where state lives and which namespace is the host.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("State root (env NETCTL_ROOT).", valueName: "DIR"))
    var root: String?

    @Option(name: .long, help: ArgumentHelp("Treat this named network namespace as the host (env NETCTL_HOST_NETNS).", valueName: "NAME"))
    var hostNetns: String?

    @Option(name: .long, help: ArgumentHelp("Pool for networks created without --subnet, repeatable (env NETCTL_DEFAULT_ADDRESS_POOLS).", valueName: "base=CIDR,size=N"))
    var defaultAddressPool: [String] = []

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
        if !defaultAddressPool.isEmpty { return try defaultAddressPool.map(DefaultAddressPool.parse) }
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
