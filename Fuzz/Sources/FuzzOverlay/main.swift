import CNM
import FoundationEssentials
import Netlink
import VXLAN

/// The overlay's outside data, chosen by the first byte (mod 5), the rest being the input:
/// 0 a lab file, 1 a cluster store configuration, 2 a cluster record from etcd, 3 an etcd
/// range answer, 4 an etcd watch stream. Each is refused with an error or read into
/// something whose invariants hold; nothing crashes, hangs or grows without bound.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    switch data[0] % 5 {
    case 0: fuzzLab(String(decoding: bytes, as: UTF8.self))
    case 1: fuzzClusterConfiguration(String(decoding: bytes, as: UTF8.self))
    case 2: fuzzRecords(bytes)
    case 3: fuzzRange(bytes)
    default: fuzzWatch(bytes)
    }
    return 0
}

// MARK: Lab files

/// What `lab up` reads: refused, or a topology `LabPlan` can lay out without a clash, and
/// that reads back the same when written out again.
func fuzzLab(_ text: String) {
    guard let topology = try? LabTopology.parse(text, file: "fuzz.yaml") else { return }
    checkInvariants(topology)
    let again = render(topology)
    let reparsed: LabTopology
    do { reparsed = try LabTopology.parse(again, file: "again.yaml") } catch { preconditionFailure("\(again) -> \(error)") }
    precondition(reparsed == topology, "\(text) -> \(again) -> \(reparsed)")
}

func checkInvariants(_ topology: LabTopology) {
    precondition(isName(topology.name, limit: 8), topology.name)
    precondition(!topology.segments.isEmpty && !topology.hosts.isEmpty)
    precondition([1, 3].contains(topology.etcd.members))
    let segments = Dictionary(topology.segments.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in preconditionFailure("segment \(first.name) twice") })
    precondition(segments[topology.etcd.segment] != nil)
    var subnets: [IPNetwork] = []
    for segment in topology.segments {
        precondition(isName(segment.name, limit: 12), segment.name)
        precondition((1280...9000).contains(segment.mtu) && segment.subnet.prefixLength <= 28)
        subnets.append(segment.subnet)
    }
    for network in topology.networks {
        precondition(isName(network.name, limit: 12) && !network.subnets.isEmpty, network.name)
        subnets += network.subnets
    }
    for (index, subnet) in subnets.enumerated() {
        precondition(subnet.isIPv4 && subnet.isSubnet && LabTopology.addressRange.contains(subnet) && !subnet.overlaps(LabTopology.hostPool), "\(subnet)")
        for other in subnets[..<index] { precondition(!other.overlaps(subnet), "\(other) overlaps \(subnet)") }
    }
    let nodes = topology.routers.map(\.name) + topology.hosts.map(\.name) + topology.etcdMemberNames
    precondition(Set(nodes).count == nodes.count, "\(nodes)")
    for router in topology.routers {
        precondition(isName(router.name, limit: 12) && router.segments.count >= 2 && Set(router.segments).count == router.segments.count)
        precondition(router.segments.allSatisfy { segments[$0] != nil })
    }
    for host in topology.hosts { precondition(isName(host.name, limit: 12) && segments[host.segment] != nil, host.name) }
    let networks = Set(topology.networks.map(\.name))
    precondition(networks.count == topology.networks.count)
    precondition(Set(topology.containers.map(\.name)).count == topology.containers.count)
    for container in topology.containers {
        precondition(isName(container.name, limit: 12) && topology.hosts.contains { $0.name == container.host })
        precondition(Set(container.networks).count == container.networks.count && container.networks.allSatisfy(networks.contains))
    }

    // Laid out: every leg's address is in its segment, none twice; names fit the kernel's
    // (interfaces 15 bytes); hosts and etcd members reach every segment one of them is on,
    // directly or by a route (a segment nobody is on may stand apart).
    let occupied = Set(topology.hosts.map(\.segment) + [topology.etcd.segment])
    let plan = LabPlan(topology)
    var addresses = Set<IPAddress>()
    precondition(Set(plan.namespaces).count == plan.namespaces.count, "\(plan.namespaces)")
    for node in plan.nodes {
        precondition(!node.legs.isEmpty)
        for leg in node.legs {
            let segment = segments[leg.segment]!
            precondition(leg.address.masked == segment.subnet && segment.subnet.contains(leg.address.address), "\(node.name) \(leg.address)")
            precondition(leg.address.address != segment.subnet.first && leg.address.address != segment.subnet.last, "\(leg.address)")
            precondition(addresses.insert(leg.address.address).inserted, "\(leg.address) twice")
            precondition(leg.interface.utf8.count <= 15 && leg.port.utf8.count <= 15)
        }
        let reached = Set(node.legs.map(\.segment)).union(node.routes.map { route in topology.segments.first { $0.subnet == route.destination }!.name })
        precondition(node.role == .router || reached.isSuperset(of: occupied), "\(node.name) reaches \(reached)")
    }
}

