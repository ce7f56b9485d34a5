import JSON
import Netlink

/// The network configuration on stdin, as far as netctl reads it:
///
///     {"cniVersion": "1.0.0", "name": "web", "type": "netctl-cni",
///      "network": "NETCTL NETWORK", "root": "/var/lib/netctl", "hostNetns": "NAME",
///      "ipam": {"type": "netctl"}, "dns": {…},
///      "runtimeConfig": {"portMappings": […], "ips": […], "mac": "…", "dns": {…}},
///      "args": {"cni": {"ips": […], "mac": "…"}}, "prevResult": {…}}
///
/// Keys it does not know are ignored, as the spec asks. IPAM is netctl's own: addresses
/// are taken under the same lock and in the same store as the endpoint, which is what
/// makes a killed ADD repairable and concurrent ADDs never share an address; delegating
/// to another IPAM plugin would split that truth in two, so another `ipam.type` is
/// refused (code 2) rather than half honoured.
///
/// The netctl network must exist (`netctl network create`): a network is configuration an
/// operator makes and removes, and a plugin that made one on first ADD would also have to
/// decide when to remove it, which no CNI command tells it. ADD names a missing network
/// with code 7, STATUS reports it with code 50.
struct NetworkConfig {
    var document: JSON
    var version: String
    var name: String
    var network: String?
    var root: String
    var hostNetns: String?
    var prevResult: JSON?

    /// Parses and checks the document. `command` decides what is needed (DEL needs little).
    static func parse(_ bytes: [UInt8]) throws -> NetworkConfig {
        let document: JSON
        do {
            document = try JSON.parse(bytes)
        } catch {
            throw PluginError(PluginError.decodingFailure, "network configuration is not valid JSON: \(error)")
        }
        guard document.members != nil else {
            throw PluginError(PluginError.decodingFailure, "network configuration is not a JSON object: expected {\"cniVersion\": …, \"name\": …}")
        }
        guard let version = document["cniVersion"]?.string else {
            throw PluginError(PluginError.decodingFailure, "network configuration has no string \"cniVersion\": expected one of \(supportedVersions.joined(separator: ", "))")
        }
        guard supportedVersions.contains(version) else {
            throw PluginError(PluginError.incompatibleVersion, "cniVersion \"\(version)\" is not supported: expected one of \(supportedVersions.joined(separator: ", "))")
        }
        guard let name = document["name"]?.string else {
            throw PluginError(PluginError.invalidConfig, "network configuration has no string \"name\": expected the CNI network's name")
        }
        let nameValid = !name.isEmpty && name.utf8.enumerated().allSatisfy { index, byte in
            let alphanumeric = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
            return alphanumeric || (index > 0 && (byte == 0x5f || byte == 0x2e || byte == 0x2d))
        }
        guard nameValid else {
            throw PluginError(PluginError.invalidConfig, "invalid network name \"\(name)\": expected a letter or digit, then letters, digits, _, . or -")
        }
        var config = NetworkConfig(document: document, version: version, name: name, network: nil, root: "/var/lib/netctl")
        if let value = document["network"] {
            guard let network = value.string, !network.isEmpty else {
                throw PluginError(PluginError.invalidConfig, "invalid \"network\" \(value.serialized): expected the name or id of a netctl network")
            }
            config.network = network
        }
        if let value = document["root"] {
            guard let root = value.string, root.hasPrefix("/") else {
                throw PluginError(PluginError.invalidConfig, "invalid \"root\" \(value.serialized): expected the absolute path of a netctl state root")
            }
            config.root = root
        }
        if let value = document["hostNetns"] {
            guard let name = value.string, !name.isEmpty, !name.contains("/") else {
                throw PluginError(PluginError.invalidConfig, "invalid \"hostNetns\" \(value.serialized): expected the name of a namespace under /run/netns")
            }
            config.hostNetns = name
        }
        if let ipam = document["ipam"], !ipam.isNull {
            guard ipam.members != nil else {
                throw PluginError(PluginError.invalidConfig, "invalid \"ipam\" \(ipam.serialized): expected an object such as {\"type\": \"netctl\"}")
            }
            if let type = ipam["type"], type.string != "netctl", type.string != "" {
                throw PluginError(PluginError.unsupportedField, "unsupported field ipam.type \(type.serialized): netctl-cni takes addresses from the netctl network's own IPAM (leave \"ipam\" out, or give {\"type\": \"netctl\"})")
            }
        }
        if let previous = document["prevResult"], !previous.isNull {
            guard previous.members != nil else {
                throw PluginError(PluginError.invalidConfig, "invalid \"prevResult\": expected a result object")
            }
            config.prevResult = previous
        }
        return config
    }

    /// The netctl network ADD, CHECK and STATUS need.
    func requireNetwork() throws -> String {
        guard let network else {
            throw PluginError(PluginError.invalidConfig, "network configuration \"\(name)\" has no \"network\": expected the name or id of a netctl network (netctl network create …)")
        }
        return network
    }

    var runtimeConfig: JSON? { document["runtimeConfig"] }

