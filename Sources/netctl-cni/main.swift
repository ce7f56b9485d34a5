import CNM
import Glibc
import JSON
import Netlink
import VXLAN

// netctl-cni: a CNI plugin (spec 1.0/1.1) over netctl's networks. The runtime runs it with
// CNI_COMMAND and friends in the environment and the network configuration on stdin; the
// result or the error goes to stdout as JSON, and the exit status says which.

var errorVersion = latestVersion
do {
    let invocation = try Invocation.fromEnvironment()
    switch invocation.command {
    case "VERSION":
        try version(try readStandardInput())
    case "ADD", "DEL", "CHECK", "STATUS", "GC":
        let config = try NetworkConfig.parse(try readStandardInput())
        errorVersion = config.version
        switch invocation.command {
        case "ADD": try add(invocation, config)
        case "DEL": try delete(invocation, config)
        case "CHECK": try check(invocation, config)
        case "STATUS": try status(config)
        default: try collectGarbage(config)
        }
    default:
        throw PluginError(PluginError.invalidEnvironment, "unknown CNI_COMMAND \"\(invocation.command)\": expected ADD, DEL, CHECK, VERSION, STATUS or GC")
    }
    exit(0)
} catch let error as PluginError {
    writeOut(error.json(version: errorVersion).serialized)
    exit(1)
} catch {
    writeOut(PluginError(PluginError.networkFailure, "\(error)").json(version: errorVersion).serialized)
    exit(1)
}

// MARK: Commands

/// VERSION: the versions this plugin speaks, answered in the one asked about when it is one.
func version(_ input: [UInt8]) throws {
    var answer = latestVersion
    if input.contains(where: { ![0x20, 0x0a, 0x0d, 0x09].contains($0) }) {
        guard let asked = (try? JSON.parse(input))?["cniVersion"]?.string else {
            throw PluginError(PluginError.decodingFailure, "VERSION input is not a JSON object with a string \"cniVersion\"")
        }
        if supportedVersions.contains(asked) { answer = asked }
    }
    writeOut(JSON.object([("cniVersion", .string(answer)), ("supportedVersions", .array(supportedVersions.map(JSON.string)))]).serialized)
}

/// ADD: attaches the container's namespace to the netctl network and prints the result.
func add(_ invocation: Invocation, _ config: NetworkConfig) throws {
    let containerID = try invocation.requireContainerID()
    let interface = try invocation.requireInterface()
    let netns = try invocation.requireNetns()
    let reference = try config.requireNetwork()
    let asked = try config.requests(invocation)
    do { _ = try NetworkNamespace.open(path: netns) } catch {
        throw PluginError(PluginError.invalidEnvironment, "invalid CNI_NETNS \"\(netns)\": \(error)")
    }
    var request = ConnectRequest(network: reference, sandbox: "")
    (request.ipv4, request.ipv6, request.mac, request.publish) = (asked.ipv4, asked.ipv6, asked.mac, asked.publish)
    request.interfaceName = interface

    let controller = try openController(for: config)
    let key = ExternalAttachment(network: config.name, containerID: containerID, interface: interface)
    let attached: [AttachedInterface]
    do {
        attached = try controller.attach(key, namespacePath: netns, request: request)
    } catch {
        // Asked only after a failure, so that ADD reads the networks once.
        do { _ = try controller.network(reference) } catch {
            throw PluginError(PluginError.invalidConfig, "\(error): expected a netctl network (netctl network create --subnet … \(reference))")
        }
        throw error
    }
    writeOut(try result(of: attached, config: config, netns: netns, host: controller.host).serialized)
}

/// DEL: takes the attachment out; succeeds when it, its namespace or its network are gone.
func delete(_ invocation: Invocation, _ config: NetworkConfig) throws {
    let key = ExternalAttachment(network: config.name, containerID: try invocation.requireContainerID(),
                                 interface: try invocation.requireInterface())
    // A root that was never made holds no attachment (and DEL makes none).
    guard access(config.root, F_OK) == 0 else { return }
    _ = try openController(for: config).detach(key)
}