func isName(_ name: String, limit: Int) -> Bool {
    guard let first = name.utf8.first, name.utf8.count <= limit, first.isASCIILetter else { return false }
    return name.utf8.allSatisfy { $0.isASCIILetter || (0x30...0x39).contains($0) }
}

extension UInt8 {
    var isASCIILetter: Bool { (0x41...0x5a).contains(self) || (0x61...0x7a).contains(self) }
}

/// The topology as a lab file, every string double-quoted with escapes.
func render(_ topology: LabTopology) -> String {
    func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case " "..."~": out.unicodeScalars.append(scalar)
            default:
                let hex = String(scalar.value, radix: 16)
                out += "\\U" + String(repeating: "0", count: 8 - hex.count) + hex
            }
        }
        return out + "\""
    }
    func list(_ items: [String]) -> String { "[" + items.joined(separator: ", ") + "]" }
    var lines = ["name: \(quoted(topology.name))",
                 "etcd: {members: \(topology.etcd.members), segment: \(quoted(topology.etcd.segment)), tls: \(topology.etcd.tls)}"]
    lines.append("segments: " + list(topology.segments.map { "{name: \(quoted($0.name)), subnet: \(quoted($0.subnet.description)), mtu: \($0.mtu)}" }))
    lines.append("routers: " + list(topology.routers.map { "{name: \(quoted($0.name)), segments: \(list($0.segments.map(quoted)))}" }))
    lines.append("hosts: " + list(topology.hosts.map { "{name: \(quoted($0.name)), segment: \(quoted($0.segment))}" }))
    lines.append("networks: " + list(topology.networks.map {
        "{name: \(quoted($0.name)), subnets: \(list($0.subnets.map { quoted($0.description) })), internal: \($0.internal)}"
    }))
    lines.append("containers: " + list(topology.containers.map {
        "{name: \(quoted($0.name)), host: \(quoted($0.host)), networks: \(list($0.networks.map(quoted)))"
            + ($0.image.map { ", image: \(quoted($0))" } ?? "") + "}"
    }))
    return lines.joined(separator: "\n") + "\n"
}

// MARK: Cluster store configuration

