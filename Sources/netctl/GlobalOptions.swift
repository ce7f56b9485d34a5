import ArgumentParser
import CNM
import Netlink
import Runtime
import VXLAN
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

    @Option(name: .long, help: ArgumentHelp("The cluster store for overlay networks (env NETCTL_CLUSTER_STORE).", valueName: "etcd://HOST:PORT[,…]"))
    var clusterStore: String?

    @Option(name: .long, help: ArgumentHelp("kv.cacertfile, kv.certfile or kv.keyfile for the cluster store's TLS, repeatable (env NETCTL_CLUSTER_CA, _CERT, _KEY).", valueName: "KEY=FILE"))
    var clusterStoreOpt: [String] = []

    @Option(name: .long, help: ArgumentHelp("This host's name in the cluster (env NETCTL_NODE_NAME; default: the hostname).", valueName: "NAME"))
    var nodeName: String?

    @Option(name: .long, help: ArgumentHelp("This host's underlay address, the source of its VXLAN traffic (env NETCTL_ADVERTISE_ADDR).", valueName: "IP"))
    var advertiseAddr: String?

    var values: Globals {
        Globals(root: root, hostNetns: hostNetns, defaultAddressPools: defaultAddressPool, clusterStore: clusterStore,
                clusterStoreOptions: clusterStoreOpt, nodeName: nodeName, advertiseAddress: advertiseAddr)
    }

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
    var clusterStore: String?
    var clusterStoreOptions: [String] = []
    var nodeName: String?
    var advertiseAddress: String?

    /// What each global option's spelling sets, for the hand-written parser.
    static func setter(for name: String) -> ((inout Globals, String) -> Void)? {
        switch name {
        case "--root": { $0.root = $1 }
        case "--host-netns": { $0.hostNetns = $1 }
        case "--default-address-pool": { $0.defaultAddressPools.append($1) }
        case "--cluster-store": { $0.clusterStore = $1 }
        case "--cluster-store-opt": { $0.clusterStoreOptions.append($1) }
        case "--node-name": { $0.nodeName = $1 }
        case "--advertise-addr": { $0.advertiseAddress = $1 }
        default: nil
        }
    }

    static var clusterOptionVariables: [(String, String)] { NetworkStack.clusterOptionVariables }

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
            case "--cluster-store": setenv("NETCTL_CLUSTER_STORE", value!, 1)
            case "--node-name": setenv("NETCTL_NODE_NAME", value!, 1)
            case "--advertise-addr": setenv("NETCTL_ADVERTISE_ADDR", value!, 1)
            case "--cluster-store-opt":
                let pair = value!.split(separator: "=", maxSplits: 1).map(String.init)
                if pair.count == 2, let variable = clusterOptionVariables.first(where: { $0.0 == pair[0] })?.1 {
                    setenv(variable, pair[1], 1)
                } else {
                    setenv("NETCTL_CLUSTER_STORE_OPT_INVALID", value!, 1)
                }
            default: pools.append(value!)
            }
            index += 1
        }
        if !pools.isEmpty { setenv("NETCTL_DEFAULT_ADDRESS_POOLS", pools.joined(separator: " "), 1) }
        return Array(arguments[index...])
    }

    var rootPath: String { root ?? environment("NETCTL_ROOT") ?? "/var/lib/netctl" }

    /// The network stack's settings as these options give them.
    var stack: NetworkStack.Settings {
        NetworkStack.Settings(root: rootPath, hostNetns: hostNetns, defaultAddressPools: defaultAddressPools, clusterStore: clusterStore,
                              clusterStoreOptions: clusterStoreOptions, nodeName: nodeName, advertiseAddress: advertiseAddress)
    }

    func controller() throws -> NetworkController { try NetworkStack.controller(stack) }

    func runtime() throws -> ContainerRuntime {
        ContainerRuntime(root: rootPath, network: try controller())
    }

    func ociRuntime() throws -> OCIRuntime {
        OCIRuntime(store: try LocalStore(root: rootPath), root: rootPath)
    }

    func images() throws -> ImageStore {
        ImageStore(store: try LocalStore(root: rootPath), root: rootPath, faults: FaultInjector(point: environment("NETCTL_FAULT")))
    }
}

func environment(_ name: String) -> String? {
    guard let value = getenv(name) else { return nil }
    let text = String(cString: value)
    return text.isEmpty ? nil : text
}
