import CNM
import Glibc
import Netlink
import Security
import CRuntimeShim

extension ContainerRuntime {
    /// Checks every flag, then records the container and prepares all it needs before its
    /// first process starts: networking (a CNM sandbox and its endpoints, ports published),
    /// the rootfs files and cgroups. A failure undoes what was done and leaves no record.
    public func create(_ request: RunRequest) throws -> ContainerRecord {
        // What a killed run left (a name, ports) must not stand in the way of this one.
        _ = try repairAbandoned()
        let request = try request.profile.map { try profile($0).apply(to: request) } ?? request
        let image = try images.imageIfPresent(request.image) ?? {
            // `run --pull missing`: the command line pulls it, then it is looked up again.
            try imageMissing?(request.image)
            return try images.image(request.image)
        }()
        try imageFound?(image)
        var record = try makeRecord(request, image: image)
        // Compiled (or found compiled) before anything changes: a bad profile stops here.
        let filter = try record.security?.seccompProfile.map { profile in
            let cache = SeccompCache(directory: "\(storage)/seccomp")
            let capabilities = try capabilitySets(record.security, uid: record.config.uid).bounding
            return profile == ContainerRecord.SecuritySettings.builtinSeccomp
                ? try cache.filter(.builtinDefault, capabilities: capabilities)
                : try cache.filter(profilePath: profile, capabilities: capabilities)
        }
        try store.locked {
            if try containers().contains(where: { $0.name == record.name }) {
                throw RuntimeError("container name \"\(record.name)\" is already in use")
            }
            // This command owns it until its first process starts: killed before that, it is rolled back.
            record.state.owner = .current()
            try save(record)
        }
        do {
            let (addresses, served) = try connectNetworks(&record, request: request)
            let layers = images.layerPaths(of: image)
            try Rootfs(directory: directory(of: record.id)).prepare(
                record, layers: layers, hosts: hostsFile(record, addresses: addresses), resolvConf: resolvConf(record, served: served))
            if let filter { try writeFile(filter, to: "\(directory(of: record.id))/seccomp.bpf") }
            // Named in the record before they exist, as the sandbox is.
            if let planned = Cgroups.planned(for: record.id, limits: record.host.limits) {
                record.cgroups = planned
                try save(record)
            }
            record.cgroups = try Cgroups.create(for: record.id, limits: record.host.limits)
            network.host.faults.reach("run.after-cgroups")
            try save(record)
        } catch let error as CNMError {
            release(record, removeRecord: true)
            throw describing(error, also: record)
        } catch {
            release(record, removeRecord: true)
            throw error
        }
        return record
    }

    /// A CNM error as a container's user reads it: each container's sandbox (`nc-ID12`,
    /// an internal name) is named as the container it belongs to.
    public func describing(_ error: CNMError, also extra: ContainerRecord? = nil) -> RuntimeError {
        var text = error.description
        for record in ((try? containers()) ?? []) + (extra.map { [$0] } ?? []) {
            guard let sandbox = record.sandbox else { continue }
            text = text.replacing("sandbox \"\(sandbox)\"", with: "container \"\(record.name)\"")
        }
        return RuntimeError(text)
    }

