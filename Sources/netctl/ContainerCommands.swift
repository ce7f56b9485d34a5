import ArgumentParser
import CNM
import Glibc
import Runtime

/// A runtime failure as Docker reports it: one line, and exit code 125 (netctl failed),
/// 126 (not executable) or 127 (not found).
func failure(_ error: RuntimeError) -> ExitCode {
    FileHandleOutput.standardError("Error: \(error.description)\n")
    return ExitCode(error.exitCode)
}

enum FileHandleOutput {
    static func standardError(_ text: String) {
        _ = text.withCString { write(2, $0, strlen($0)) }
    }
}

/// Does `body` for each container named, printing each name when done, as Docker does.
func eachContainer(_ references: [String], _ body: (String) throws -> Void) throws {
    for reference in references {
        do { try body(reference) } catch let error as RuntimeError { throw failure(error) }
        print(reference)
    }
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run a command in a new container.")
    @OptionGroup var global: GlobalOptions
    @Flag(name: .shortAndLong, help: "Run in the background; print the container id.") var detach = false
    @Flag(name: .long, help: "Remove the container when it exits.") var rm = false
    @Flag(name: .shortAndLong, help: "Keep stdin open.") var interactive = false
    @Flag(name: .shortAndLong, help: "Allocate a pseudo-terminal.") var tty = false
    @Option(name: .long, help: "Name of the container.") var name: String?
    @Option(name: .long, help: ArgumentHelp("A network, none, host or container:ID; repeatable (default bridge).", valueName: "NET"))
    var network: [String] = []
    @OptionGroup var publishing: PublishOptions
    @Option(name: .shortAndLong, help: ArgumentHelp("Set an environment variable.", valueName: "KEY=VALUE")) var env: [String] = []
    @Option(name: .shortAndLong, help: ArgumentHelp("Working directory inside the container.", valueName: "DIR")) var workdir: String?
    @Option(name: .long, help: "Hostname inside the container.") var hostname: String?
    @Option(name: .long, help: ArgumentHelp("A nameserver: on a network with names the resolver forwards to it, elsewhere it goes to resolv.conf; repeatable.", valueName: "ADDR"))
    var dns: [String] = []
    @Option(name: .long, help: ArgumentHelp("A search domain for resolv.conf; repeatable.", valueName: "DOMAIN")) var dnsSearch: [String] = []
    @Option(name: .long, help: ArgumentHelp("A resolv.conf option (ndots:2, edns0…); repeatable.", valueName: "OPT")) var dnsOption: [String] = []
    @Option(name: .long, help: ArgumentHelp("A line of /etc/hosts; repeatable.", valueName: "NAME:IP")) var addHost: [String] = []
    @Option(name: [.customLong("network-alias"), .customLong("alias")], help: ArgumentHelp("A name the container also answers to on its networks; repeatable.", valueName: "NAME"))
    var networkAlias: [String] = []
    @Option(name: .shortAndLong, help: ArgumentHelp("Bind mount.", valueName: "SRC:DST[:ro]")) var volume: [String] = []
    @Option(name: .long, help: ArgumentHelp("Mount a tmpfs.", valueName: "DST[:OPTIONS]")) var tmpfs: [String] = []
    @Option(name: .long, help: ArgumentHelp("Override the image's entrypoint ('' clears it).", valueName: "CMD")) var entrypoint: String?
    @OptionGroup var confinement: ConfinementOptions
    @Flag(name: .long, help: "Every capability, nothing masked.") var privileged = false
    @Option(name: .long, help: ArgumentHelp("A secure-run profile (netctl profile ls); flags override it.", valueName: "NAME"))
    var profile: String?
    @Option(name: .long, help: ArgumentHelp("Pull the image first: missing (default), always or never.", valueName: "WHEN"))
    var pull: String?
    @Option(name: .long, help: ArgumentHelp("Refuse an image with a known vulnerability at or above this severity (low, medium, high, critical); config.json's scan-policy otherwise.", valueName: "SEVERITY"))
    var scanPolicy: String?
    @Argument(parsing: .captureForPassthrough, help: ArgumentHelp("The image, then the command and its arguments.", valueName: "IMAGE [COMMAND…]"))
    var imageAndCommand: [String] = []

    func validate() throws {
        guard !imageAndCommand.isEmpty else { throw ValidationError("missing the image to run") }
    }

    func run() throws {
        var request = RunRequest(image: imageAndCommand[0])
        request.command = Array(imageAndCommand.dropFirst())
        request.entrypoint = entrypoint
        request.name = name
        request.detach = detach
        request.autoRemove = rm
        request.interactive = interactive
        request.tty = tty
        request.networks = network
        publishing.apply(to: &request)
        request.env = env
        request.workdir = workdir
        request.hostname = hostname
        request.dns = dns
        request.dnsSearch = dnsSearch
        request.dnsOptions = dnsOption
        request.addHosts = addHost
        request.aliases = networkAlias
        request.pull = pull
        request.scanPolicy = scanPolicy
        request.volumes = volume
        request.tmpfs = tmpfs
        confinement.apply(to: &request)
        request.privileged = privileged
        request.profile = profile
        try Self.perform(request, globals: global.values)
    }

    static func perform(_ request: RunRequest, globals: Globals) throws {
        if let mode = environment("NETCTL_PARSE_ONLY") { return mode == "quiet" ? () : print(globals, request) }
        do {
            let runtime = try globals.runtime()
            try RunPull.prepare(runtime, policy: request.pull, image: request.image)
            try ScanPolicy.prepare(runtime, flag: request.scanPolicy)
            if request.detach {
                print(try runtime.runDetached(request, executable: try executablePath()).id)
                return
            }
            let code = try runtime.runForeground(request)
            if code != 0 { throw ExitCode(code) }
        } catch let error as RuntimeError {
            throw failure(error)
        } catch let error as CNMError {
            throw failure((try? globals.runtime())?.describing(error) ?? RuntimeError(error.description))
        }
    }
}

