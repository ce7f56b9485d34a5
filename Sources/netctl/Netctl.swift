import ArgumentParser
import CNM
import Glibc
import Runtime

struct Netctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "netctl",
        abstract: "Container networking and security for Linux.",
        // Given before the subcommand, the global options are taken out of the line first
        // (Globals.takeLeading); every subcommand declares them too, so only the help
        // lists them here.
        discussion: """
            Global options, before or after the subcommand:
              --root <DIR>          State root (env NETCTL_ROOT; /var/lib/netctl).
              --host-netns <NAME>   A named network namespace as the host
                                    (env NETCTL_HOST_NETNS).
              --default-address-pool <base=CIDR,size=N>
                                    Pool for networks created without --subnet,
                                    repeatable (env NETCTL_DEFAULT_ADDRESS_POOLS).
            """,
        version: "0.1.0",
        subcommands: [
            Run.self, PS.self, Stop.self, Kill.self, Remove.self, Exec.self, Logs.self, Wait.self, InspectCommand.self,
            ImageCommand.self, PullCommand.self, RuntimeCommand.self, SeccompCommand.self, SecurityCommand.self, ProfileCommand.self, NetworkCommand.self, SandboxCommand.self, PortCommand.self, SystemCommand.self, Monitor.self,
            ClusterCommand.self, AgentCommand.self, LabCommand.self,
            Login.self, Logout.self, TrustCommand.self, ScanCommand.self,
            PushCommand.self, ImageCommand.Tag.self, DockerPluginCommand.self,
        ]
    )

    /// `netctl GROUP VERB …` parsed by the leaf's own type: ArgumentParser reflects over
    /// one command instead of the whole tree (HotPath reads the hottest without it).
    static let leaves: [String: [String: any ParsableCommand.Type]] = [
        "network": ["create": NetworkCommand.Create.self, "disconnect": NetworkCommand.Disconnect.self,
                    "rm": NetworkCommand.Remove.self, "inspect": NetworkCommand.Inspect.self],
        "sandbox": ["create": SandboxCommand.Create.self, "rm": SandboxCommand.Remove.self],
        "trust": ["verify": TrustCommand.Verify.self],
        "runtime": ["run": RuntimeCommand.Run.self, "create": RuntimeCommand.Create.self, "start": RuntimeCommand.Start.self,
                    "delete": RuntimeCommand.Delete.self, "state": RuntimeCommand.State.self],
    ]

    /// Top-level commands that take the same shortcut.
    static let hot: [String: any ParsableCommand.Type] = ["monitor": Monitor.self]
}

/// Start-up is part of every command's time. The hottest commands are read by HotPath's
/// tables; a few more by their own ArgumentParser type alone (`leaves`); anything that
/// does not parse that way — help, a typo, a missing argument — goes through the whole
/// tree, so errors and help read exactly as they would without these shortcuts and show
/// the command's whole path.
@main
enum Entry {
    static func main() {
        let arguments = Globals.takeLeading(Array(CommandLine.arguments.dropFirst()))
        // NETCTL_PARSER=argument-parser: every line through ArgumentParser (HotPathTests
        // compares the two parsers).
        switch environment("NETCTL_PARSER") == "argument-parser" ? nil : HotPath.parse(arguments) {
        case .run(let body)?:
            do {
                try body()
                exit(0)
            } catch {
                finish(error)
            }
        case .help(let type)?:
            Netctl.exit(withError: CleanExit.helpRequest(type))
        case .unknownOption(let name, let command)?:
            FileHandleOutput.standardError("Error: Unknown option '\(name)'\nUsage: netctl \(command) [<options>] …\n  See 'netctl \(command) --help' for more information.\n")
            Netctl.exit(withError: ExitCode.validationFailure)
        case nil:
            break
        }
        var hot: (any ParsableCommand.Type, Int)?
        if arguments.count >= 2, let leaf = Netctl.leaves[arguments[0]]?[arguments[1]] {
            hot = (leaf, 2)
        } else if let first = arguments.first, let command = Netctl.hot[first] {
            hot = (command, 1)
        }
        if let (type, consumed) = hot, var command = try? type.parseAsRoot(Array(arguments.dropFirst(consumed))) {
            do {
                try command.run()
                exit(0)
            } catch {
                finish(error)
            }
        }
        Netctl.main(arguments)
    }

    /// A hot command's error, printed as ArgumentParser prints it (`Error: …`, exit 1, or
    /// the code of an ExitCode) without ArgumentParser, whose error path builds the help
    /// of the whole tree (8 million instructions) even for an exit code. Casts to concrete
    /// types only: a cast to a protocol would scan the conformance records again.
    static func finish(_ error: any Error) -> Never {
        let message: String
        switch error {
        case let code as ExitCode: exit(code.rawValue)
        case let error as CLIError: message = error.description
        case let error as CNMError: message = error.description
        case let error as RuntimeError: message = error.description
        default: Netctl.exit(withError: error)
        }
        FileHandleOutput.standardError("Error: \(message)\n")
        exit(1)
    }
}