/// Lines: the store (`etcd://…`), the node name, the advertise address (an empty line is
/// none given), then `KEY=VALUE` options. Refused, or endpoints that are URLs curl reads
/// as HOST:PORT, and that read back the same.
func fuzzClusterConfiguration(_ text: String) {
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    let store = lines[0]
    let node = lines.count > 1 ? lines[1] : "fuzz"
    let advertise = lines.count > 2 && !lines[2].isEmpty ? lines[2] : nil
    var options: [String: String] = [:]
    for line in lines.dropFirst(3) {
        let parts = line.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        options[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
    }
    guard let configuration = try? ClusterConfiguration.parse(store: store, options: options, nodeName: node, advertiseAddress: advertise) else { return }
    precondition(!configuration.endpoints.isEmpty)
    precondition((try? validateName(configuration.nodeName, of: "node")) != nil, configuration.nodeName)
    precondition(configuration.advertiseAddress.map(\.isIPv4) ?? true)
    let scheme = configuration.tls == nil ? "http://" : "https://"
    var members: [String] = []
    for endpoint in configuration.endpoints {
        precondition(endpoint.hasPrefix(scheme), endpoint)
        let member = String(endpoint.dropFirst(scheme.count))
        let colon = member.lastIndex(of: ":")!
        let host = member[..<colon]
        let port = UInt16(member[member.index(after: colon)...])
        precondition(port != nil && port! > 0, endpoint)
        // A URL's host: a name or an IPv4 address, or an IPv6 address in brackets.
        precondition(!host.isEmpty && (host.hasPrefix("[") ? host.hasSuffix("]") && IPAddress(String(host.dropFirst().dropLast())).map { !$0.isIPv4 } == true
                                                          : !host.contains(":") && !host.contains("/") && !host.contains("@")), endpoint)
        members.append(member)
    }
    let again = try! ClusterConfiguration.parse(store: "etcd://" + members.joined(separator: ","), options: options,
                                                nodeName: node, advertiseAddress: advertise)
    precondition(again.endpoints == configuration.endpoints, "\(store) -> \(configuration.endpoints) -> \(again.endpoints)")
}

// MARK: Cluster records and etcd answers

/// A record as ClusterCatalog reads it from etcd: refused, or one that writes out and reads
/// back the same.
func fuzzRecords(_ bytes: [UInt8]) {
    let decoder = JSONDecoder(), encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    if let network = try? decoder.decode(NetworkRecord.self, from: Data(bytes)) {
        _ = OverlayOptions.vnis(of: network)
        let written = try! encoder.encode(network)
        precondition(try! encoder.encode(try! decoder.decode(NetworkRecord.self, from: written)) == written)
    }
    if let peer = try? decoder.decode(PeerRecord.self, from: Data(bytes)) {
        precondition(try! decoder.decode(PeerRecord.self, from: try! encoder.encode(peer)) == peer, "\(peer)")
    }
    if let host = try? decoder.decode(HostRecord.self, from: Data(bytes)) {
        precondition(try! decoder.decode(HostRecord.self, from: try! encoder.encode(host)) == host, "\(host)")
    }
}

/// A `/v3/kv/range` answer, and the records in it as the catalog reads them.
func fuzzRange(_ bytes: [UInt8]) {
    guard let (items, _) = try? EtcdClient.decodeRange(bytes, context: "fuzz") else { return }
    for item in items {
        _ = try? JSONDecoder().decode(PeerRecord.self, from: Data(item.value))
        _ = try? JSONDecoder().decode(NetworkRecord.self, from: Data(item.value))
    }
}

/// A `/v3/watch` stream, cut into chunks at places the first byte chooses: it reads as the
/// same events as the whole stream in one chunk.
func fuzzWatch(_ bytes: [UInt8]) {
    guard let seed = bytes.first else { return }
    let stream = Array(bytes.dropFirst())
    func read(chunkSizes: (Int) -> Int) -> [EtcdClient.WatchEvent]? {
        var reader = EtcdClient.WatchStream(context: "fuzz", fromRevision: 1)
        var events: [EtcdClient.WatchEvent] = []
        var start = 0, index = 0
        repeat {
            let end = min(stream.count, start + chunkSizes(index))
            do {
                _ = try stream[start..<end].withUnsafeBytes { chunk in try reader.read(chunk) { events.append($0); return true } }
            } catch {
                precondition(error is EtcdError, "\(error)")
                return nil
            }
            start = end
            index += 1
        } while start < stream.count
        return events
    }
    let whole = read { _ in stream.count }
    let chunked = read { index in 1 + (Int(seed) &* (index + 1)) % 97 }
    precondition(whole == chunked, "\(String(describing: whole)) != \(String(describing: chunked))")
}