/// This binary, for spawning the monitor.
func executablePath() throws -> String {
    var buffer = [UInt8](repeating: 0, count: 4096)
    let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    guard count > 0 else { throw RuntimeError("cannot find the netctl executable (/proc/self/exe)") }
    return String(decoding: buffer.prefix(count), as: UTF8.self)
}

struct Monitor: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Supervise a detached container (started by run -d; not for direct use).", shouldDisplay: false)
    @OptionGroup var global: GlobalOptions
    @Argument var id: String

    func run() throws {
        let code = try global.runtime().monitor(id, reportFD: 3)
        if code != 0 { throw ExitCode(code) }
    }
}

struct PS: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ps", abstract: "List containers.")
    @OptionGroup var global: GlobalOptions
    @Flag(name: .shortAndLong, help: "Also stopped containers.") var all = false
    @Flag(name: .shortAndLong, help: "Only ids.") var quiet = false
    @Option(name: .long, help: "table or json.") var format = "table"

    func run() throws {
        let runtime = try global.runtime()
        let containers = try runtime.containers().map { try runtime.refreshed($0) }.filter { all || $0.state.status == .running }
        if quiet { containers.forEach { print($0.shortID) }; return }
        if format == "json" { try Output.json(try containers.map { try ContainerInspect($0, runtime: runtime) }); return }
        Output.table(["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"], try containers.map { record in
            let command = ([record.path] + record.args).joined(separator: " ")
            let status = switch record.state.status {
            case .running: "Up"
            case .exited: "Exited (\(record.state.exitCode))"
            case .created: "Created"
            case .removing: "Removal In Progress"
            }
            let ports = try record.sandbox.map { try runtime.network.ports(of: $0).map { "\($0.hostEndpoint)->\($0.containerKey)" } } ?? []
            return [record.shortID, record.image, "\"\(command.count > 20 ? command.prefix(19) + "…" : command[...])\"",
                    record.created, status, ports.joined(separator: ", "), record.name]
        })
    }
}

struct Stop: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Stop running containers (SIGTERM, then SIGKILL).")
    @OptionGroup var global: GlobalOptions
    @Option(name: .shortAndLong, help: "Seconds to wait before SIGKILL.") var time = 10
    @Argument var containers: [String]

    func run() throws {
        let runtime = try global.runtime()
        try eachContainer(containers) { reference in _ = try runtime.stop(reference, timeout: time) }
    }
}

struct Kill: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Send a signal to containers (default SIGKILL).")
    @OptionGroup var global: GlobalOptions
    @Option(name: .shortAndLong, help: "Signal name or number.") var signal = "KILL"
    @Argument var containers: [String]

    func run() throws {
        let runtime = try global.runtime()
        try eachContainer(containers) { reference in try runtime.kill(reference, signal: signal) }
    }
}

struct Remove: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove containers.")
    @OptionGroup var global: GlobalOptions
    @Flag(name: .shortAndLong, help: "Kill a running container first.") var force = false
    @Argument var containers: [String]

    func run() throws {
        let runtime = try global.runtime()
        try eachContainer(containers) { reference in _ = try runtime.remove(reference, force: force) }
    }
}

