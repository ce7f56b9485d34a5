import ArgumentParser
import CNM
import Glibc
import Netlink
import VXLAN

extension GlobalOptions {
    /// The overlay driver, with the cluster store configured.
    func overlay() throws -> (NetworkController, OverlayDriver, ClusterCatalog) {
        let controller = try controller()
        guard let driver = try controller.drivers.named("overlay") as? OverlayDriver else {
            throw CLIError("this netctl has no overlay driver")
        }
        return (controller, driver, try driver.catalog())
    }
}

struct AgentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Run this host's overlay agent: hold the host's lease, program FDB and neighbour entries from the peer table.")
    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Seconds the host's record outlives a silent agent.", valueName: "SECONDS"))
    var leaseTTL: Int = 10
    @Option(help: ArgumentHelp("Serve Prometheus metrics on this address.", valueName: "IP:PORT"))
    var metricsAddress: String?

    func run() throws {
        guard (2...3600).contains(leaseTTL) else { throw CLIError("invalid --lease-ttl \(leaseTTL): expected 2 to 3600 seconds") }
        let (controller, driver, _) = try global.overlay()
        var settings = OverlayAgent.Settings()
        settings.leaseTTL = leaseTTL
        settings.metricsAddress = metricsAddress
        try OverlayAgent(driver: driver, host: controller.host, settings: settings).run { line in
            // One write per line, unbuffered, so a log file shows each as it happens.
            let text = Array("\(Timestamp.now()) \(line)\n".utf8)
            _ = text.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
        }
    }
}

struct ClusterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "Inspect the cluster that overlay networks span.",
        subcommands: [Status.self, Nodes.self, Node.self])

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the cluster store's health and this node.")
        @OptionGroup var global: GlobalOptions

        func run() throws {
            let (_, driver, catalog) = try global.overlay()
            let status = try catalog.client.status()
            let members = try catalog.client.members()
            let hosts = try catalog.hosts()
            let configuration = driver.configuration!
            let rows: [(String, String)] = [
                ("Cluster store", configuration.endpoints.joined(separator: ",")),
                ("TLS", configuration.tls == nil ? "no" : "client certificate \(configuration.tls?.certFile ?? "none")"),
                ("etcd version", status.version),
                ("Members", members.map(\.name).joined(separator: " ")),
                ("Leader", String(status.leader, radix: 16)),
                ("Revision", String(status.revision)),
                ("Node", "\(configuration.nodeName) (advertise \(configuration.advertiseAddress?.description ?? "not set"), \(hosts.contains { $0.name == configuration.nodeName } ? "agent up" : "no agent"))"),
                ("Nodes up", String(hosts.count)),
                ("Overlay networks", String(try catalog.networks().count)),
            ]
            for (key, value) in rows { print("\(key): \(value)") }
        }
    }

    struct Nodes: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "nodes", abstract: "List the nodes whose agents hold a lease, and nodes that have endpoints.")
        @OptionGroup var global: GlobalOptions

        func run() throws {
            let (_, _, catalog) = try global.overlay()
            let hosts = Dictionary(uniqueKeysWithValues: try catalog.hosts().map { ($0.name, $0) })
            var endpoints: [String: Int] = [:]
            var vteps: [String: String] = [:]
            for network in try catalog.networks() {
                for peer in try catalog.peers(of: network.id) {
                    endpoints[peer.node, default: 0] += 1
                    vteps[peer.node] = peer.vtep.description
                }
            }
            let names = Set(hosts.keys).union(endpoints.keys).sorted()
            Output.table(["NODE", "STATUS", "VTEP", "ENDPOINTS", "AGENT SINCE"], names.map { name in
                let host = hosts[name]
                return [name, host == nil ? "down" : "up", host?.vtep.description ?? vteps[name] ?? "", String(endpoints[name] ?? 0), host?.started ?? ""]
            })
        }
    }

    struct Node: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Manage nodes.", subcommands: [Remove.self])

        struct Remove: ParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "rm", abstract: "Forget a node that is down: its endpoints leave every FDB and their addresses are freed.")
            @OptionGroup var global: GlobalOptions
            @Argument var node: String

            func run() throws {
                try validateName(node, of: "node")
                let (_, _, catalog) = try global.overlay()
                if try catalog.hosts().contains(where: { $0.name == node }) {
                    throw CLIError("node \"\(node)\" is up (its agent holds a lease): stop its agent first")
                }
                let removed = try catalog.removeNode(node)
                print("\(node): \(removed) endpoint\(removed == 1 ? "" : "s") removed")
            }
        }
    }
}
