import CNM
import Security

/// `netctl run` as the runtime receives it: text as the user typed it, so every error can
/// quote the bad value.
public struct RunRequest: Sendable {
    public var image: String
    public var command: [String] = []
    public var entrypoint: String?
    public var name: String?
    public var detach = false
    public var autoRemove = false
    public var interactive = false
    public var tty = false
    /// Network names, `none`, `host` or `container:ID`; the first carries `-p`.
    public var networks: [String] = []
    public var publish: [String] = []
    public var publishAll = false
    public var expose: [String] = []
    public var env: [String] = []
    public var workdir: String?
    public var user: String?
    public var hostname: String?
    public var readOnly = false
    public var volumes: [String] = []
    public var tmpfs: [String] = []
    public var memory: String?
    public var cpus: String?
    public var pidsLimit: String?
    public var capAdd: [String] = []
    public var capDrop: [String] = []
    public var privileged = false
    /// `--security-opt` values as typed.
    public var securityOptions: [String] = []
    /// `--profile`: a saved or built-in secure-run profile under the flags.
    public var profile: String?
    /// `--pull`: `missing` (Docker's default), `always` or `never`. Read by the command
    /// line, which pulls before the runtime sees the request.
    public var pull: String?
    /// `--scan-policy SEVERITY`: refuse an image with a known vulnerability at or above it.
    /// Read by the command line, which checks the image before the runtime makes anything.
    public var scanPolicy: String?
    /// `--dns`: nameservers (IPv4 or IPv6 addresses). On a network with names they are
    /// the resolver's upstreams; elsewhere they go to resolv.conf.
    public var dns: [String] = []
    /// `--dns-search`: search domains for resolv.conf.
    public var dnsSearch: [String] = []
    /// `--dns-option`: resolv.conf options (`ndots:2`, `edns0`…).
    public var dnsOptions: [String] = []
    /// `--add-host NAME:IP`: lines of /etc/hosts.
    public var addHosts: [String] = []
    /// `--network-alias` (`--alias`): names the container also answers to on its networks.
    public var aliases: [String] = []

    public init(image: String) { self.image = image }
}

/// A container as the store keeps it (`containers/ID`).
public struct ContainerRecord: Codable, Sendable {
    public var id: String
    public var name: String
    public var image: String
    public var imageID: Digest
    public var created: String
    public var path: String
    public var args: [String]
    public var config: Config
    public var host: HostConfig
    public var state: State
    /// The CNM sandbox (a named network namespace) for network attachments.
    public var sandbox: String?
    public var cgroups: Cgroups?
    public var security: SecuritySettings?

    public var shortID: String { String(id.prefix(12)) }

    /// What confines the container: capabilities and no_new_privs so far.
    public struct SecuritySettings: Codable, Sendable {
        public var capAdd: [String]
        public var capDrop: [String]
        public var privileged: Bool
        public var noNewPrivileges: Bool
        /// The seccomp profile: `default` (the built-in one, `builtinSeccomp`), the absolute
        /// path of one in Docker's JSON (`--security-opt seccomp=PATH`), or nil for none
        /// (`seccomp=unconfined`, `--privileged`). It is compiled for the container's
        /// capabilities when the container is created, and the program is kept with it
        /// (seccomp.bpf) for every start and exec.
        public var seccompProfile: String? = nil
        public static let builtinSeccomp = "default"
        /// `--security-opt apparmor=NAME|unconfined`; nil: netctl's default where the kernel
        /// has AppArmor.
        public var appArmor: String? = nil
        /// `--security-opt systempaths=unconfined`: /proc and /sys paths neither masked nor
        /// read-only (`--privileged` implies it).
        public var systemPathsUnconfined: Bool? = nil
    }

    public struct Config: Codable, Sendable {
        public var hostname: String
        public var env: [String]
        public var workingDir: String
        public var user: String
        public var uid: UInt32
        public var gid: UInt32
        public var groups: [UInt32]
        public var tty: Bool
        public var interactive: Bool
        public var exposedPorts: [String]
    }

