import ArgumentParser
import CNM
import Runtime

/// What publishes ports: `run`'s requests and `network connect`'s alike.
protocol Publishing {
    var publish: [String] { get set }
    var publishAll: Bool { get set }
    var expose: [String] { get set }
}

extension RunRequest: Publishing {}
extension ConnectRequest: Publishing {}

/// `-p`, `-P` and `--expose`, for `run` and `network connect`.
struct PublishOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: ArgumentHelp("Publish a port (Docker's forms).", valueName: "[IP:][HOST_PORT:]PORT[-END][/PROTO]"))
    var publish: [String] = []
    @Flag(name: [.customShort("P"), .customLong("publish-all")], help: "Publish every exposed port on a port of the local range.")
    var publishAll = false
    @Option(name: .long, help: ArgumentHelp("Expose a port (for -P).", valueName: "PORT[-END][/PROTO]"))
    var expose: [String] = []

    func apply<Request: Publishing>(to request: inout Request) {
        request.publish = publish
        request.publishAll = publishAll
        request.expose = expose
    }

    /// The same flags for the hand-written parser (HotPath).
    static func flags<Request: Publishing>() -> [FlagTable<Request>.Entry] {
        [
            .value(["-p", "--publish"]) { $0.publish.append($1) },
            .flag(["-P", "--publish-all"]) { $0.publishAll = true },
            .value(["--expose"]) { $0.expose.append($1) },
        ]
    }
}

/// What confines a container: `run`'s requests and saved profiles alike.
protocol Confining {
    var capAdd: [String] { get set }
    var capDrop: [String] { get set }
    var securityOptions: [String] { get set }
    var readOnly: Bool { get set }
    var user: String? { get set }
    var memory: String? { get set }
    var cpus: String? { get set }
    var pidsLimit: String? { get set }
}

extension RunRequest: Confining {}
extension SecureRunProfile: Confining {}

/// Capabilities, security options, a read-only root, the user and limits: the flags
/// `run` and `profile create` share.
struct ConfinementOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Add a capability (or ALL).", valueName: "CAP")) var capAdd: [String] = []
    @Option(name: .long, help: ArgumentHelp("Drop a capability (or ALL).", valueName: "CAP")) var capDrop: [String] = []
    @Option(name: .long, help: ArgumentHelp("no-new-privileges[=true|false], seccomp=unconfined|PATH, apparmor=unconfined|NAME, systempaths=unconfined.", valueName: "OPT"))
    var securityOpt: [String] = []
    @Flag(name: .long, help: "Mount the root filesystem read-only.") var readOnly = false
    @Option(name: .shortAndLong, help: ArgumentHelp("User, as name or uid, with an optional group.", valueName: "USER[:GROUP]")) var user: String?
    @Option(name: [.customShort("m"), .long], help: ArgumentHelp("Memory limit, such as 64m or 1g.", valueName: "SIZE")) var memory: String?
    @Option(name: .long, help: ArgumentHelp("CPU limit, in CPUs.", valueName: "CPUS")) var cpus: String?
    @Option(name: .long, help: ArgumentHelp("Maximum number of processes.", valueName: "N")) var pidsLimit: String?

    func apply<Target: Confining>(to target: inout Target) {
        target.capAdd = capAdd
        target.capDrop = capDrop
        target.securityOptions = securityOpt
        target.readOnly = readOnly
        target.user = user
        target.memory = memory
        target.cpus = cpus
        target.pidsLimit = pidsLimit
    }

    static func flags<Target: Confining>() -> [FlagTable<Target>.Entry] {
        [
            .value(["--cap-add"]) { $0.capAdd.append($1) },
            .value(["--cap-drop"]) { $0.capDrop.append($1) },
            .value(["--security-opt"]) { $0.securityOptions.append($1) },
            .flag(["--read-only"]) { $0.readOnly = true },
            .value(["-u", "--user"]) { $0.user = $1 },
            .value(["-m", "--memory"]) { $0.memory = $1 },
            .value(["--cpus"]) { $0.cpus = $1 },
            .value(["--pids-limit"]) { $0.pidsLimit = $1 },
        ]
    }
}
