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

/// Namespaces given by path (a CNI runtime's): each (container, interface) is a sandbox of
/// its own that netctl never creates or removes, with one endpoint. The sandbox record is
/// written before anything is made, so that a command killed halfway leaves a record
/// saying so, which the next attach or detach of that container repairs.
extension NetworkController {
    /// The sandbox of an attachment, and its endpoint (nil: an attach that did not finish).
    public func attachment(_ key: ExternalAttachment) throws -> (sandbox: SandboxRecord, endpoint: EndpointRecord?)? {
        guard let sandbox = try sandboxes().first(where: { $0.attachment?.isSame(as: key) == true }) else { return nil }
        return (sandbox, try endpoints(of: sandbox).first)
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
    public func attach(_ key: ExternalAttachment, namespacePath: String, request: ConnectRequest) throws -> (EndpointRecord, NetworkRecord) {
        for _ in 0..<2 {
            let attached: (EndpointRecord, NetworkRecord)? = try store.locked {
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
                do {
                    return (try connectHoldingLock(inner, resolved: (network, sandbox)), network)
                } catch {
                    try? store.delete(Keys.sandbox(sandbox.id))
                    throw error
                }
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