    public struct HostConfig: Codable, Sendable {
        /// `none`, `host`, `container:ID` or CNM networks; recorded as `--network` gives them.
        public var networks: NetworkMode
        public var publish: [String]
        public var publishAll: Bool
        public var readOnly: Bool
        public var binds: [Bind]
        public var tmpfs: [String]
        public var limits: ResourceLimits
        public var autoRemove: Bool
        public var detached: Bool
        /// `--dns`, `--dns-search`, `--dns-option`, `--add-host` (Docker's Dns, DnsSearch,
        /// DnsOptions, ExtraHosts), nil when not given.
        public var dns: [String]? = nil
        public var dnsSearch: [String]? = nil
        public var dnsOptions: [String]? = nil
        public var extraHosts: [String]? = nil
        /// `--network-alias`, given to CNM for every network the container joins.
        public var aliases: [String]? = nil
    }

    public struct Bind: Codable, Sendable {
        public var source: String
        public var destination: String
        public var readOnly: Bool
        public var isDirectory: Bool
    }

    public struct State: Codable, Sendable {
        public var status: Status
        public var pid: Int32 = 0
        /// /proc/PID/stat's start time, so a recycled pid is never taken for ours.
        public var pidStart: UInt64 = 0
        /// The process that reaps the container and records its end: the monitor of a
        /// detached container, the `run` command of a foreground one.
        public var supervisor: Int32 = 0
        public var supervisorStart: UInt64 = 0
        public var exitCode: Int32 = 0
        public var oomKilled = false
        public var error: String = ""
        public var startedAt: String = ""
        public var finishedAt: String = ""
        /// Who is making (`created`) or removing (`removing`) the container: `run` until the
        /// first process starts, then no one; `rm` until the record is gone. A container in
        /// either state whose owner is dead was left by a kill, and reconcile (or the next
        /// `run`) rolls its creation back or finishes its removal.
        public var owner: ProcessStamp? = nil
    }
}

/// Where a container is in its life, recorded as Docker's `State.Status` words.
public enum Status: String, Codable, Sendable {
    /// Made (its rootfs, network and cgroups), its process not started yet.
    case created
    case running
    case exited
    /// Being removed by `rm`, or by reconcile after a killed command.
    case removing
}

/// How a container is networked: `--network` parsed once. Recorded as the values
/// `--network` takes (`["none"]`, `["host"]`, `["container:ID"]`, `["web", "db"]`).
public enum NetworkMode: Sendable, Equatable, Codable {
    /// A network namespace of its own with only `lo` (`--network none`).
    case none
    /// The host's network namespace.
    case host
    /// The network namespace of another container, by name or id.
    case container(String)
    /// A sandbox of its own, connected to these CNM networks; the first publishes ports.
    case networks([String])

    /// `--network` values as given, before any network is looked up.
    public init(_ values: [String]) throws {
        switch values.first {
        case nil, "none"?: self = .none
        case "host"?: self = .host
        case let value? where value.hasPrefix("container:"): self = .container(String(value.dropFirst(10)))
        default:
            if let alone = values.first(where: { $0 == "none" || $0 == "host" || $0.hasPrefix("container:") }) {
                throw RuntimeError("--network \(alone) cannot be combined with other networks")
            }
            self = .networks(values)
            return
        }
        guard values.count <= 1 else { throw RuntimeError("--network \(values[0]) cannot be combined with other networks") }
    }

    public var values: [String] {
        switch self {
        case .none: ["none"]
        case .host: ["host"]
        case .container(let reference): ["container:\(reference)"]
        case .networks(let names): names
        }
    }

    /// The CNM networks the container's sandbox joins.
    public var networkNames: [String] {
        if case .networks(let names) = self { return names }
        return []
    }

    public init(from decoder: any Decoder) throws {
        self = try NetworkMode(try [String](from: decoder))
    }

    public func encode(to encoder: any Encoder) throws { try values.encode(to: encoder) }
}