    private func makeRecord(_ request: RunRequest, image: ImageRecord) throws -> ContainerRecord {
        let id = Identifier.make()
        let name = try request.name.map { try validatedName($0) } ?? "nc_\(id.prefix(12))"
        let defaults = image.config.config
        // `--entrypoint CMD` replaces the image's entrypoint and drops its default command,
        // as Docker does; `--entrypoint ''` clears the entrypoint.
        var argv = request.entrypoint.map { $0.isEmpty ? [] : [$0] } ?? defaults?.entrypoint ?? []
        argv += !request.command.isEmpty ? request.command : (request.entrypoint == nil ? defaults?.cmd ?? [] : [])
        guard let path = argv.first, !path.isEmpty else {
            throw RuntimeError("image \(request.image) has no command: give one after the image name")
        }
        let workdir = request.workdir ?? (defaults?.workingDir.flatMap { $0.isEmpty ? nil : $0 } ?? "/")
        guard workdir.hasPrefix("/") else { throw RuntimeError("invalid -w \"\(workdir)\": expected an absolute path") }

        let networks = try validatedNetworks(request)
        let hostNetwork = networks == .host
        if !request.publish.isEmpty || request.publishAll, networks.networkNames.isEmpty {
            throw RuntimeError("-p and -P need a network to publish on (--network NAME); \(networks.values.joined(separator: ",")) has none")
        }
        let hostname = try request.hostname.map(validatedHostname) ?? (hostNetwork ? hostHostname() : String(id.prefix(12)))

        var env = defaults?.env ?? []
        for item in request.env {
            guard let equals = item.firstIndex(of: "="), equals != item.startIndex else {
                throw RuntimeError("invalid -e \"\(item)\": expected KEY=VALUE")
            }
            let key = item[..<equals]
            env.removeAll { $0.hasPrefix("\(key)=") }
            env.append(item)
        }
        if !env.contains(where: { $0.hasPrefix("PATH=") }) {
            env.insert("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", at: 0)
        }
        env.removeAll { $0.hasPrefix("HOSTNAME=") }
        env.insert("HOSTNAME=\(hostname)", at: 1)
        if request.tty && !env.contains(where: { $0.hasPrefix("TERM=") }) { env.append("TERM=xterm") }

        let user = request.user ?? defaults?.user.flatMap { $0.isEmpty ? nil : $0 } ?? "0"
        let identity = try UserLookup(layers: images.layerPaths(of: image)).resolve(user)
        let exposed = request.expose + (defaults?.exposedPorts.map { Array($0.keys).sorted() } ?? [])

        let limits = ResourceLimits(
            memory: try request.memory.map(Self.parseMemory), nanoCPUs: try request.cpus.map(Self.parseCPUs),
            pids: try request.pidsLimit.map(Self.parsePids))
        let binds = try request.volumes.map(Self.parseVolume)
        let tmpfs = try request.tmpfs.map(Self.parseTmpfs)

        let security = try securitySettings(request)
        _ = try capabilitySets(security, uid: identity.uid)

        var host = ContainerRecord.HostConfig(
            networks: networks, publish: request.publish, publishAll: request.publishAll, readOnly: request.readOnly,
            binds: binds, tmpfs: tmpfs, limits: limits, autoRemove: request.autoRemove, detached: request.detach)
        try Self.recordNameSettings(request, into: &host)

        return ContainerRecord(
            id: id, name: name, image: request.image, imageID: image.id, created: Timestamp.now(),
            path: path, args: Array(argv.dropFirst()),
            config: .init(hostname: hostname, env: env, workingDir: workdir, user: user, uid: identity.uid, gid: identity.gid,
                          groups: identity.groups, tty: request.tty, interactive: request.interactive, exposedPorts: exposed),
            host: host,
            state: .init(status: .created), sandbox: nil, cgroups: nil, security: security)
    }

