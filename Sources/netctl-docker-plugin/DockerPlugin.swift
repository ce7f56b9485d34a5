import CNM
import Glibc
import JSON
import Netlink

/// libnetwork's remote driver and IPAM protocols over a root's network controller: each
/// method a function from the request's JSON to the answer's, refusing bad input with one
/// line that names the bad value, before anything changes.
struct DockerPlugin {
    let controller: NetworkController
    let ipam: DockerIPAM

    /// The label that ties a netctl network to the Docker network it stands for.
    static let networkLabel = "org.netctl.docker.network-id"
    static let engine = "docker"

    typealias Handler = @Sendable (DockerPlugin, Body) throws -> JSON

    static let methods: [String: Handler] = [
        "/Plugin.Activate": { _, _ in ["Implements": .array([.string("NetworkDriver"), .string("IpamDriver")])] },
        "/NetworkDriver.GetCapabilities": { _, _ in ["Scope": .string("local"), "ConnectivityScope": .string("local")] },
        "/NetworkDriver.CreateNetwork": { try $0.createNetwork($1) },
        "/NetworkDriver.DeleteNetwork": { try $0.deleteNetwork($1) },
        "/NetworkDriver.CreateEndpoint": { try $0.createEndpoint($1) },
        "/NetworkDriver.EndpointOperInfo": { try $0.endpointInfo($1) },
        "/NetworkDriver.DeleteEndpoint": { try $0.deleteEndpoint($1) },
        "/NetworkDriver.Join": { try $0.join($1) },
        "/NetworkDriver.Leave": { try $0.leave($1) },
        "/NetworkDriver.ProgramExternalConnectivity": { try $0.programExternalConnectivity($1) },
        "/NetworkDriver.RevokeExternalConnectivity": { try $0.revokeExternalConnectivity($1) },
        "/NetworkDriver.DiscoverNew": { _, _ in [:] },
        "/NetworkDriver.DiscoverDelete": { _, _ in [:] },
        // Swarm's hooks for networks of global scope; this driver's scope is local.
        "/NetworkDriver.AllocateNetwork": { _, _ in
            throw PluginError("AllocateNetwork is for networks of global scope: netctl's Docker driver is local in scope")
        },
        "/NetworkDriver.FreeNetwork": { _, _ in [:] },
        "/IpamDriver.GetCapabilities": { _, _ in ["RequiresMACAddress": .bool(false), "RequiresRequestReplay": .bool(false)] },
        "/IpamDriver.GetDefaultAddressSpaces": { _, _ in
            ["LocalDefaultAddressSpace": .string(DockerIPAM.localSpace), "GlobalDefaultAddressSpace": .string(DockerIPAM.globalSpace)]
        },
        "/IpamDriver.RequestPool": { try $0.ipam.requestPool($1) },
        "/IpamDriver.ReleasePool": { try $0.ipam.releasePool($1) },
        "/IpamDriver.RequestAddress": { try $0.ipam.requestAddress($1) },
        "/IpamDriver.ReleaseAddress": { try $0.ipam.releaseAddress($1) },
    ]

    /// One request in, one answer out. Errors answer `{"Err": …}` (and `Error`, where the
    /// IPAM protocol reads it) with the method's name in front.
    func handle(_ request: HTTPRequest) -> HTTPResponse {
        let path = request.path
        guard let handler = Self.methods[path] else {
            return failure(PluginError("unknown method \"\(path.prefix(80))\": expected Plugin.Activate, NetworkDriver.* or IpamDriver.* (\(Self.methods.count) methods)", status: 404), path: path)
        }
        guard request.method == "POST" else {
            return failure(PluginError("method \(request.method.prefix(10)) for \(path): expected POST", status: 405), path: path)
        }
        do {
            let body = try Body(requestBody: request.body)
            return HTTPResponse(status: 200, body: try handler(self, body).serializedBytes)
        } catch let error as PluginError {
            return failure(error, path: path)
        } catch {
            return failure(PluginError("\(error)"), path: path)
        }
    }

    private func failure(_ error: PluginError, path: String) -> HTTPResponse {
        let method = path.hasPrefix("/") ? String(path.dropFirst()) : path
        let line = JSON.string("\(Self.methods[path] == nil ? "" : method + ": ")\(error.description)")
        let body: JSON = path.hasPrefix("/IpamDriver.") ? ["Err": line, "Error": line] : ["Err": line]
        // What was refused, for whoever reads the service's log (journald under systemd).
        let logged = "netctl-docker-plugin: \(line.string ?? "")\n"
        _ = write(2, logged, logged.utf8.count)
        return HTTPResponse(status: error.status, body: body.serializedBytes)
    }

    // MARK: Networks

    /// The netctl network that stands for a Docker network id.
    func network(dockerID: String) throws -> NetworkRecord {
        guard let network = try controller.localNetworks().first(where: { $0.labels[Self.networkLabel] == dockerID }) else {
            throw PluginError("network \(dockerID.prefix(64)) not found: no netctl network was created for it")
        }
        return network
    }

