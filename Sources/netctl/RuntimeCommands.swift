import ArgumentParser
import CNM
import Glibc
import Runtime

/// `netctl runtime`: runc's commands over OCI bundles.
struct RuntimeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runtime",
        abstract: "Run OCI bundles as runc does (config.json from `runc spec`).",
        subcommands: [Create.self, Start.self, State.self, Kill.self, Delete.self, Run.self, List.self]
    )

    struct Bundle: ParsableArguments {
        @Option(name: [.customShort("b"), .long], help: ArgumentHelp("The bundle directory.", valueName: "DIR")) var bundle = "."
        @Argument(help: "Container id.") var id: String

        var absoluteBundle: String { absolutePath(bundle) }
    }

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a container; its process waits for start.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var bundle: Bundle

        func run() throws {
            try runtimeCall { try global.ociRuntime().create(bundle: bundle.absoluteBundle, id: bundle.id) }
        }
    }

    struct Start: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "start", abstract: "Start a created container's command.")
        @OptionGroup var global: GlobalOptions
        @Argument var id: String

        func run() throws { try runtimeCall { try global.ociRuntime().start(id) } }
    }

    struct State: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "state", abstract: "Print a container's state (runtime-spec JSON).")
        @OptionGroup var global: GlobalOptions
        @Argument var id: String

        func run() throws { try runtimeCall { try Output.json(try global.ociRuntime().state(id)) } }
    }

    struct Kill: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "kill", abstract: "Signal a container's process (default TERM).")
        @OptionGroup var global: GlobalOptions
        @Argument var id: String
        @Argument var signal = "TERM"

        func run() throws { try runtimeCall { try global.ociRuntime().kill(id, signal: signal) } }
    }

    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete a container.")
        @OptionGroup var global: GlobalOptions
        @Flag(name: .shortAndLong, help: "Kill it first if it runs.") var force = false
        @Argument var id: String

        func run() throws { try runtimeCall { try global.ociRuntime().delete(id, force: force) } }
    }

    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "run", abstract: "Create, start and wait for a container; exit with its code.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var bundle: Bundle

        func run() throws {
            let code = try runtimeCall { try global.ociRuntime().run(bundle: bundle.absoluteBundle, id: bundle.id) }
            if code != 0 { throw ExitCode(code) }
        }
    }
}

extension RuntimeCommand {
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List containers.", aliases: ["ls"])
        @OptionGroup var global: GlobalOptions
        @Flag(name: .shortAndLong, help: "Only ids.") var quiet = false

        func run() throws {
            let runtime = try global.ociRuntime()
            let states = try runtime.list().map { try runtime.state($0) }
            if quiet { states.forEach { print($0.id) }; return }
            Output.table(["ID", "PID", "STATUS", "BUNDLE"], states.map { [$0.id, String($0.pid), $0.status, $0.bundle] })
        }
    }
}

func runtimeCall<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as RuntimeError {
        throw failure(error)
    }
}

