import Netlink

/// A kind of network. Drivers make and remove kernel objects; the controller owns records,
/// addresses and locking, and calls a driver only with everything decided.
public protocol NetworkDriver: Sendable {
    var name: String { get }
    /// Checks `-o` options and fills in what the driver derives (device names), without
    /// touching the kernel beyond reading it.
    func prepare(_ network: inout NetworkRecord, host: HostContext) throws
    /// Makes the network's kernel objects; on failure, removes what it made.
    func createNetwork(_ network: NetworkRecord, host: HostContext) throws
    func deleteNetwork(_ network: NetworkRecord, host: HostContext) throws
    /// Gives the sandbox its interface on the network, addressed and routed; on failure,
    /// removes what it made.
    func join(_ endpoint: EndpointRecord, network: NetworkRecord, sandbox: SandboxContext, host: HostContext) throws
    func leave(_ endpoint: EndpointRecord, network: NetworkRecord, sandbox: SandboxContext?, host: HostContext) throws
    /// Whether the network's kernel objects are there, for reconcile.
    func networkIsPresent(_ network: NetworkRecord, host: HostContext) throws -> Bool
    /// Recreates missing kernel objects of a recorded network, for reconcile.
    func restoreNetwork(_ network: NetworkRecord, host: HostContext) throws
}

extension NetworkDriver {
    public func networkIsPresent(_ network: NetworkRecord, host: HostContext) throws -> Bool { true }
    public func restoreNetwork(_ network: NetworkRecord, host: HostContext) throws {}

    /// Refuses options the driver does not know, naming the ones it does.
    func checkOptionNames(_ network: NetworkRecord, known: [String]) throws {
        for key in network.options.keys.sorted() where !known.contains(key) {
            throw CNMError("unknown option \"\(key)\" for driver \(name): expected one of \(known.joined(separator: ", "))")
        }
    }
}

/// The drivers netctl has, by name.
public enum Drivers {
    public static let all: [any NetworkDriver] = [BridgeDriver(), MacvlanDriver(), HostDriver(), NullDriver()]

    public static func named(_ name: String) throws -> any NetworkDriver {
        guard let driver = all.first(where: { $0.name == name }) else {
            throw CNMError("unknown driver \"\(name)\": expected one of \(all.map(\.name).joined(separator: ", "))")
        }
        return driver
    }
}