    /// `docker network create -d netctl [-o driver=bridge|macvlan] [-o parent=IF] [-o mtu=N]
    /// [-o name=NAME] …`: a netctl network named after Docker's id (or `name`), with the
    /// subnets and gateways Docker's IPAM chose.
    func createNetwork(_ body: Body) throws -> JSON {
        let id = try body.string("NetworkID", expected: "the network's id")
        if (try? network(dockerID: id)) != nil { throw PluginError("network \(id.prefix(12)) already exists") }
        let options = try body.object("Options")
        var generic: [String: String] = [:]
        if let value = options["com.docker.network.generic"], value != .null {
            guard let members = value.members else { throw PluginError("com.docker.network.generic is \(value.shortText): expected an object of -o options") }
            for (key, value) in members {
                guard let text = value.string else { throw PluginError("option \(key) is \(value.shortText): expected a string") }
                generic[key] = text
            }
        }
        var request = NetworkCreateRequest(name: generic.removeValue(forKey: "name") ?? id)
        request.driver = generic.removeValue(forKey: "driver") ?? "bridge"
        guard ["bridge", "macvlan"].contains(request.driver) else {
            throw PluginError("invalid value \"\(request.driver)\" for option driver: expected bridge or macvlan")
        }
        if let mtu = generic.removeValue(forKey: "mtu") { generic[BridgeDriver.Option.mtu] = mtu }
        request.options = generic
        request.labels = [Self.networkLabel: id]
        request.internal = options["com.docker.network.internal"]?.bool ?? false
        for (key, ipv4) in [("IPv4Data", true), ("IPv6Data", false)] {
            for item in try body.array(key) {
                let data = try Body(item)
                let pool = try data.string("Pool", expected: "a subnet such as 198.18.0.0/24")
                request.subnets.append(pool)
                if let gateway = try data.optionalString("Gateway", expected: "an address such as 198.18.0.1/24") {
                    request.gateways.append(Self.bareAddress(gateway))
                }
                for (name, value) in try data.members("AuxAddresses") {
                    guard let text = value.string else { throw PluginError("aux address \(name) is \(value.shortText): expected an address") }
                    request.auxiliaryAddresses.append("\(name)=\(Self.bareAddress(text))")
                }
                if !ipv4 { request.enableIPv6 = true }
            }
        }
        _ = try controller.createNetwork(request)
        return [:]
    }

    func deleteNetwork(_ body: Body) throws -> JSON {
        let network = try network(dockerID: try body.string("NetworkID", expected: "the network's id"))
        _ = try controller.removeNetwork(network.id)
        return [:]
    }

    // MARK: Endpoints

    func createEndpoint(_ body: Body) throws -> JSON {
        let network = try network(dockerID: try body.string("NetworkID", expected: "the network's id"))
        var request = EngineEndpointRequest(network: network.id, id: try body.string("EndpointID", expected: "the endpoint's id"), engine: Self.engine)
        let interface = try Body(body.json["Interface"].flatMap { $0 == .null ? nil : $0 } ?? [:])
        request.ipv4 = try interface.optionalString("Address", expected: "an address such as 198.18.0.2/24")
        request.ipv6 = try interface.optionalString("AddressIPv6", expected: "an address such as 2001:db8::2/64")
        request.mac = try interface.optionalString("MacAddress", expected: "a MAC address")
        let endpoint = try controller.createEngineEndpoint(request)
        // Docker gave what it wants; the driver may only fill in what it left out.
        var answer: JSON = [:]
        if request.mac == nil, let mac = endpoint.mac { answer.set("MacAddress", .string(mac.description)) }
        if request.ipv4 == nil, let address = endpoint.ipv4 { answer.set("Address", .string(address.description)) }
        if request.ipv6 == nil, let address = endpoint.ipv6 { answer.set("AddressIPv6", .string(address.description)) }
        return answer == [:] ? [:] : ["Interface": answer]
    }

    func endpointInfo(_ body: Body) throws -> JSON {
        let network = try network(dockerID: try body.string("NetworkID", expected: "the network's id"))
        let (endpoint, _) = try controller.engineEndpoint(network: network.id, id: try body.string("EndpointID", expected: "the endpoint's id"))
        var value: JSON = [:]
        if let mac = endpoint.mac { value.set("com.docker.network.endpoint.macaddress", .string(mac.description)) }
        let bindings = endpoint.bindings
        if !bindings.isEmpty {
            value.set("com.docker.network.portmap", .array(bindings.map { binding in
                ["Proto": JSON(Self.protocolNumber(binding.proto)), "Port": JSON(Int(binding.containerPort)),
                 "HostIP": .string((binding.hostIP == .v4(0) || binding.hostIP == .v6(0)) ? "" : binding.hostIP.description),
                 "HostPort": JSON(Int(binding.hostPort)), "HostPortEnd": JSON(Int(binding.hostPort))] as JSON
            }))
        }
        return ["Value": value]
    }

    func deleteEndpoint(_ body: Body) throws -> JSON {
        let network = try network(dockerID: try body.string("NetworkID", expected: "the network's id"))
        try controller.deleteEngineEndpoint(network: network.id, id: try body.string("EndpointID", expected: "the endpoint's id"))
        return [:]
    }

