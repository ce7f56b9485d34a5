import ArgumentParser

@main
struct Netctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "netctl",
        abstract: "Container networking and security for Linux.",
        version: "0.1.0",
        subcommands: [NetworkCommand.self, SandboxCommand.self, SystemCommand.self]
    )
}