    /// What the runtime asks of the attachment: runtimeConfig (the capabilities), then
    /// args.cni, then CNI_ARGS.
    func requests(_ invocation: Invocation) throws -> (ipv4: String?, ipv6: String?, mac: String?, publish: [String]) {
        var ipv4: String?, ipv6: String?
        var texts: [(String, String)] = []
        for (source, value) in [("runtimeConfig.ips", runtimeConfig?["ips"]), ("args.cni.ips", document["args"]?["cni"]?["ips"])] {
            guard let value, !value.isNull else { continue }
            guard let items = value.array else {
                throw PluginError(PluginError.invalidConfig, "invalid \(source) \(value.serialized): expected a list of addresses such as [\"198.18.0.5/24\"]")
            }
            for item in items {
                guard let text = item.string else {
                    throw PluginError(PluginError.invalidConfig, "invalid address \(item.serialized) in \(source): expected a string such as \"198.18.0.5/24\"")
                }
                texts.append((source, text))
            }
        }
        if let ip = try invocation.argument("IP") { texts.append(("CNI_ARGS IP", ip)) }
        for (source, text) in texts {
            let bare = String(text.split(separator: "/", maxSplits: 1).first ?? "")
            guard let address = IPAddress(bare), text.split(separator: "/").count <= 2,
                  text.contains("/") ? IPNetwork(cidr: text) != nil : true else {
                throw PluginError(PluginError.invalidConfig, "invalid address \"\(text)\" in \(source): expected an IP address, optionally with a prefix, such as 198.18.0.5/24")
            }
            if address.isIPv4 { if ipv4 == nil { ipv4 = address.description } } else if ipv6 == nil { ipv6 = address.description }
        }

        var mac: String?
        for (source, value) in [("runtimeConfig.mac", runtimeConfig?["mac"]), ("args.cni.mac", document["args"]?["cni"]?["mac"])] {
            guard let value, !value.isNull, mac == nil else { continue }
            guard let text = value.string, MACAddress(text) != nil else {
                throw PluginError(PluginError.invalidConfig, "invalid \(source) \(value.serialized): expected a MAC address such as \"02:42:c6:12:00:05\"")
            }
            mac = text
        }
        if mac == nil, let text = try invocation.argument("MAC") {
            guard MACAddress(text) != nil else {
                throw PluginError(PluginError.invalidEnvironment, "invalid CNI_ARGS MAC \"\(text)\": expected a MAC address such as 02:42:c6:12:00:05")
            }
            mac = text
        }

        var publish: [String] = []
        if let mappings = runtimeConfig?["portMappings"], !mappings.isNull {
            guard let items = mappings.array else {
                throw PluginError(PluginError.invalidConfig, "invalid runtimeConfig.portMappings \(mappings.serialized): expected a list of {hostPort, containerPort, protocol, hostIP}")
            }
            for item in items { publish.append(try Self.publishSpec(item)) }
        }
        return (ipv4, ipv6, mac, publish)
    }

    /// A portMappings entry as netctl's `-p` spec: `[HOSTIP:]HOSTPORT:CONTAINERPORT/PROTO`.
    static func publishSpec(_ mapping: JSON) throws -> String {
        func bad(_ what: String) -> PluginError {
            PluginError(PluginError.invalidConfig, "invalid port mapping \(mapping.serialized): \(what)")
        }
        guard mapping.members != nil else { throw bad("expected {\"hostPort\": 8080, \"containerPort\": 80, \"protocol\": \"tcp\"}") }
        guard let host = mapping["hostPort"]?.integer, (1...65535).contains(host) else { throw bad("expected hostPort from 1 to 65535") }
        guard let container = mapping["containerPort"]?.integer, (1...65535).contains(container) else {
            throw bad("expected containerPort from 1 to 65535")
        }
        let proto = (mapping["protocol"]?.string ?? "tcp").lowercased()
        guard ["tcp", "udp", "sctp"].contains(proto) else { throw bad("expected protocol tcp, udp or sctp") }
        var spec = "\(host):\(container)/\(proto)"
        if let hostIP = mapping["hostIP"]?.string, !hostIP.isEmpty {
            guard let address = IPAddress(hostIP) else { throw bad("expected hostIP to be an IP address") }
            spec = (address.isIPv4 ? "\(address)" : "[\(address)]") + ":" + spec
        }
        return spec
    }

    /// The DNS the result reports: the config's `dns`, with runtimeConfig.dns (the `dns`
    /// capability: servers, searches, options) taking precedence.
    var dns: JSON? {
        var dns: [(String, JSON)] = []
        if let given = document["dns"]?.members {
            for key in ["nameservers", "domain", "search", "options"] { if let value = given.first(where: { $0.0 == key })?.1 { dns.append((key, value)) } }
        }
        if let runtime = runtimeConfig?["dns"] {
            for (from, to) in [("servers", "nameservers"), ("searches", "search"), ("options", "options")] {
                guard let value = runtime[from], value.array != nil else { continue }
                dns.removeAll { $0.0 == to }
                dns.append((to, value))
            }
        }
        return dns.isEmpty ? nil : .object(dns)
    }
}
