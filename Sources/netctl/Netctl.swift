import ArgumentParser

struct Netctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "netctl",
        abstract: "Container networking and security for Linux.",
        version: "0.1.0",
        subcommands: [
            Run.self, PS.self, Stop.self, Kill.self, Remove.self, Exec.self, Logs.self, Wait.self, InspectCommand.self,
            ImageCommand.self, RuntimeCommand.self, SeccompCommand.self, SecurityCommand.self, ProfileCommand.self, NetworkCommand.self, SandboxCommand.self, PortCommand.self, SystemCommand.self, Monitor.self,
        ]
    )

    /// `netctl GROUP VERB …` for the commands scripts call in loops.
    static let leaves: [String: [String: any ParsableCommand.Type]] = [
        "network": ["create": NetworkCommand.Create.self, "connect": NetworkCommand.Connect.self,
                    "disconnect": NetworkCommand.Disconnect.self, "rm": NetworkCommand.Remove.self,
                    "ls": NetworkCommand.List.self, "inspect": NetworkCommand.Inspect.self],
        "sandbox": ["create": SandboxCommand.Create.self, "rm": SandboxCommand.Remove.self],
        "runtime": ["run": RuntimeCommand.Run.self, "create": RuntimeCommand.Create.self, "start": RuntimeCommand.Start.self,
                    "delete": RuntimeCommand.Delete.self, "state": RuntimeCommand.State.self],
    ]

    /// Top-level commands that take the same shortcut (`run` is timed against crun).
    static let hot: [String: any ParsableCommand.Type] = ["run": Run.self, "monitor": Monitor.self, "exec": Exec.self]
}

/// Start-up is part of every command's time, and ArgumentParser's first parse reflects over
/// every command type in the tree (about 1 ms here, mostly first-use protocol conformance
/// lookups). A hot command is parsed by its own type alone; anything that does not parse
/// that way — help, a typo, a missing argument — goes through the whole tree, so errors and
/// help read exactly as they would without this shortcut.
@main
enum Entry {
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        var hot: (any ParsableCommand.Type, Int)?
        if arguments.count >= 2, let leaf = Netctl.leaves[arguments[0]]?[arguments[1]] {
            hot = (leaf, 2)
        } else if let first = arguments.first, let command = Netctl.hot[first] {
            hot = (command, 1)
        }
        if let (type, consumed) = hot, var command = try? type.parseAsRoot(Array(arguments.dropFirst(consumed))) {
            do {
                try command.run()
                Netctl.exit()
            } catch {
                Netctl.exit(withError: error)
            }
        }
        Netctl.main(arguments)
    }
}