struct Exec: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run a command in a running container.")
    @OptionGroup var global: GlobalOptions
    @Flag(name: .shortAndLong, help: "Keep stdin open.") var interactive = false
    @Flag(name: .shortAndLong, help: "Allocate a pseudo-terminal.") var tty = false
    @Option(name: .shortAndLong, help: ArgumentHelp("Set an environment variable.", valueName: "KEY=VALUE")) var env: [String] = []
    @Option(name: .shortAndLong, help: "Working directory.") var workdir: String?
    @Option(name: .shortAndLong, help: "User, as name or uid.") var user: String?
    @Argument(parsing: .captureForPassthrough, help: ArgumentHelp("The container, then the command.", valueName: "CONTAINER COMMAND…"))
    var containerAndCommand: [String] = []

    func validate() throws {
        guard containerAndCommand.count >= 2 else { throw ValidationError("expected a container and a command") }
    }

    func run() throws {
        var request = ExecRequest(container: containerAndCommand[0], command: Array(containerAndCommand.dropFirst()))
        request.env = env
        request.workdir = workdir
        request.user = user
        request.interactive = interactive
        request.tty = tty
        try Self.perform(request, globals: global.values)
    }

    static func perform(_ request: ExecRequest, globals: Globals) throws {
        if let mode = environment("NETCTL_PARSE_ONLY") { return mode == "quiet" ? () : print(globals, request) }
        do {
            let code = try globals.runtime().exec(request)
            if code != 0 { throw ExitCode(code) }
        } catch let error as RuntimeError {
            throw failure(error)
        }
    }
}

struct Logs: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show a detached container's output.")
    @OptionGroup var global: GlobalOptions
    @Flag(name: .shortAndLong, help: "Keep following until the container ends.") var follow = false
    @Argument var container: String

    func run() throws {
        do { try global.runtime().logs(container, follow: follow) } catch let error as RuntimeError { throw failure(error) }
    }
}

struct Wait: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Wait for containers to end; print their exit codes.")
    @OptionGroup var global: GlobalOptions
    @Argument var containers: [String]

    func run() throws {
        let runtime = try global.runtime()
        for reference in containers {
            do { print(try runtime.wait(reference).state.exitCode) } catch let error as RuntimeError { throw failure(error) }
        }
    }
}

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inspect", abstract: "Show containers in detail (JSON, Docker's field names).")
    @OptionGroup var global: GlobalOptions
    @Argument var containers: [String]

    func run() throws {
        let runtime = try global.runtime()
        do {
            try Output.json(try containers.map { try ContainerInspect(try runtime.refreshed(try runtime.container($0)), runtime: runtime) })
        } catch let error as RuntimeError {
            throw failure(error)
        }
    }
}

/// `docker inspect`'s shape for a container, as far as netctl has the fields.
struct ContainerInspect: Encodable {
    struct State: Encodable {
        var Status: String
        var Running: Bool
        var Paused = false
        var Restarting = false
        var OOMKilled: Bool
        var Dead = false
        var Pid: Int32
        var ExitCode: Int32
        var Error: String
        var StartedAt: String
        var FinishedAt: String
    }

    struct Config: Encodable {
        var Hostname: String
        var User: String
        var Tty: Bool
        var OpenStdin: Bool
        var Env: [String]
        var Cmd: [String]
        var Image: String
        var WorkingDir: String
        var ExposedPorts: [String: [String: String]]
    }

    struct HostConfig: Encodable {
        var NetworkMode: String
        var Binds: [String]
        var Tmpfs: [String]
        var ReadonlyRootfs: Bool
        var AutoRemove: Bool
        var Memory: Int64
        var NanoCpus: Int64
        var PidsLimit: Int64?
        var PortBindings: [String]
        var CapAdd: [String]
        var CapDrop: [String]
        var Privileged: Bool
        var SecurityOpt: [String]
        var Dns: [String]
        var DnsSearch: [String]
        var DnsOptions: [String]
        var ExtraHosts: [String]
    }

    struct EndpointSettings: Encodable {
        var NetworkID: String
        var EndpointID: String
        var Gateway: String
        var IPAddress: String
        var IPPrefixLen: Int
        var GlobalIPv6Address: String
        var MacAddress: String
        /// `--network-alias`, and every name the container answers to on the network.
        var Aliases: [String]?
        var DNSNames: [String]?
    }

    struct NetworkSettings: Encodable {
        var SandboxKey: String
        var Ports: [String: [[String: String]]]
        var Networks: [String: EndpointSettings]
    }

