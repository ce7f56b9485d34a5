import ArgumentParser
import CNM
import Runtime

/// `docker port`: the published ports of a sandbox, one `80/tcp -> 0.0.0.0:8080` line each.
struct PortCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "port", abstract: "List the published ports of a container or sandbox.")
    @OptionGroup var global: GlobalOptions
    @Argument var sandbox: String
    @Argument(help: ArgumentHelp("Only this port.", valueName: "PORT[/PROTO]")) var port: String?

    func run() throws {
        let runtime = try global.runtime()
        // A container's ports are those of its sandbox.
        let sandbox = (try? runtime.container(self.sandbox))?.sandbox ?? self.sandbox
        var bindings = try runtime.network.ports(of: sandbox)
        if let port {
            let wanted = try ExposedPorts(parsing: port)
            bindings = bindings.filter { wanted.ports.contains($0.containerPort) && $0.proto == wanted.proto }
            if bindings.isEmpty { throw CNMError("no public port \"\(port)\" published for sandbox \"\(sandbox)\"") }
            bindings.forEach { print($0.hostEndpoint) }
            return
        }
        bindings.forEach { print("\($0.containerKey) -> \($0.hostEndpoint)") }
    }
}
