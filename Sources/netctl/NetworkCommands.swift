import ArgumentParser
import CNM
import Runtime
import VXLAN

struct NetworkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "network",
        abstract: "Manage networks.",
        subcommands: [Create.self, List.self, Inspect.self, Remove.self, Prune.self, Connect.self, Disconnect.self]
    )

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a network.")
        @OptionGroup var global: GlobalOptions
        @Option(name: [.short, .long], help: "Driver: bridge, macvlan, overlay, host or null.") var driver = "bridge"
        @Option(help: "Subnet in CIDR form, repeatable: one per family (overlay: several, routed between).") var subnet: [String] = []
        @Option(help: "Gateway of a subnet.") var gateway: [String] = []
        @Option(help: "Allocate container addresses from this sub-range.") var ipRange: [String] = []
        @Option(help: ArgumentHelp("Address the IPAM must not hand out.", valueName: "NAME=IP")) var auxAddress: [String] = []
        @Flag(help: "Enable IPv6.") var ipv6 = false
        @Flag(help: "No outside access (no masquerade, no published ports).") var `internal` = false
        @Flag(help: "Let containers attach by hand.") var attachable = false
        @Option(name: [.customShort("o"), .customLong("opt")], help: ArgumentHelp("Driver option.", valueName: "KEY=VALUE")) var opt: [String] = []
        @Option(help: ArgumentHelp("Metadata.", valueName: "KEY=VALUE")) var label: [String] = []
        @Argument var name: String

        func run() throws {
            var request = NetworkCreateRequest(name: name)
            request.driver = driver
            request.subnets = subnet
            request.gateways = gateway
            request.ipRanges = ipRange
            request.auxiliaryAddresses = auxAddress
            request.enableIPv6 = ipv6
            request.internal = `internal`
            request.attachable = attachable
            request.options = try Output.pairs(opt, flag: "option", valueRequired: false)
            request.labels = try Output.pairs(label, flag: "label", valueRequired: false)
            print(try global.controller().createNetwork(request).id)
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List networks.", aliases: ["list"])
        @OptionGroup var global: GlobalOptions
        @Flag(name: .shortAndLong, help: "Only ids.") var quiet = false
        @Option(name: .shortAndLong, help: ArgumentHelp("driver=, name=, id=, label=, scope=, type=custom|builtin.", valueName: "KEY=VALUE")) var filter: [String] = []
        @Option(help: "table or json.") var format = "table"
        @Flag(help: "Full ids.") var noTrunc = false

        func run() throws {
            try Listing(quiet: quiet, filter: filter, format: format, noTrunc: noTrunc).perform(globals: global.values)
        }
    }

    /// What `network ls` was asked for, from either parser.
    struct Listing {
        var quiet = false
        var filter: [String] = []
        var format = "table"
        var noTrunc = false

        func perform(globals: Globals) throws {
            if let mode = environment("NETCTL_PARSE_ONLY") { return mode == "quiet" ? () : print(globals, self) }
            let filters = try filter.map(NetworkFilter.init)
            guard ["table", "json"].contains(format) else { throw CLIError("invalid format \"\(format)\": expected table or json") }
            let controller = try globals.controller()
            let all: [NetworkRecord]
            do {
                all = try controller.networks()
            } catch {
                // Listing is not a change: without the cluster store, show what this host knows.
                all = try controller.localNetworks()
                FileHandleOutput.standardError("Warning: \(error); overlay networks this host has no endpoint on are not listed\n")
            }
            let networks = all.filter { network in filters.allSatisfy { $0.matches(network) } }
            let id = { (network: NetworkRecord) in noTrunc ? network.id : network.shortID }
            if quiet {
                networks.forEach { print(id($0)) }
            } else if format == "json" {
                for network in networks {
                    try Output.json([
                        "CreatedAt": network.created, "Driver": network.driver, "ID": id(network),
                        "IPv6": String(network.enableIPv6), "Internal": String(network.internal),
                        "Labels": network.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","),
                        "Name": network.name, "Scope": network.scope,
                    ], pretty: false)
                }
            } else {
                Output.table(["NETWORK ID", "NAME", "DRIVER", "SCOPE"],
                             networks.map { [id($0), $0.name, $0.driver, $0.scope] })
            }
        }
    }

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show networks in detail (JSON).")
        @OptionGroup var global: GlobalOptions
        @Argument var networks: [String]

        func run() throws {
            let controller = try global.controller()
            let shown = try networks.map { reference in
                let network = try controller.network(reference)
                var shown = NetworkInspect(network, endpoints: try controller.endpoints(of: network))
                if let overlay = try? controller.drivers.named(network.driver) as? OverlayDriver {
                    // The hosts with endpoints on it, each once.
                    var seen: Set<String> = []
                    shown.peers = try overlay.catalog().peers(of: network.id).sorted { $0.node < $1.node }.compactMap { peer in
                        seen.insert(peer.node).inserted ? NetworkInspect.Peer(name: peer.node, ip: peer.vtep.description) : nil
                    }
                }
                return shown
            }
            try Output.json(shown)
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove networks.", aliases: ["remove"])
        @OptionGroup var global: GlobalOptions
        @Argument var networks: [String]

        func run() throws {
            let controller = try global.controller()
            var failed: (any Error)?
            for reference in networks {
                do {
                    print(try controller.removeNetwork(reference).name)
                } catch let error as CNMError {
                    // "in use by container web", not by its internal sandbox's name.
                    failed = CLIError((try? global.runtime())?.describing(error).description ?? error.description)
                } catch {
                    failed = error
                }
            }
            if let failed { throw failed }
        }
    }

    struct Prune: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove all networks nothing is attached to.")
        @OptionGroup var global: GlobalOptions
        @Flag(name: .shortAndLong, help: "Do not ask (netctl never asks).") var force = false

        func run() throws {
            let removed = try global.controller().prune()
            guard !removed.isEmpty else { return }
            print("Deleted Networks:")
            removed.forEach { print($0.name) }
        }
    }

    struct Connect: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Attach a container or a sandbox to a network.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "IPv4 address.") var ip: String?
        @Option(help: "IPv6 address.") var ip6: String?
        @Option(help: "Name the endpoint also answers to.") var alias: [String] = []
        @OptionGroup var publishing: PublishOptions
        @Argument var network: String
        @Argument(help: ArgumentHelp("A container (name or id) or a sandbox.", valueName: "container|sandbox")) var sandbox: String

        func run() throws {
            var request = ConnectRequest(network: network, sandbox: sandbox)
            request.ipv4 = ip
            request.ipv6 = ip6
            request.aliases = alias
            publishing.apply(to: &request)
            try Self.perform(request, globals: global.values)
        }

        /// A sandbox first, as before (nothing more on that path); else a container, with
        /// the names it answers to.
        static func perform(_ request: ConnectRequest, globals: Globals) throws {
            if let mode = environment("NETCTL_PARSE_ONLY") { return mode == "quiet" ? () : print(globals, request) }
            let controller = try globals.controller()
            do {
                _ = try controller.connect(request)
            } catch let error as CNMError {
                guard (try? controller.sandbox(request.sandbox)) == nil else { throw error }
                let runtime = ContainerRuntime(root: globals.rootPath, network: controller)
                do {
                    guard let container = try runtime.connectRequest(for: request) else { throw error }
                    if try controller.connect(container).dnsNames != nil { try runtime.resolverJoined(container: request.sandbox) }
                } catch let error as CNMError {
                    throw CLIError(runtime.describing(error).description)
                } catch let error as RuntimeError {
                    throw CLIError(error.description)
                }
            }
        }
    }

    struct Disconnect: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Detach a container or a sandbox from a network.")
        @OptionGroup var global: GlobalOptions
        @Flag(name: .shortAndLong, help: "Accepted for Docker compatibility.") var force = false
        @Argument var network: String
        @Argument(help: ArgumentHelp("A container (name or id) or a sandbox.", valueName: "container|sandbox")) var sandbox: String

        func run() throws {
            let controller = try global.controller()
            do {
                try controller.disconnect(network: network, sandbox: sandbox)
            } catch let error as CNMError {
                guard (try? controller.sandbox(sandbox)) == nil else { throw error }
                let runtime = ContainerRuntime(root: global.values.rootPath, network: controller)
                do {
                    guard let container = try runtime.connectRequest(for: ConnectRequest(network: network, sandbox: sandbox)) else { throw error }
                    try controller.disconnect(network: network, sandbox: container.sandbox)
                } catch let error as CNMError {
                    throw CLIError(runtime.describing(error).description)
                } catch let error as RuntimeError {
                    throw CLIError(error.description)
                }
            }
        }
    }
}

/// One `--filter KEY=VALUE` of `network ls`, as Docker reads it.
struct NetworkFilter {
    var key: String
    var value: String

    init(_ text: String) throws {
        let pair = text.split(separator: "=", maxSplits: 1).map(String.init)
        guard pair.count == 2, ["driver", "name", "id", "label", "scope", "type"].contains(pair[0]) else {
            throw CLIError("invalid filter \"\(text)\": expected driver=, name=, id=, label=, scope= or type=")
        }
        if pair[0] == "type", !["custom", "builtin"].contains(pair[1]) {
            throw CLIError("invalid filter \"\(text)\": type is custom or builtin")
        }
        key = pair[0]
        value = pair[1]
    }

    func matches(_ network: NetworkRecord) -> Bool {
        switch key {
        case "driver": return network.driver == value
        case "name": return network.name.contains(value)
        case "id": return network.id.hasPrefix(value)
        case "scope": return network.scope == value
        case "type": return network.predefined == (value == "builtin")
        default:
            let pair = value.split(separator: "=", maxSplits: 1).map(String.init)
            guard let label = network.labels[pair[0]] else { return false }
            return pair.count == 1 || label == pair[1]
        }
    }
}
