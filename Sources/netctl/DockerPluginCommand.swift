import ArgumentParser
import Glibc

/// `netctl docker-plugin`: Docker's remote network and IPAM driver. The service is the
/// sibling executable `netctl-docker-plugin`, so that none of its code is in netctl's
/// start-up; this command execs it with the same settings.
struct DockerPluginCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "docker-plugin",
        abstract: "Serve Docker's remote network and IPAM driver (libnetwork's plugin protocol) on a Unix socket.",
        discussion: """
            dockerd finds the plugin by its socket, /run/docker/plugins/NAME.sock:
              docker network create -d netctl --ipam-driver netctl --subnet 198.18.0.0/24 NET
            SIGTERM or SIGINT stops it and removes the socket.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("The plugin's socket (default /run/docker/plugins/NAME.sock).", valueName: "PATH"))
    var socket: String?

    @Option(help: ArgumentHelp("The driver's name in Docker.", valueName: "NAME"))
    var name: String = "netctl"

    func run() throws {
        var directory = try executablePath()
        if let slash = directory.lastIndex(of: "/") { directory = String(directory[..<slash]) }
        let plugin = directory + "/netctl-docker-plugin"
        var arguments = [plugin, "--root", global.rootPath, "--name", name]
        if let socket { arguments += ["--socket", socket] }
        if let hostNetns = global.hostNetns { arguments += ["--host-netns", hostNetns] }
        // The rest of the global options reach the plugin as the variables that stand for them.
        if !global.defaultAddressPool.isEmpty {
            setenv("NETCTL_DEFAULT_ADDRESS_POOLS", global.defaultAddressPool.joined(separator: " "), 1)
        }
        let argv = arguments.map { strdup($0) } + [nil]
        execv(plugin, argv)
        throw ValidationError("cannot run \(plugin): \(String(cString: strerror(errno)))")
    }
}
