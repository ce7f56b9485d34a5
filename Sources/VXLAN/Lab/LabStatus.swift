import FoundationEssentials
import Glibc
import Netlink

extension Lab {
    /// Labs with a directory in the default place.
    public static func runningLabs() -> [String] {
        Directory.names(in: "/run/netctl-lab").filter { access("/run/netctl-lab/\($0)/topology.yaml", F_OK) == 0 }.sorted()
    }

    /// `lab status`: nodes with their addresses and whether their namespace and processes
    /// are there, etcd's health as a client on the first host sees it, and each host's
    /// networks and containers as its netctl lists them.
    public func statusReport() -> String {
        var lines = ["lab \(topology.name) (\(directory))\(state.complete ? "" : ": not complete (netctl lab down \(topology.name))")"]
        var rows = [["NODE", "ROLE", "NAMESPACE", "ADDRESSES", "STATE"]]
        for node in plan.nodes {
            var condition = NetworkNamespace.exists(named: node.namespace) ? "up" : "missing"
            if node.role == .host {
                condition += state.agents[node.name]?.isAlive == true ? ", agent running" : ", agent not running"
            }
            if node.role == .etcd {
                condition += state.etcd[node.name]?.isAlive == true ? ", etcd running" : ", etcd not running"
            }
            rows.append([node.name, node.role.rawValue, node.namespace,
                         node.legs.map { "\($0.segment) \($0.address)" }.joined(separator: ", "), condition])
        }
        lines += table(rows)
        lines.append("etcd: \(clusterStore)\(state.clientTLS == nil ? "" : " (TLS)"): \(etcdHealth())")
        if !topology.networks.isEmpty, let first = plan.hosts.first {
            var rows = [["NETWORK", "SUBNETS", "STATE (on \(first.name))"]]
            for network in topology.networks {
                let found = (try? run(host: first.name, ["netctl", "network", "inspect", network.name]))?.status == 0
                rows.append([network.name, network.subnets.map(\.description).joined(separator: ","), found ? "present" : "missing"])
            }
            lines += table(rows)
        }
        if !topology.containers.isEmpty {
            var rows = [["CONTAINER", "HOST", "NETWORKS", "STATE"]]
            for container in topology.containers {
                let condition: String
                if container.image == nil {
                    condition = NetworkNamespace.exists(named: LabPlan.sandboxName(lab: topology.name, container: container.name)) ? "sandbox up" : "sandbox missing"
                } else {
                    struct Inspect: Decodable { struct State: Decodable { var Status: String }; var State: State }
                    let output = (try? run(host: container.host, ["netctl", "inspect", container.name]))?.output ?? ""
                    condition = (try? JSONDecoder().decode([Inspect].self, from: Data(output.utf8)).first?.State.Status) ?? "missing"
                }
                rows.append([container.name, container.host, container.networks.joined(separator: ","), condition])
            }
            lines += table(rows)
        }
        return lines.joined(separator: "\n")
    }

    private func table(_ rows: [[String]]) -> [String] {
        let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max()! }
        return rows.map { row in
            row.enumerated().map { $0.offset == row.count - 1 ? $0.element : $0.element.labPadded(to: widths[$0.offset] + 2) }.joined()
        }
    }
}

extension String {
    func labPadded(to width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}
