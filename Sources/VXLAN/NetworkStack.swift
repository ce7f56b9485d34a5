import CNM
import Glibc

/// A state root's network controller, with every driver (the overlay's included), its
/// address pools and cluster store: what `netctl`, `netctl-cni` and
/// `netctl-docker-plugin` each build from their flags, the environment and the root's
/// config.json.
public enum NetworkStack {
    /// What a command line or a plugin's configuration says; nil leaves it to the
    /// environment (`NETCTL_*`), then to the root's config.json, then to the defaults.
    public struct Settings: Sendable {
        public var root: String
        public var hostNetns: String?
        public var defaultAddressPools: [String] = []
        public var clusterStore: String?
        public var clusterStoreOptions: [String] = []
        public var nodeName: String?
        public var advertiseAddress: String?
        /// Whether the controller serves names through the resolver (netctl-dns); a CNI
        /// plugin does not: its runtime gives the container its resolv.conf.
        public var servesNames = true

        public init(root: String, hostNetns: String? = nil, defaultAddressPools: [String] = [], clusterStore: String? = nil,
                    clusterStoreOptions: [String] = [], nodeName: String? = nil, advertiseAddress: String? = nil) {
            self.root = root
            self.hostNetns = hostNetns
            self.defaultAddressPools = defaultAddressPools
            self.clusterStore = clusterStore
            self.clusterStoreOptions = clusterStoreOptions
            self.nodeName = nodeName
            self.advertiseAddress = advertiseAddress
        }
    }

    /// Docker's `--cluster-store-opt` keys and the variables that stand for them.
    public static let clusterOptionVariables = [
        ("kv.cacertfile", "NETCTL_CLUSTER_CA"), ("kv.certfile", "NETCTL_CLUSTER_CERT"), ("kv.keyfile", "NETCTL_CLUSTER_KEY"),
    ]

    public static func controller(_ settings: Settings) throws -> NetworkController {
        let store = try LocalStore(root: settings.root)
        // config.json is read once, and only when a flag or variable leaves a setting to it.
        var read: RootConfig??
        let config = { () throws -> RootConfig? in
            if let read { return read }
            let value = try store.get(RootConfig.self, "config")
            read = .some(value)
            return value
        }
        let hostNamespace = settings.hostNetns ?? variable("NETCTL_HOST_NETNS")
        return try NetworkController(
            store: store,
            hostNamespace: hostNamespace,
            defaultPools: try pools(settings, config: config),
            drivers: DriverSet.builtin.adding([OverlayDriver(configuration: try cluster(settings, config: config), stateRoot: settings.root)]),
            faults: FaultInjector(point: variable("NETCTL_FAULT")),
            resolver: settings.servesNames ? NetworkController.resolver(forRoot: settings.root, hostNamespace: hostNamespace) : nil)
    }

    /// The overlay driver's view of the cluster: flags, then the environment, then the
    /// root's config.json (Docker's daemon.json keys `cluster-store`, `cluster-store-opts`,
    /// `cluster-advertise`); nil when no cluster store is named. Only read here: nothing
    /// connects until an overlay network is used.
    static func cluster(_ settings: Settings, config: () throws -> RootConfig?) throws -> ClusterConfiguration? {
        if let invalid = variable("NETCTL_CLUSTER_STORE_OPT_INVALID") {
            throw CNMError("invalid --cluster-store-opt \"\(invalid)\": expected kv.cacertfile=FILE, kv.certfile=FILE or kv.keyfile=FILE")
        }
        var options: [String: String] = [:]
        for text in settings.clusterStoreOptions {
            let pair = text.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2, clusterOptionVariables.contains(where: { $0.0 == pair[0] }) else {
                throw CNMError("invalid --cluster-store-opt \"\(text)\": expected kv.cacertfile=FILE, kv.certfile=FILE or kv.keyfile=FILE")
            }
            options[pair[0]] = pair[1]
        }
        for (key, name) in clusterOptionVariables where options[key] == nil {
            if let value = variable(name) { options[key] = value }
        }
        var storeURL = settings.clusterStore ?? variable("NETCTL_CLUSTER_STORE")
        var advertise = settings.advertiseAddress ?? variable("NETCTL_ADVERTISE_ADDR")
        if storeURL == nil, let config = try config(), let url = config.clusterStore {
            storeURL = url
            if options.isEmpty { options = config.clusterStoreOptions ?? [:] }
            if advertise == nil { advertise = config.clusterAdvertise }
        }
        guard let storeURL else { return nil }
        return try ClusterConfiguration.parse(store: storeURL, options: options,
                                              nodeName: settings.nodeName ?? variable("NETCTL_NODE_NAME"), advertiseAddress: advertise)
    }

    /// Flags, then the environment, then the root's config.json (Docker's daemon.json key
    /// `default-address-pools`), then Docker's defaults.
    static func pools(_ settings: Settings, config: () throws -> RootConfig?) throws -> [DefaultAddressPool] {
        if !settings.defaultAddressPools.isEmpty { return try settings.defaultAddressPools.map(DefaultAddressPool.parse) }
        if let text = variable("NETCTL_DEFAULT_ADDRESS_POOLS") { return try DefaultAddressPool.parseList(text) }
        if let config = try config(), let pools = config.defaultAddressPools {
            return try pools.map { try DefaultAddressPool.parse("base=\($0.base),size=\($0.size)") }
        }
        return DefaultAddressPool.dockerDefaults
    }

    /// An environment variable; empty counts as unset.
    static func variable(_ name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        let text = String(cString: value)
        return text.isEmpty ? nil : text
    }
}

/// The state root's config.json, as far as the network stack reads it.
struct RootConfig: Decodable {
    struct Pool: Decodable { var base: String; var size: Int }
    var defaultAddressPools: [Pool]?
    var clusterStore: String?
    var clusterStoreOptions: [String: String]?
    /// Docker's `cluster-advertise` is `IP:PORT` or `IP`; the address is what a VTEP needs.
    var clusterAdvertise: String? { advertise.map { String($0.split(separator: ":").first ?? "") } }
    private var advertise: String?
    enum CodingKeys: String, CodingKey {
        case defaultAddressPools = "default-address-pools", clusterStore = "cluster-store"
        case clusterStoreOptions = "cluster-store-opts", advertise = "cluster-advertise"
    }
}