    var Id: String
    var Created: String
    var Path: String
    var Args: [String]
    var State: State
    var Image: String
    var Name: String
    var HostConfig: HostConfig
    var Config: Config
    var NetworkSettings: NetworkSettings
    /// netctl's own: the effective confinement, read from /proc while the container runs.
    var Confinement: Runtime.Confinement?

    /// As Docker lists them: the built-in seccomp profile is not named, no profile is
    /// `seccomp=unconfined` (implied by --privileged).
    static func securityOptions(_ security: ContainerRecord.SecuritySettings?) -> [String] {
        guard let security else { return [] }
        var options = security.noNewPrivileges ? ["no-new-privileges"] : []
        switch security.seccompProfile {
        case ContainerRecord.SecuritySettings.builtinSeccomp?: break
        case let path?: options.append("seccomp=\(path)")
        case nil where !security.privileged: options.append("seccomp=unconfined")
        case nil: break
        }
        if let appArmor = security.appArmor { options.append("apparmor=\(appArmor)") }
        if security.systemPathsUnconfined == true { options.append("systempaths=unconfined") }
        return options
    }

    init(_ record: ContainerRecord, runtime: ContainerRuntime) throws {
        Id = record.id
        Created = record.created
        Path = record.path
        Args = record.args
        let running = runtime.isRunning(record)
        self.State = .init(Status: record.state.status.rawValue, Running: running, OOMKilled: record.state.oomKilled,
                      Pid: running ? record.state.pid : Int32(0), ExitCode: record.state.exitCode, Error: record.state.error,
                      StartedAt: record.state.startedAt, FinishedAt: record.state.finishedAt)
        Image = record.imageID.description
        Name = "/" + record.name
        self.HostConfig = .init(
            NetworkMode: record.host.networks.values[0],
            Binds: record.host.binds.map { "\($0.source):\($0.destination)\($0.readOnly ? ":ro" : "")" },
            Tmpfs: record.host.tmpfs, ReadonlyRootfs: record.host.readOnly, AutoRemove: record.host.autoRemove,
            Memory: record.host.limits.memory ?? 0, NanoCpus: record.host.limits.nanoCPUs ?? 0, PidsLimit: record.host.limits.pids,
            PortBindings: record.host.publish, CapAdd: record.security?.capAdd ?? [], CapDrop: record.security?.capDrop ?? [],
            Privileged: record.security?.privileged ?? false,
            SecurityOpt: Self.securityOptions(record.security),
            Dns: record.host.dns ?? [], DnsSearch: record.host.dnsSearch ?? [], DnsOptions: record.host.dnsOptions ?? [],
            ExtraHosts: record.host.extraHosts ?? [])
        self.Config = .init(Hostname: record.config.hostname, User: record.config.user, Tty: record.config.tty,
                       OpenStdin: record.config.interactive, Env: record.config.env, Cmd: [record.path] + record.args,
                       Image: record.image, WorkingDir: record.config.workingDir,
                       ExposedPorts: Dictionary(uniqueKeysWithValues: record.config.exposedPorts.map { ($0, [:]) }))
        var ports: [String: [[String: String]]] = [:]
        var networks: [String: EndpointSettings] = [:]
        if let sandbox = record.sandbox, let box = try? runtime.network.sandbox(sandbox) {
            for binding in try runtime.network.ports(of: sandbox) {
                ports[binding.containerKey, default: []].append(["HostIp": "\(binding.hostIP)", "HostPort": "\(binding.hostPort)"])
            }
            let all = try runtime.network.networks()
            for endpoint in try runtime.network.endpoints(of: box) {
                guard let network = all.first(where: { $0.id == endpoint.networkID }) else { continue }
                networks[network.name] = .init(
                    NetworkID: network.id, EndpointID: endpoint.id,
                    Gateway: network.pool(ipv4: true)?.gateway.map { "\($0)" } ?? "",
                    IPAddress: endpoint.ipv4.map { "\($0.address)" } ?? "", IPPrefixLen: endpoint.ipv4.map { Int($0.prefixLength) } ?? 0,
                    GlobalIPv6Address: endpoint.ipv6.map { "\($0.address)" } ?? "", MacAddress: endpoint.mac.map { "\($0)" } ?? "",
                    Aliases: endpoint.aliases.isEmpty ? nil : endpoint.aliases, DNSNames: endpoint.dnsNames)
            }
        }
        self.Confinement = running ? try? runtime.confinement(record.id) : nil
        self.NetworkSettings = .init(SandboxKey: record.sandbox.map { "/run/netns/\($0)" } ?? "", Ports: ports, Networks: networks)
    }
}
