import ArgumentParser
import CNM

struct SandboxCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sandbox",
        abstract: "Manage sandboxes: named network namespaces that endpoints join.",
        subcommands: [Create.self, List.self, Inspect.self, Remove.self]
    )

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a sandbox (ip netns add NAME).")
        @OptionGroup var global: GlobalOptions
        @Argument var name: String

        func run() throws { print(try global.controller().createSandbox(named: name).id) }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List sandboxes.", aliases: ["list"])
        @OptionGroup var global: GlobalOptions
        @Flag(name: .shortAndLong, help: "Only names.") var quiet = false

        func run() throws {
            let controller = try global.controller()
            let sandboxes = try controller.sandboxes()
            if quiet { sandboxes.forEach { print($0.name) }; return }
            let endpoints = try controller.allEndpoints()
            let networks = Dictionary(uniqueKeysWithValues: try controller.localNetworks().map { ($0.id, $0.name) })
            Output.table(["SANDBOX ID", "NAME", "NETWORKS"], sandboxes.map { sandbox in
                let attached = endpoints.filter { $0.sandboxID == sandbox.id }.compactMap { networks[$0.networkID] }.sorted()
                return [sandbox.shortID, sandbox.name, attached.joined(separator: ",")]
            })
        }
    }

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show sandboxes in detail (JSON).")
        @OptionGroup var global: GlobalOptions
        @Argument var sandboxes: [String]

        func run() throws {
            let controller = try global.controller()
            let networks = try controller.localNetworks()
            try Output.json(try sandboxes.map { reference in
                let sandbox = try controller.sandbox(reference)
                return SandboxInspect(sandbox, endpoints: try controller.endpoints(of: sandbox), networks: networks)
            })
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Detach and remove sandboxes.", aliases: ["remove"])
        @OptionGroup var global: GlobalOptions
        @Argument var sandboxes: [String]

        func run() throws {
            let controller = try global.controller()
            for reference in sandboxes { print(try controller.removeSandbox(reference).name) }
        }
    }
}
