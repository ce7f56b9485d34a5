import FoundationEssentials
import Glibc
import Netlink

/// One line of `lab test`.
public struct LabCheck: Sendable, CustomStringConvertible {
    public var passed: Bool
    public var description: String
}

extension Lab {
    /// A container as the test sees it: where its network namespace is, and its address
    /// and MTU on each overlay.
    struct Attachment {
        var container: String
        var host: String
        var namespacePath: String
        var addresses: [String: (address: IPAddress, mtu: UInt32)]
    }

    /// `lab test`: for every pair of containers sharing an overlay, a ping in one hop (the
    /// reply's TTL is 64, so no router decremented it) and a full-MTU ping with DF set;
    /// containers on different overlays and the underlay hosts do not reach each other's
    /// overlay addresses; and a capture on the underlay decodes VXLAN with the network's VNI.
    public func test() -> [LabCheck] {
        var checks: [LabCheck] = []
        var attachments: [Attachment] = []
        for container in topology.containers {
            do {
                attachments.append(try attachment(of: container))
            } catch {
                checks.append(LabCheck(passed: false, description: "container \(container.name) on \(container.host): \(error)"))
            }
        }
        guard !attachments.isEmpty else {
            checks.append(LabCheck(passed: false, description: "no containers to test (the topology has none under containers:)"))
            return checks
        }

        // Reach in one hop, and full-size packets with DF set.
        for network in topology.networks {
            let members = attachments.filter { $0.addresses[network.name] != nil }
            for source in members {
                for target in members where target.container != source.container {
                    let (address, mtu) = target.addresses[network.name]!
                    let route = "\(network.name): \(source.container) (\(source.host)) -> \(target.container) (\(target.host)) \(address)"
                    let reply = ping(from: source.namespacePath, address)
                    checks.append(LabCheck(passed: reply == 64,
                                           description: "\(route): " + (reply.map { "reply, ttl \($0)\($0 == 64 ? " (one hop)" : " (expected 64: one hop)")" } ?? "no reply")))
                    let size = Int(min(mtu, source.addresses[network.name]!.mtu)) - 28
                    let full = ping(from: source.namespacePath, address, size: size, dontFragment: true)
                    checks.append(LabCheck(passed: full != nil,
                                           description: "\(route): \(size + 28)-byte packet with DF set (MTU \(size + 28)): \(full != nil ? "passes" : "no reply")"))
                }
            }
        }

        // Isolation: overlays from each other, and the underlay from every overlay.
        for source in attachments {
            for target in attachments where target.container != source.container
                && Set(source.addresses.keys).isDisjoint(with: target.addresses.keys) {
                for (network, (address, _)) in target.addresses.sorted(by: { $0.key < $1.key }) {
                    let reply = ping(from: source.namespacePath, address, wait: 1)
                    checks.append(LabCheck(passed: reply == nil,
                                           description: "isolation: \(source.container) (\(source.addresses.keys.sorted().joined(separator: ","))) -> \(target.container) on \(network) \(address): \(reply == nil ? "no reply" : "answered (expected no reply)")"))
                }
            }
        }
        for host in plan.hosts {
            for target in attachments {
                for (network, (address, _)) in target.addresses.sorted(by: { $0.key < $1.key }) {
                    let reply = ping(from: "\(NetworkNamespace.directory)/\(host.namespace)", address, wait: 1)
                    checks.append(LabCheck(passed: reply == nil,
                                           description: "isolation: underlay host \(host.name) -> \(target.container) on \(network) \(address): \(reply == nil ? "no reply" : "answered (expected no reply)")"))
                }
            }
        }

        // Standard VXLAN on the wire, with the network's VNI.
        for network in topology.networks {
            checks.append(vxlanCheck(network: network.name, attachments.filter { $0.addresses[network.name] != nil }))
        }
        return checks
    }

    /// Where a container's namespace is and its addresses on the lab's overlays.
    private func attachment(of container: LabTopology.Container) throws -> Attachment {
        let namespace: NetworkNamespace
        let path: String
        if container.image == nil {
            let name = LabPlan.sandboxName(lab: topology.name, container: container.name)
            namespace = try NetworkNamespace.open(named: name)
            path = "\(NetworkNamespace.directory)/\(name)"
        } else {
            struct Inspect: Decodable { struct State: Decodable { var Pid: Int32 }; var State: State }
            let output = try netctl(host: container.host, "inspect", container.name)
            guard let pid = try JSONDecoder().decode([Inspect].self, from: Data(output.utf8)).first?.State.Pid, pid > 0 else {
                throw LabError("not running")
            }
            namespace = try NetworkNamespace.open(pid: pid)
            path = "/proc/\(pid)/ns/net"
        }
        let session = try NetlinkSession(in: namespace)
        let links = try session.links()
        var addresses: [String: (IPAddress, UInt32)] = [:]
        for address in try session.addresses(family: AF_INET) {
            guard let network = topology.networks.first(where: { $0.subnets.contains { $0.contains(address.network.address) } }) else { continue }
            let mtu = links.first { $0.index == address.interfaceIndex }?.mtu ?? 1450
            addresses[network.name] = (address.network.address, mtu)
        }
        for network in container.networks where addresses[network] == nil {
            throw LabError("no address on \(network)")
        }
        return Attachment(container: container.name, host: container.host, namespacePath: path, addresses: addresses)
    }