    /// The interface Docker moves into `SandboxKey` and renames `DstPrefix`N, and the
    /// gateways it routes through.
    func join(_ body: Body) throws -> JSON {
        let network = try network(dockerID: try body.string("NetworkID", expected: "the network's id"))
        _ = try body.string("SandboxKey", expected: "the sandbox's namespace path")
        let joined = try controller.joinEngineEndpoint(network: network.id, id: try body.string("EndpointID", expected: "the endpoint's id"))
        var answer: JSON = [
            "InterfaceName": ["SrcName": .string(joined.interfaceName), "DstPrefix": .string(joined.sandboxPrefix)],
        ]
        if let gateway = joined.gatewayIPv4 { answer.set("Gateway", .string(gateway.description)) }
        if let gateway = joined.gatewayIPv6 { answer.set("GatewayIPv6", .string(gateway.description)) }
        return answer
    }

    /// Docker moves the interface back to the host and then deletes the endpoint, which
    /// removes it: nothing to do here but check the endpoint is known.
    func leave(_ body: Body) throws -> JSON {
        let network = try network(dockerID: try body.string("NetworkID", expected: "the network's id"))
        _ = try controller.engineEndpoint(network: network.id, id: try body.string("EndpointID", expected: "the endpoint's id"))
        return [:]
    }

    // MARK: Published ports

    /// `docker run -p`: Docker's port bindings (`com.docker.network.portmap`) and exposed
    /// ports, published through netctl's firewall maps (no docker-proxy, no iptables).
    func programExternalConnectivity(_ body: Body) throws -> JSON {
        let network = try network(dockerID: try body.string("NetworkID", expected: "the network's id"))
        let id = try body.string("EndpointID", expected: "the endpoint's id")
        let (endpoint, _) = try controller.engineEndpoint(network: network.id, id: id)
        let options = try body.object("Options")
        var publish: [String] = []
        for item in options["com.docker.network.portmap"]?.array ?? [] {
            let binding = try Body(item)
            let proto = try Self.transport(binding, field: "Proto")
            let port = try Self.port(binding, "Port", allowZero: false)
            let hostPort = try Self.port(binding, "HostPort", allowZero: true)
            let hostPortEnd = try Self.port(binding, "HostPortEnd", allowZero: true)
            var spec = ""
            if let text = try binding.optionalString("HostIP", expected: "an address"), text != "<nil>" {
                guard let address = IPAddress(text) else { throw PluginError("HostIP \"\(text)\": expected an IPv4 or IPv6 address") }
                // A wildcard of a family the endpoint lacks is Docker's second binding of `-p PORT`.
                if address == .v6(0) && endpoint.ipv6 == nil { continue }
                if address != .v4(0) || endpoint.ipv6 != nil { spec = address.isIPv4 ? "\(address):" : "[\(address)]:" }
            }
            if hostPort != 0 { spec += hostPortEnd > hostPort ? "\(hostPort)-\(hostPortEnd):" : "\(hostPort):" }
            publish.append(spec + "\(port)/\(proto.rawValue)")
        }
        var expose: [String] = []
        for item in options["com.docker.network.endpoint.exposedports"]?.array ?? [] {
            let exposed = try Body(item)
            expose.append("\(try Self.port(exposed, "Port", allowZero: false))/\(try Self.transport(exposed, field: "Proto").rawValue)")
        }
        _ = try controller.publishEnginePorts(network: network.id, id: id, publish: publish, expose: expose)
        return [:]
    }

    func revokeExternalConnectivity(_ body: Body) throws -> JSON {
        let network = try network(dockerID: try body.string("NetworkID", expected: "the network's id"))
        _ = try controller.publishEnginePorts(network: network.id, id: try body.string("EndpointID", expected: "the endpoint's id"),
                                              publish: [], expose: [])
        return [:]
    }

    // MARK: Reading Docker's values

    static func bareAddress(_ text: String) -> String {
        text.split(separator: "/", maxSplits: 1).first.map(String.init) ?? text
    }

    static func protocolNumber(_ proto: TransportProtocol) -> Int {
        switch proto { case .tcp: 6; case .udp: 17; case .sctp: 132 }
    }

    static func transport(_ body: Body, field: String) throws -> TransportProtocol {
        let value = body.json[field] ?? .null
        switch value.double {
        case 6: return .tcp
        case 17: return .udp
        case 132: return .sctp
        default: throw PluginError("\(field) is \(value.shortText): expected 6 (tcp), 17 (udp) or 132 (sctp)")
        }
    }

    static func port(_ body: Body, _ field: String, allowZero: Bool) throws -> UInt16 {
        let value = body.json[field] ?? 0
        guard let number = value.double, number == number.rounded(), number >= (allowZero ? 0 : 1), number <= 65535 else {
            throw PluginError("\(field) is \(value.shortText): expected a port from \(allowZero ? 0 : 1) to 65535")
        }
        return UInt16(number)
    }
}