/// CHECK: the interface, addresses and routes in the namespace are what netctl recorded.
func check(_ invocation: Invocation, _ config: NetworkConfig) throws {
    guard config.version.versionAtLeast("0.4.0") else {
        throw PluginError(PluginError.incompatibleVersion, "cniVersion \"\(config.version)\" has no CHECK: expected 0.4.0 or later")
    }
    let containerID = try invocation.requireContainerID()
    let interface = try invocation.requireInterface()
    let netns = try invocation.requireNetns()
    _ = try config.requireNetwork()
    guard access(config.root, F_OK) == 0 else {
        throw PluginError(PluginError.unknownContainer, "container \"\(containerID)\" is not attached: state root \(config.root) does not exist")
    }
    let controller = try openController(for: config)
    let key = ExternalAttachment(network: config.name, containerID: containerID, interface: interface)
    guard let (sandbox, recorded) = try controller.attachment(key) else {
        throw PluginError(PluginError.unknownContainer, "container \"\(containerID)\" interface \"\(interface)\" is not attached to network \"\(config.name)\"")
    }
    guard let endpoint = recorded else {
        throw PluginError(PluginError.checkFailed, "container \"\(containerID)\" interface \"\(interface)\": its ADD did not finish (ADD or DEL again repairs it)")
    }
    func failed(_ what: String) -> PluginError {
        PluginError(PluginError.checkFailed, "container \"\(containerID)\" interface \"\(interface)\" in \(netns): \(what)")
    }
    if let path = sandbox.namespacePath, path != netns {
        throw failed("netctl attached namespace \(path), not this one")
    }
    let session: NetlinkSession
    do { session = try NetlinkSession(in: try NetworkNamespace.open(path: netns)) } catch { throw failed("cannot open the namespace: \(error)") }
    guard let link = try session.link(.name(interface)) else { throw failed("the interface is gone") }
    if let mac = endpoint.mac, link.mac != mac {
        throw failed("MAC is \(link.mac?.description ?? "none"), netctl recorded \(mac)")
    }
    let present = Set(try session.addresses(interface: link.index).map(\.network.description))
    for address in [endpoint.ipv4, endpoint.ipv6].compactMap({ $0 }) where !present.contains(address.description) {
        throw failed("address \(address) is missing")
    }
    let network = try controller.network(endpoint.networkID)
    // An overlay's default route is its gateway bridge's (the interface after this one).
    guard !network.internal, try controller.drivers.named(network.driver).providesExternalConnectivity else { return }
    for address in [endpoint.ipv4, endpoint.ipv6].compactMap({ $0 }) {
        guard let gateway = network.pool(ipv4: address.isIPv4)?.gateway else { continue }
        let routes = try session.routes(family: address.family)
        guard routes.contains(where: { $0.destination == nil && $0.gateway == gateway && $0.interfaceIndex == link.index }) else {
            throw failed("the default route via \(gateway) is missing")
        }
    }
}

/// STATUS (1.1): ready when the state root and the network are there.
func status(_ config: NetworkConfig) throws {
    guard config.version.versionAtLeast("1.1.0") else {
        throw PluginError(PluginError.incompatibleVersion, "cniVersion \"\(config.version)\" has no STATUS: expected 1.1.0")
    }
    let reference = try config.requireNetwork()
    var info = stat()
    guard stat(config.root, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
        throw PluginError(PluginError.notAvailable, "state root \(config.root) does not exist: expected a netctl state root holding network \"\(reference)\"")
    }
    let controller: NetworkController
    do { controller = try makeController(for: config) } catch {
        throw PluginError(PluginError.notAvailable, "state root \(config.root) is not usable: \(error)")
    }
    do { _ = try controller.network(reference) } catch {
        throw PluginError(PluginError.notAvailable, "\(error) in state root \(config.root)")
    }
}

/// GC (1.1): removes this CNI network's attachments that are not among
/// `cni.dev/valid-attachments`.
func collectGarbage(_ config: NetworkConfig) throws {
    guard config.version.versionAtLeast("1.1.0") else {
        throw PluginError(PluginError.incompatibleVersion, "cniVersion \"\(config.version)\" has no GC: expected 1.1.0")
    }
    var valid: [(String, String)] = []
    // Required: without it every attachment would look stale, and a mistaken GC would take
    // them all out.
    guard let list = config.document["cni.dev/valid-attachments"] else {
        throw PluginError(PluginError.invalidConfig, "GC needs \"cni.dev/valid-attachments\": expected a list of {\"containerID\", \"ifname\"} (empty to remove every attachment)")
    }
    guard let items = list.array else {
        throw PluginError(PluginError.invalidConfig, "invalid \"cni.dev/valid-attachments\" \(list.serialized): expected a list of {\"containerID\", \"ifname\"}")
    }
    for item in items {
        guard let id = item["containerID"]?.string, let name = item["ifname"]?.string else {
            throw PluginError(PluginError.invalidConfig, "invalid attachment \(item.serialized) in \"cni.dev/valid-attachments\": expected {\"containerID\": …, \"ifname\": …}")
        }
        valid.append((id, name))
    }
    guard access(config.root, F_OK) == 0 else { return }
    let controller = try openController(for: config)
    for (sandbox, _) in try controller.attachments() {
        guard let key = sandbox.attachment, key.network == config.name,
              !valid.contains(where: { $0.0 == key.containerID && $0.1 == key.interface }) else { continue }
        _ = try controller.detach(key)
    }
}