    /// One echo request from a namespace; the reply's TTL, nil without a reply in 2 s.
    private func ping(from namespacePath: String, _ address: IPAddress, size: Int? = nil, dontFragment: Bool = false, wait: Int = 2) -> Int? {
        var command = ["nsenter", "--net=\(namespacePath)", "--", "ping", "-n", "-c", "1", "-W", String(wait)]
        if let size { command += ["-s", String(size)] }
        if dontFragment { command += ["-M", "do"] }
        guard let result = try? LabRunner.run(command + [address.description]), result.status == 0,
              let range = result.output.range(of: "ttl=") else { return nil }
        return Int(result.output[range.upperBound...].prefix { $0.isNumber })
    }

    /// A capture on the underlay while one container pings another: on a router between
    /// their hosts' segments if they differ, else on the sender's host. tcpdump decodes
    /// UDP 4789 as VXLAN and prints the VNI, which must be the network's.
    private func vxlanCheck(network: String, _ members: [Attachment]) -> LabCheck {
        let what = "vxlan: \(network)"
        let pairs = members.flatMap { a in members.filter { $0.host != a.host }.map { (a, $0) } }
        guard let (source, target) = pairs.first(where: { plan.node($0.0.host)!.legs[0].segment != plan.node($0.1.host)!.legs[0].segment }) ?? pairs.first else {
            return LabCheck(passed: false, description: "\(what): no two containers on different hosts to capture between")
        }
        // Docker's vxlanid_list holds a VNI per subnet, in the subnets' order.
        let vni: String
        do {
            struct Inspect: Decodable { var Options: [String: String]? }
            let output = try netctl(host: source.host, "network", "inspect", network)
            guard let list = try JSONDecoder().decode([Inspect].self, from: Data(output.utf8)).first?.Options?["com.docker.network.driver.overlay.vxlanid_list"] else {
                return LabCheck(passed: false, description: "\(what): network inspect shows no com.docker.network.driver.overlay.vxlanid_list")
            }
            let vnis = list.split(separator: ",").map(String.init)
            let subnets = topology.networks.first { $0.name == network }!.subnets
            let index = subnets.firstIndex { $0.contains(target.addresses[network]!.address) } ?? 0
            vni = index < vnis.count ? vnis[index] : list
        } catch {
            return LabCheck(passed: false, description: "\(what): \(error)")
        }
        // Where to listen: the sender's segment leg of the router towards the target's segment.
        let sourceNode = plan.node(source.host)!, targetNode = plan.node(target.host)!
        var namespace = sourceNode.namespace, interface = sourceNode.legs[0].interface, place = "host \(source.host)"
        if sourceNode.legs[0].segment != targetNode.legs[0].segment,
           let gateway = sourceNode.routes.first(where: { $0.destination.contains(targetNode.address) })?.gateway,
           let router = plan.nodes.first(where: { $0.role == .router && $0.legs.contains { $0.address.address == gateway } }) {
            namespace = router.namespace
            interface = router.legs.first { $0.address.address == gateway }!.interface
            place = "router \(router.name)"
        }
        let log = directory + "/tcpdump-\(network).log"
        unlink(log)
        let capture = ["nsenter", "--net=\(NetworkNamespace.directory)/\(namespace)", "--",
                       "timeout", "5", "tcpdump", "-l", "-nv", "-c", "1", "-i", interface, "udp", "port", "4789"]
        guard let pid = try? LabRunner.startService(capture, environment: LabRunner.environmentDictionary(), log: log) else {
            return LabCheck(passed: false, description: "\(what): tcpdump did not start")
        }
        // tcpdump says "listening on" once its socket is open; then the ping it must see.
        for _ in 0..<200 where !((try? LabFiles.read(log, limit: 1 << 20)) ?? "").contains("listening on") { usleep(10_000) }
        _ = ping(from: source.namespacePath, target.addresses[network]!.address)
        _ = LabRunner.wait(pid)
        let text = (try? LabFiles.read(log, limit: 1 << 20)) ?? ""
        unlink(log)
        let passed = text.split(separator: "\n").contains { $0.contains("VXLAN") && $0.hasSuffix("vni \(vni)") }
        let seen = text.split(separator: "\n").first { $0.contains("VXLAN") }.map { String($0.drop { $0 == " " }) } ?? "no VXLAN packet"
        return LabCheck(passed: passed, description: "\(what): capture on \(place) \(interface) udp port 4789: \(seen) (expected vni \(vni))")
    }
}
