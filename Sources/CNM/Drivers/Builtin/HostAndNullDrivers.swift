/// `host`: containers share the host's network namespace; there is nothing to make. A
/// sandbox has a namespace of its own, so it cannot join this network.
public struct HostDriver: NetworkDriver {
    public let name = "host"
    public var takesAddresses: Bool { false }
    public var isSingleton: Bool { true }
    public init() {}

    public func prepare(_ network: inout NetworkRecord, host: HostContext) throws {
        try checkOptionNames(network, known: [])
    }
    public func createNetwork(_ network: NetworkRecord, host: HostContext) throws {}
    public func deleteNetwork(_ network: NetworkRecord, host: HostContext) throws {}
    public func join(_ endpoint: EndpointRecord, network: NetworkRecord, sandbox: SandboxContext, host: HostContext) throws {
        throw CNMError("sandbox \"\(sandbox.record.name)\" has a network namespace of its own: it cannot join the host network")
    }
    public func leave(_ endpoint: EndpointRecord, network: NetworkRecord, sandbox: SandboxContext?, host: HostContext) throws {}
}

/// `null` (the network `none`): the sandbox keeps only its loopback.
public struct NullDriver: NetworkDriver {
    public let name = "null"
    public var takesAddresses: Bool { false }
    public var isSingleton: Bool { true }
    public init() {}

    public func prepare(_ network: inout NetworkRecord, host: HostContext) throws {
        try checkOptionNames(network, known: [])
    }
    public func createNetwork(_ network: NetworkRecord, host: HostContext) throws {}
    public func deleteNetwork(_ network: NetworkRecord, host: HostContext) throws {}
    public func join(_ endpoint: EndpointRecord, network: NetworkRecord, sandbox: SandboxContext, host: HostContext) throws {}
    public func leave(_ endpoint: EndpointRecord, network: NetworkRecord, sandbox: SandboxContext?, host: HostContext) throws {}
}
