import Glibc
import Netlink

/// Who attached a namespace netctl did not make, as they key it: a CNI runtime's network
/// name, container id and interface name (CNI_CONTAINERID, CNI_IFNAME).
public struct ExternalAttachment: Codable, Sendable, Equatable {
    public var network: String
    public var containerID: String
    public var interface: String

    public init(network: String, containerID: String, interface: String) {
        self.network = network
        self.containerID = containerID
        self.interface = interface
    }

    /// The same attachment, whatever the network: a container's interface is attached once.
    func isSame(as other: ExternalAttachment) -> Bool {
        containerID == other.containerID && interface == other.interface
    }
}

/// One interface an attachment gave a namespace: on the network asked for, or on the
/// gateway bridge a network with no way out (an overlay) brings along.
public struct AttachedInterface: Sendable {
    public var endpoint: EndpointRecord
    public var network: NetworkRecord
    /// Whether the interface's gateway is the namespace's default route.
    public var carriesDefaultRoute: Bool
}

/// Namespaces given by path (a CNI runtime's): each (container, interface) is a sandbox of
/// its own that netctl never creates or removes, with one endpoint. The sandbox record is
/// written before anything is made, so that a command killed halfway leaves a record
/// saying so, which the next attach or detach of that container repairs.
extension NetworkController {
    /// The sandbox of an attachment, and its endpoint (nil: an attach that did not finish).
    public func attachment(_ key: ExternalAttachment) throws -> (sandbox: SandboxRecord, endpoint: EndpointRecord?)? {
        guard let sandbox = try sandboxes().first(where: { $0.attachment?.isSame(as: key) == true }) else { return nil }
        let endpoints = try endpoints(of: sandbox)
        return (sandbox, endpoints.first { $0.sandboxInterface == key.interface } ?? endpoints.first)
    }

    /// Every attachment made through `attach`, with its endpoint if it has one.
    public func attachments() throws -> [(sandbox: SandboxRecord, endpoint: EndpointRecord?)] {
        let external = try sandboxes().filter { $0.attachment != nil }
        guard !external.isEmpty else { return [] }
        let endpoints = try allEndpoints()
        return external.map { sandbox in (sandbox, endpoints.first { $0.sandboxID == sandbox.id }) }
    }

    /// Attaches the namespace at `namespacePath` to `request.network` (with the request's
    /// interface name, addresses, MAC and ports). An earlier attachment of the same key is
    /// taken out first: a repeated ADD, or one killed halfway, whose leftovers go with it.
    /// Returns the interfaces made, the one on `request.network` first.
    public func attach(_ key: ExternalAttachment, namespacePath: String, request: ConnectRequest) throws -> [AttachedInterface] {
        for _ in 0..<2 {
            let attached: [AttachedInterface]? = try store.locked {
                _ = try recoverInterruptedChanges()
                if try attachment(key) != nil { return nil }
                // Opened first, so that a bad path changes nothing.
                do { _ = try NetworkNamespace.open(path: namespacePath) } catch {
                    throw CNMError("network namespace \"\(namespacePath)\": \(error)")
                }
                let network = try network(request.network)
                var sandbox = SandboxRecord(id: Identifier.make(), name: Self.sandboxName(for: key), created: Timestamp.now())
                sandbox.namespacePath = namespacePath
                sandbox.attachment = key
                try store.put(Keys.sandbox(sandbox.id), sandbox, compact: true)
                host.faults.reach("attach.after-sandbox")
                var inner = request
                inner.network = network.id
                inner.sandbox = sandbox.id
                let endpoint: EndpointRecord
                do {
                    endpoint = try connectHoldingLock(inner, resolved: (network, sandbox))
                } catch {
                    try? store.delete(Keys.sandbox(sandbox.id))
                    throw error
                }
                let first = AttachedInterface(endpoint: endpoint, network: network, carriesDefaultRoute: !network.internal)
                guard try !network.internal && !drivers.named(network.driver).providesExternalConnectivity else { return [first] }
                // A network with no way out (an overlay) brought the gateway bridge along,
                // whose interface carries the default route.
                let networks = try localNetworks()
                let others = try endpoints(of: sandbox).filter { $0.id != endpoint.id }.compactMap { other in
                    networks.first { $0.id == other.networkID }.map { AttachedInterface(endpoint: other, network: $0, carriesDefaultRoute: !$0.internal) }
                }
                return [AttachedInterface(endpoint: endpoint, network: network, carriesDefaultRoute: false)] + others
            }
            if let attached { return attached }
            _ = try detach(key)
        }
        throw CNMError("container \"\(key.containerID)\" interface \"\(key.interface)\" is being attached by another command")
    }

    /// Takes an attachment out: its firewall elements, its interface (the host end of its
    /// veth takes the namespace's end with it), its records; the namespace stays. Returns
    /// false when there was nothing to take out. An attachment whose namespace or network
    /// is gone goes all the same; one an attach did not finish takes whatever that attach
    /// left (reconcile finds it by its marks).
    public func detach(_ key: ExternalAttachment) throws -> Bool {
        guard let (sandbox, endpoint) = try attachment(key) else { return false }
        do {
            _ = try removeSandbox(sandbox.id)
        } catch where (try? store.read(Keys.sandbox(sandbox.id))) == .some(nil) {
            // Another command took it out meanwhile.
            return true
        }
        if endpoint == nil { _ = try reconcile() }
        return true
    }

    /// What netctl calls the sandbox of an attachment (`netctl sandbox ls` shows it); not a
    /// name under /run/netns.
    static func sandboxName(for key: ExternalAttachment) -> String {
        "cni-\(key.containerID)-\(key.interface)"
    }

    /// Whether the sandbox's namespace is still there: its name under /run/netns, or the
    /// path its runtime gave.
    func namespaceExists(of sandbox: SandboxRecord) -> Bool {
        guard let path = sandbox.namespacePath else { return NetworkNamespace.exists(named: sandbox.name) }
        return (try? NetworkNamespace.open(path: path)) != nil
    }
}