    /// `--cap-add`, `--cap-drop`, `--privileged` and `--security-opt`.
    func securitySettings(_ request: RunRequest) throws -> ContainerRecord.SecuritySettings {
        var noNewPrivileges = false
        var seccomp: String? = ContainerRecord.SecuritySettings.builtinSeccomp
        var appArmor: String?
        var systemPaths = false
        for option in request.securityOptions {
            let parts = option.split(separator: option.contains("=") ? "=" : ":", maxSplits: 1).map(String.init)
            switch (parts[0], parts.count == 2 ? parts[1] : nil) {
            case ("no-new-privileges", nil), ("no-new-privileges", "true"):
                noNewPrivileges = true
            case ("no-new-privileges", "false"):
                noNewPrivileges = false
            case ("seccomp", "unconfined"):
                seccomp = nil
            case ("apparmor", "unconfined"):
                appArmor = "unconfined"
            case ("systempaths", "unconfined"):
                systemPaths = true
            case ("seccomp", let path?):
                seccomp = absolutePath(path)
            case ("apparmor", _?) where access("/sys/kernel/security/apparmor", F_OK) != 0:
                throw RuntimeError("--security-opt \"\(option)\": this kernel has no AppArmor")
            case ("apparmor", let name?):
                do { try AppArmorProfile.validate(name) } catch let error as CapabilityError { throw RuntimeError(error.description) }
                appArmor = name
            default:
                throw RuntimeError("invalid --security-opt \"\(option)\": expected no-new-privileges[=true|false], seccomp=unconfined|PATH, apparmor=unconfined|NAME or systempaths=unconfined")
            }
        }
        return .init(capAdd: request.capAdd, capDrop: request.capDrop, privileged: request.privileged, noNewPrivileges: noNewPrivileges,
                     seccompProfile: request.privileged ? nil : seccomp, appArmor: request.privileged ? "unconfined" : appArmor,
                     systemPathsUnconfined: systemPaths ? true : nil)
    }

    /// The container's confinement, for its first process and every exec alike:
    /// capabilities (for the process's `uid`), no_new_privs, seccomp and AppArmor.
    func confine(_ plan: inout LaunchPlan, _ record: ContainerRecord, uid: UInt32) throws {
        plan.capabilities = try capabilitySets(record.security, uid: uid)
        plan.noNewPrivileges = record.security?.noNewPrivileges ?? false
        plan.seccompFilter = try seccompFilter(record)
        plan.apparmorProfile = try appArmorProfile(record)
    }

    /// The AppArmor profile the container's processes are confined by: none where the
    /// kernel has no AppArmor; else the one asked for, or netctl's default, which is loaded
    /// (once per boot: apparmor_parser is not run when the kernel already has it).
    func appArmorProfile(_ record: ContainerRecord) throws -> String? {
        guard AppArmorProfile.kernelHasAppArmor else { return nil }
        let name = record.security?.appArmor ?? AppArmorProfile.defaultName
        if name == "unconfined" { return nil }
        let loaded = (try? readFile("/sys/kernel/security/apparmor/profiles", name: "profiles", limit: .text))
            .map { String(decoding: $0, as: UTF8.self).contains("\(name) (") } ?? false
        if !loaded {
            guard name == AppArmorProfile.defaultName else {
                throw RuntimeError("--security-opt apparmor=\(name): no such profile is loaded")
            }
            let file = "\(storage)/\(name).apparmor"
            try writeFile(Array(AppArmorProfile.generate(name: name).utf8), to: file)
            let devNull = open("/dev/null", O_RDWR | O_CLOEXEC)
            defer { close(devNull) }
            let pid = withCStrings(["apparmor_parser", "-Kr", file]) { argv in
                withCStrings([]) { envp in shim_spawn_daemon("/sbin/apparmor_parser", argv, envp, devNull) }
            }
            guard pid > 0, Launcher.wait(pid).code == 0 else { throw RuntimeError("apparmor_parser could not load \(name)") }
        }
        return name
    }

    /// The container's compiled filter, or nil when it runs without one.
    func seccompFilter(_ record: ContainerRecord) throws -> [UInt8]? {
        guard record.security?.seccompProfile != nil else { return nil }
        return try readFile("\(directory(of: record.id))/seccomp.bpf", name: "the container's seccomp filter", limit: .filter)
    }

    func capabilitySets(_ security: ContainerRecord.SecuritySettings?, uid: UInt32) throws -> CapabilitySets {
        let settings = security ?? .init(capAdd: [], capDrop: [], privileged: false, noNewPrivileges: false)
        do {
            return try CapabilitySets.resolve(add: settings.capAdd, drop: settings.capDrop, privileged: settings.privileged, uid: uid)
        } catch let error as CapabilityError {
            throw RuntimeError(error.description + " (expected a name such as NET_ADMIN or CAP_NET_ADMIN, or ALL)")
        }
    }

