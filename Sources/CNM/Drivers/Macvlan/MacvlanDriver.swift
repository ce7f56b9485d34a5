import Netlink
import Glibc

/// Docker's `macvlan` driver: each endpoint is a macvlan device on a host interface (the
/// parent), created directly inside the sandbox. Nothing is made on the host.
public struct MacvlanDriver: NetworkDriver {
    public let name = "macvlan"

    public enum Option {
        public static let parent = "parent"
        public static let mode = "macvlan_mode"
        static let all = [parent, mode]
    }

    public init() {}

    public func prepare(_ network: inout NetworkRecord, host: HostContext) throws {
        try checkOptionNames(network, known: Option.all)
        _ = try mode(of: network)
        guard let parent = network.options[Option.parent], !parent.isEmpty else {
            throw CNMError("network \"\(network.name)\": driver macvlan needs -o parent=INTERFACE")
        }
        guard parent.utf8.count <= maximumInterfaceNameLength, try host.session().link(.name(parent)) != nil else {
            throw CNMError("macvlan parent \"\(parent)\" not found in the host network namespace")
        }
        network.interfaceName = parent
    }

    public func createNetwork(_ network: NetworkRecord, host: HostContext) throws {}

    public func restoreNetwork(_ network: NetworkRecord, host: HostContext) throws -> String {
        "network \"\(network.name)\": parent interface \(network.interfaceName ?? "") is missing"
    }
    public func deleteNetwork(_ network: NetworkRecord, host: HostContext) throws {}

    public func join(_ endpoint: EndpointRecord, network: NetworkRecord, sandbox: SandboxContext, host: HostContext) throws {
        guard let parent = network.interfaceName, let inside = endpoint.sandboxInterface else { return }
        // ip link add link PARENT name ethN netns SANDBOX address MAC type macvlan mode MODE
        let spec = LinkSpec(name: inside, kind: .macvlan(parent: .name(parent), mode: try mode(of: network)),
                            mac: endpoint.mac, namespace: try sandbox.namespace())
        do {
            try host.session().linkAdd(spec)
        } catch {
            throw CNMError.kernel("network \"\(network.name)\"", error)
        }
        do {
            // The kernel ignores IFLA_IFALIAS in a creating request, so the mark that lets
            // reconcile find this device follows at once, before any other work.
            try sandbox.session().linkSet(.name(inside), alias: host.marker(.endpoint, endpoint.id))
            host.faults.reach("connect.after-macvlan")
            try SandboxInterface.configure(endpoint, network: network, sandbox: sandbox, host: host)
        } catch {
            try? sandbox.session().linkDelete(.name(inside))
            throw CNMError.kernel("network \"\(network.name)\"", error)
        }
    }

    public func leave(_ endpoint: EndpointRecord, network: NetworkRecord, sandbox: SandboxContext?, host: HostContext) throws {
        guard let sandbox, let inside = endpoint.sandboxInterface else { return }
        do {
            let session = try sandbox.session()
            guard let link = try session.link(.name(inside)) else { return }
            // In a namespace another runtime owns (a CNI runtime's), the name may by now be
            // an interface of its own: only the one this endpoint marked goes.
            if sandbox.record.namespacePath != nil, link.alias != host.marker(.endpoint, endpoint.id) { return }
            try session.linkDelete(.index(link.index))
        } catch let error as NetlinkError where error.errno == ENODEV || error.errno == ENOENT {
        }
    }

    public func networkIsPresent(_ network: NetworkRecord, host: HostContext) throws -> Bool {
        guard let parent = network.interfaceName else { return true }
        return try host.session().link(.name(parent)) != nil
    }

    private func mode(of network: NetworkRecord) throws -> MacvlanMode {
        guard let text = network.options[Option.mode] else { return .bridge }
        guard let mode = MacvlanMode(rawValue: text), mode != .source else {
            throw CNMError("invalid value \"\(text)\" for option \(Option.mode): expected bridge, private, vepa or passthru")
        }
        return mode
    }
}