// MARK: Helpers

/// The root's network controller, built as netctl builds it, without names (the runtime
/// gives the container its resolv.conf from the result's `dns`).
func makeController(for config: NetworkConfig) throws -> NetworkController {
    var settings = NetworkStack.Settings(root: config.root, hostNetns: config.hostNetns)
    settings.servesNames = false
    return try NetworkStack.controller(settings)
}

func openController(for config: NetworkConfig) throws -> NetworkController {
    do { return try makeController(for: config) } catch {
        throw PluginError(PluginError.invalidConfig, "state root \"\(config.root)\": \(error)")
    }
}

/// The spec's result: for each interface made, the host's bridge and veth end (for drivers
/// that make them) and the container's interface, its addresses, the default routes, and
/// DNS; after a previous plugin's result when chained, whose interfaces, addresses and
/// routes come first.
func result(of attached: [AttachedInterface], config: NetworkConfig, netns: String, host: HostContext) throws -> JSON {
    let previous = config.prevResult
    var interfaces = previous?["interfaces"]?.array ?? []
    var ips = previous?["ips"]?.array ?? []
    var routes = previous?["routes"]?.array ?? []
    let versioned = !config.version.versionAtLeast("1.0.0")
    for attachment in attached {
        let (endpoint, network) = (attachment.endpoint, attachment.network)
        if let bridge = network.interfaceName, let hostEnd = endpoint.hostInterface {
            let session = try host.session()
            for name in [bridge, hostEnd] {
                var entry: [(String, JSON)] = [("name", .string(name))]
                if let mac = try session.link(.name(name))?.mac { entry.append(("mac", .string(mac.description))) }
                interfaces.append(.object(entry))
            }
        }
        var inside: [(String, JSON)] = [("name", .string(endpoint.sandboxInterface ?? ""))]
        if let mac = endpoint.mac { inside.append(("mac", .string(mac.description))) }
        inside.append(("sandbox", .string(netns)))
        interfaces.append(.object(inside))
        let index = interfaces.count - 1

        for address in [endpoint.ipv4, endpoint.ipv6].compactMap({ $0 }) {
            var ip: [(String, JSON)] = []
            if versioned { ip.append(("version", .string(address.isIPv4 ? "4" : "6"))) }
            ip.append(("interface", .number(String(index))))
            ip.append(("address", .string(address.description)))
            let gateway = network.pool(ipv4: address.isIPv4)?.gateway
            if let gateway { ip.append(("gateway", .string(gateway.description))) }
            ips.append(.object(ip))
            if let gateway, attachment.carriesDefaultRoute {
                routes.append(.object([("dst", .string(address.isIPv4 ? "0.0.0.0/0" : "::/0")), ("gw", .string(gateway.description))]))
            }
        }
    }
    var result: [(String, JSON)] = [("cniVersion", .string(config.version)), ("interfaces", .array(interfaces)), ("ips", .array(ips))]
    if !routes.isEmpty { result.append(("routes", .array(routes))) }
    result.append(("dns", config.dns ?? previous?["dns"] ?? .object([])))
    return .object(result)
}

extension String {
    /// Compares dotted versions numerically: "0.4.0" ≥ "0.3.1".
    func versionAtLeast(_ other: String) -> Bool {
        let mine = split(separator: ".").map { Int($0) ?? 0 }, theirs = other.split(separator: ".").map { Int($0) ?? 0 }
        for index in 0..<max(mine.count, theirs.count) {
            let (a, b) = (index < mine.count ? mine[index] : 0, index < theirs.count ? theirs[index] : 0)
            if a != b { return a > b }
        }
        return true
    }
}