    private func validatedName(_ name: String) throws -> String {
        do {
            try validateName(name, of: "container")
        } catch let error as CNMError {
            throw RuntimeError(error.description)
        }
        return name
    }

    private func validatedHostname(_ name: String) throws -> String {
        let allowed = name.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x61 && $0 <= 0x7a) || $0 == 0x2d || $0 == 0x2e }
        guard !name.isEmpty, name.utf8.count <= 64, allowed, !name.hasPrefix("-") else {
            throw RuntimeError("invalid --hostname \"\(name)\": expected up to 64 letters, digits, '-' and '.'")
        }
        return name
    }

    private func hostHostname() -> String {
        var buffer = [UInt8](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }, as: UTF8.self)
    }

    /// Without `--network`, the default `bridge` network, as Docker. `none`, `host` and
    /// `container:ID` stand alone; CNM networks must exist, and the predefined `host` and
    /// `none` networks mean those modes.
    private func validatedNetworks(_ request: RunRequest) throws -> NetworkMode {
        let mode = request.networks.isEmpty ? .networks([try network.defaultBridge().name]) : try NetworkMode(request.networks)
        switch mode {
        case .container(let reference):
            let other = try container(reference)
            guard isRunning(other) else { throw RuntimeError("--network container:\(reference): container \(other.name) is not running") }
        case .networks(let names):
            for name in names {
                let record = try network.network(name)
                guard record.driver == "host" || record.driver == "null" else { continue }
                guard names.count == 1 else { throw RuntimeError("--network \(name) cannot be combined with other networks") }
                return record.driver == "host" ? .host : .none
            }
        case .none, .host:
            break
        }
        return mode
    }

    /// A sandbox named after the container, connected to each network in turn; the first
    /// network publishes the ports. The addresses go to /etc/hosts; `served` tells whether
    /// a network gave it names (and the resolver at 127.0.0.11).
    private func connectNetworks(_ record: inout ContainerRecord, request: RunRequest) throws -> (addresses: [IPAddress], served: Bool) {
        let attached = record.host.networks.networkNames
        guard !attached.isEmpty else { return ([], false) }
        // Named in the record before it exists, so that whatever a kill leaves of it is released with the container.
        let sandbox = "nc-\(record.shortID)"
        record.sandbox = sandbox
        try save(record)
        do {
            _ = try network.createSandbox(named: sandbox)
        } catch {
            record.sandbox = nil
            throw error
        }
        network.host.faults.reach("run.after-sandbox")
        var addresses: [IPAddress] = []
        var served = false
        for (index, name) in attached.enumerated() {
            var connect = ConnectRequest(network: name, sandbox: sandbox)
            if index == 0 {
                connect.publish = request.publish
                connect.publishAll = request.publishAll
                connect.expose = record.config.exposedPorts
            }
            connect.names = Self.endpointNames(record, hostnameGiven: request.hostname != nil)
            connect.aliases = record.host.aliases ?? []
            connect.upstreamResolvers = record.host.dns ?? []
            let endpoint = try network.connect(connect)
            addresses += endpoint.addresses
            if endpoint.dnsNames != nil { served = true }
        }
        return (addresses, served)
    }

    private func hostsFile(_ record: ContainerRecord, addresses: [IPAddress]) -> String {
        if record.host.networks == .host, let bytes = try? readFile("/etc/hosts", name: "/etc/hosts", limit: .text) {
            return String(decoding: bytes, as: UTF8.self) + Self.extraHostLines(record)
        }
        var text = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n"
            + "ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n"
        for address in addresses { text += "\(address)\t\(record.config.hostname)\n" }
        return text + Self.extraHostLines(record)
    }

    /// The host's resolv.conf, as the container gets it (see `resolvConf(host:record:served:)`):
    /// without a network of its own the container cannot reach a resolver on the host's
    /// loopback, so those lines go.
    private func resolvConf(_ record: ContainerRecord, served: Bool) -> String {
        let text = (try? readFile("/etc/resolv.conf", name: "resolv.conf", limit: .text)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        return Self.resolvConf(host: text, record: record, served: served)
    }

    // MARK: Flag values

    /// Docker's memory sizes: a number with an optional b, k, m or g (any case).
    static func parseMemory(_ text: String) throws -> Int64 {
        var digits = text.lowercased()
        if digits.hasSuffix("b") && digits.count > 1 && !"0123456789".contains(digits.dropLast().last!) { digits.removeLast() }
        var multiplier: Int64 = 1
        if let unit = digits.last, let scale = ["k": Int64(1) << 10, "m": Int64(1) << 20, "g": Int64(1) << 30][String(unit)] {
            multiplier = scale
            digits.removeLast()
        } else if digits.hasSuffix("b") {
            digits.removeLast()
        }
        guard let value = Int64(digits), value > 0, value <= Int64.max / multiplier else {
            throw RuntimeError("invalid --memory \"\(text)\": expected a size such as 64m or 1g")
        }
        let bytes = value * multiplier
        guard bytes >= 6 << 20 else { throw RuntimeError("invalid --memory \"\(text)\": the minimum is 6m") }
        return bytes
    }

    static func parseCPUs(_ text: String) throws -> Int64 {
        let available = Int64(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        guard let value = Double(text), value >= 0.01, value <= Double(available) else {
            throw RuntimeError("invalid --cpus \"\(text)\": expected a number from 0.01 to \(available)")
        }
        return Int64((value * 1e9).rounded())
    }

    static func parsePids(_ text: String) throws -> Int64 {
        guard let value = Int64(text) else { throw RuntimeError("invalid --pids-limit \"\(text)\": expected a whole number (0 or less: no limit)") }
        return value <= 0 ? -1 : value
    }

    /// `-v SRC:DST[:ro|rw]`: SRC an existing absolute host path (named volumes are not
    /// supported yet), DST absolute, cleaned (`/a/../b` is `/b`), and not `/` itself.
    static func parseVolume(_ text: String) throws -> ContainerRecord.Bind {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2 || parts.count == 3, parts[0].hasPrefix("/"), parts[1].hasPrefix("/"),
              parts.count == 2 || ["ro", "rw"].contains(parts[2]) else {
            throw RuntimeError("invalid -v \"\(text)\": expected /HOST/PATH:/CONTAINER/PATH[:ro|rw]")
        }
        let destination = try mountDestination(parts[1], flag: "-v", value: text)
        var info = stat()
        guard stat(parts[0], &info) == 0 else {
            throw RuntimeError("invalid -v \"\(text)\": \(parts[0]): \(String(cString: strerror(errno)))")
        }
        return .init(source: parts[0], destination: destination, readOnly: parts.count == 3 && parts[2] == "ro",
                     isDirectory: info.st_mode & FileType.mask == FileType.directory)
    }

    /// `--tmpfs DST[:OPTIONS]`, its destination cleaned as `-v`'s.
    static func parseTmpfs(_ text: String) throws -> String {
        let target = Rootfs.tmpfsTarget(text)
        guard target.hasPrefix("/") else {
            throw RuntimeError("invalid --tmpfs \"\(text)\": expected an absolute path inside the container, as DST[:OPTIONS]")
        }
        let destination = try mountDestination(target, flag: "--tmpfs", value: text)
        return destination + text.dropFirst(target.count)
    }

    /// A mount's destination inside the container, cleaned; `/` itself is refused, as
    /// Docker refuses it: the mount would replace the container's whole root.
    static func mountDestination(_ path: String, flag: String, value: String) throws -> String {
        let parts = RootDirectory.components(of: path)
        guard !parts.isEmpty else {
            throw RuntimeError("invalid \(flag) \"\(value)\": destination can't be '/' (expected a path below the container's root)")
        }
        return "/" + parts.joined(separator: "/")
    }
}
