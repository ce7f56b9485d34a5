import Glibc
import CNM
import Netlink

/// Where the cluster store is and who this host is in the cluster: `--cluster-store
/// etcd://HOST:PORT[,…]` with Docker's `--cluster-store-opt kv.cacertfile=… kv.certfile=…
/// kv.keyfile=…`, `--node-name`, `--advertise-addr`, or their NETCTL_ variables, or
/// config.json's `cluster-store` and `cluster-store-opts`.
public struct ClusterConfiguration: Sendable {
    /// `https://HOST:PORT` with TLS files, `http://HOST:PORT` without.
    public var endpoints: [String]
    public var tls: EtcdTLS?
    /// This host's name in the cluster (its peer records and lease): the hostname by default.
    public var nodeName: String
    /// This host's address on the underlay: its VTEP, the source of VXLAN packets.
    public var advertiseAddress: IPAddress?
    /// The VXLAN UDP port, the same on every host.
    public var vxlanPort: UInt16 = Overlay.defaultPort

    public init(endpoints: [String], tls: EtcdTLS?, nodeName: String, advertiseAddress: IPAddress?) {
        self.endpoints = endpoints
        self.tls = tls
        self.nodeName = nodeName
        self.advertiseAddress = advertiseAddress
    }

    /// Parses `etcd://HOST:PORT[,HOST:PORT…]` and the options that go with it.
    public static func parse(store text: String, options: [String: String], nodeName: String?,
                             advertiseAddress: String?) throws -> ClusterConfiguration {
        let expected = "expected etcd://HOST:PORT[,HOST:PORT…]"
        guard text.hasPrefix("etcd://") else { throw CNMError("invalid cluster store \"\(text)\": \(expected)") }
        let known = ["kv.cacertfile", "kv.certfile", "kv.keyfile"]
        for key in options.keys.sorted() where !known.contains(key) {
            throw CNMError("unknown cluster store option \"\(key)\": expected one of \(known.joined(separator: ", "))")
        }
        var tls: EtcdTLS?
        if !options.isEmpty {
            let files = EtcdTLS(caFile: options["kv.cacertfile"], certFile: options["kv.certfile"], keyFile: options["kv.keyfile"])
            guard (files.certFile == nil) == (files.keyFile == nil) else {
                throw CNMError("cluster store TLS: kv.certfile and kv.keyfile go together (a client certificate and its key)")
            }
            for file in [files.caFile, files.certFile, files.keyFile].compactMap({ $0 }) where access(file, R_OK) != 0 {
                throw CNMError("cluster store TLS file \(file): \(String(cString: strerror(errno)))")
            }
            tls = files
        }
        var endpoints: [String] = []
        for member in text.dropFirst("etcd://".count).split(separator: ",", omittingEmptySubsequences: false) {
            guard let colon = member.lastIndex(of: ":"), let port = UInt16(member[member.index(after: colon)...]), port > 0 else {
                throw CNMError("invalid cluster store \"\(text)\": member \"\(member)\" has no port, \(expected)")
            }
            var host = String(member[..<colon])
            if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            guard !host.isEmpty, IPAddress(host) != nil || host.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" }) else {
                throw CNMError("invalid cluster store \"\(text)\": member \"\(member)\" is not HOST:PORT, \(expected)")
            }
            let hostPart = IPAddress(host).map { $0.isIPv4 ? host : "[\(host)]" } ?? host
            endpoints.append("\(tls == nil ? "http" : "https")://\(hostPart):\(port)")
        }
        var advertise: IPAddress?
        if let advertiseAddress {
            guard let address = IPAddress(advertiseAddress), address.isIPv4 else {
                throw CNMError("invalid advertise address \"\(advertiseAddress)\": expected this host's IPv4 address on the underlay")
            }
            advertise = address
        }
        let node = nodeName ?? Self.hostname()
        try validateName(node, of: "node")
        return ClusterConfiguration(endpoints: endpoints, tls: tls, nodeName: node, advertiseAddress: advertise)
    }

    static func hostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count - 1)
        return String(cString: buffer)
    }
}
