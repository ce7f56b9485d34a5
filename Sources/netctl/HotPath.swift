import ArgumentParser
import CNM
import Runtime

/// The commands scripts run in loops (`run`, `exec`, `network connect`, `network ls`,
/// `--version`) read by hand from tables of their flags, without ArgumentParser.
///
/// Why: ArgumentParser builds its view of a command by reflection, and every new pair of
/// (type, protocol) it asks about makes the Swift runtime scan every protocol conformance
/// record in this 33 MB binary. That was 9 of the 15 million instructions of `network ls`
/// and most of `--version`'s 35 million. The tables below name each flag once, with
/// what it sets; anything they do not cover — help, a typo, a missing argument, `--` —
/// goes to ArgumentParser, so help, completions and errors read exactly as before.
/// HotPathTests runs every flag of these commands through both parsers and compares what
/// each produced.
enum HotPath {
    enum Outcome {
        case run(() throws -> Void)
        /// `-h`/`--help` among the options: ArgumentParser prints the help, touching nothing.
        case help(any ParsableCommand.Type)
        /// An option `run` or `exec` does not have, before the image or container:
        /// ArgumentParser would take it for the image (its pass-through argument).
        case unknownOption(String, command: String)
    }

    static func parse(_ arguments: [String]) -> Outcome? {
        switch (arguments.first, arguments.dropFirst().first) {
        case ("--version", nil):
            return .run { print(Netctl.configuration.version) }
        case ("run", _):
            return parseRun(arguments.dropFirst())
        case ("exec", _):
            return parseExec(arguments.dropFirst())
        case ("network", "connect"):
            return parseConnect(arguments.dropFirst(2))
        case ("network", "ls"), ("network", "list"):
            return parseNetworkList(arguments.dropFirst(2))
        default:
            return nil
        }
    }

    // MARK: The commands

    static func parseRun(_ arguments: ArraySlice<String>) -> Outcome? {
        var request = RunRequest(image: "")
        let table = FlagTable(runFlags).merging(FlagTable(PublishOptions.flags())).merging(FlagTable(ConfinementOptions.flags()))
        switch table.parse(arguments, into: &request, optionsEndAtFirstPositional: true) {
        case .help: return .help(Run.self)
        case .unknownOption(let name): return .unknownOption(name, command: "run")
        case .parsed(let globals, let positionals) where !positionals.isEmpty:
            request.image = positionals[0]
            request.command = Array(positionals.dropFirst())
            return .run { try Run.perform(request, globals: globals) }
        default: return nil
        }
    }

    static func parseExec(_ arguments: ArraySlice<String>) -> Outcome? {
        var request = ExecRequest(container: "", command: [])
        switch FlagTable(execFlags).parse(arguments, into: &request, optionsEndAtFirstPositional: true) {
        case .help: return .help(Exec.self)
        case .unknownOption(let name): return .unknownOption(name, command: "exec")
        case .parsed(let globals, let positionals) where positionals.count >= 2:
            request.container = positionals[0]
            request.command = Array(positionals.dropFirst())
            return .run { try Exec.perform(request, globals: globals) }
        default: return nil
        }
    }

    static func parseConnect(_ arguments: ArraySlice<String>) -> Outcome? {
        var request = ConnectRequest(network: "", sandbox: "")
        let table = FlagTable(connectFlags).merging(FlagTable(PublishOptions.flags()))
        switch table.parse(arguments, into: &request, optionsEndAtFirstPositional: false) {
        case .help: return .help(NetworkCommand.Connect.self)
        case .parsed(let globals, let positionals) where positionals.count == 2:
            request.network = positionals[0]
            request.sandbox = positionals[1]
            return .run { try NetworkCommand.Connect.perform(request, globals: globals) }
        default: return nil
        }
    }

    static func parseNetworkList(_ arguments: ArraySlice<String>) -> Outcome? {
        var listing = NetworkCommand.Listing()
        switch FlagTable(networkListFlags).parse(arguments, into: &listing, optionsEndAtFirstPositional: false) {
        case .help: return .help(NetworkCommand.List.self)
        case .parsed(let globals, let positionals) where positionals.isEmpty:
            return .run { try listing.perform(globals: globals) }
        default: return nil
        }
    }

    // MARK: Their flags, as ArgumentParser declares them in the command types

    static var runFlags: [FlagTable<RunRequest>.Entry] { [
        .flag(["-d", "--detach"]) { $0.detach = true },
        .flag(["--rm"]) { $0.autoRemove = true },
        .flag(["-i", "--interactive"]) { $0.interactive = true },
        .flag(["-t", "--tty"]) { $0.tty = true },
        .value(["--name"]) { $0.name = $1 },
        .value(["--network"]) { $0.networks.append($1) },
        .value(["-e", "--env"]) { $0.env.append($1) },
        .value(["-w", "--workdir"]) { $0.workdir = $1 },
        .value(["--hostname"]) { $0.hostname = $1 },
        .value(["-v", "--volume"]) { $0.volumes.append($1) },
        .value(["--tmpfs"]) { $0.tmpfs.append($1) },
        .value(["--entrypoint"]) { $0.entrypoint = $1 },
        .flag(["--privileged"]) { $0.privileged = true },
        .value(["--profile"]) { $0.profile = $1 },
        .value(["--dns"]) { $0.dns.append($1) },
        .value(["--dns-search"]) { $0.dnsSearch.append($1) },
        .value(["--dns-option"]) { $0.dnsOptions.append($1) },
        .value(["--add-host"]) { $0.addHosts.append($1) },
        .value(["--network-alias", "--alias"]) { $0.aliases.append($1) },
        .value(["--pull"]) { $0.pull = $1 },
        .value(["--scan-policy"]) { $0.scanPolicy = $1 },
    ] }

    static var execFlags: [FlagTable<ExecRequest>.Entry] { [
        .flag(["-i", "--interactive"]) { $0.interactive = true },
        .flag(["-t", "--tty"]) { $0.tty = true },
        .value(["-e", "--env"]) { $0.env.append($1) },
        .value(["-w", "--workdir"]) { $0.workdir = $1 },
        .value(["-u", "--user"]) { $0.user = $1 },
    ] }

    static var connectFlags: [FlagTable<ConnectRequest>.Entry] { [
        .value(["--ip"]) { $0.ipv4 = $1 },
        .value(["--ip6"]) { $0.ipv6 = $1 },
        .value(["--alias"]) { $0.aliases.append($1) },
    ] }

    static var networkListFlags: [FlagTable<NetworkCommand.Listing>.Entry] { [
        .flag(["-q", "--quiet"]) { $0.quiet = true },
        .value(["-f", "--filter"]) { $0.filter.append($1) },
        .value(["--format"]) { $0.format = $1 },
        .flag(["--no-trunc"]) { $0.noTrunc = true },
    ] }
}

/// The flags of one command, each spelling mapped to what it sets, plus the global
/// options every command takes.
struct FlagTable<Target> {
    enum Entry {
        case flag([String], (inout Target) -> Void)
        case value([String], (inout Target, String) -> Void)

        var names: [String] {
            switch self { case .flag(let names, _), .value(let names, _): names }
        }
    }

    enum Result {
        case parsed(Globals, positionals: [String])
        case help
        /// Something the table does not cover: ArgumentParser reads the line instead.
        case unknown
        /// A dash-word the table does not know, before the first positional.
        case unknownOption(String)
    }

    private var entries: [String: Entry] = [:]

    init(_ list: [Entry]) {
        for entry in list { for name in entry.names { entries[name] = entry } }
    }

    func merging(_ other: FlagTable) -> FlagTable {
        var merged = self
        merged.entries.merge(other.entries) { first, _ in first }
        return merged
    }

    var spellings: [String] { entries.keys.sorted() }

    /// Options (`--name VALUE`, `--name=VALUE`, `-n VALUE`, `-dit`), then positionals.
    /// With `optionsEndAtFirstPositional`, everything from the first positional on is
    /// positional (run's IMAGE COMMAND…); otherwise options may come between them.
    func parse(_ arguments: ArraySlice<String>, into target: inout Target, optionsEndAtFirstPositional: Bool) -> Result {
        var globals = Globals()
        var positionals: [String] = []
        var index = arguments.startIndex
        func next() -> String? {
            index += 1
            return index < arguments.endIndex ? arguments[index] : nil
        }
        while index < arguments.endIndex {
            let argument = arguments[index]
            defer { index += 1 }
            if !argument.hasPrefix("-") || argument == "-" {
                positionals.append(argument)
                if optionsEndAtFirstPositional {
                    positionals += arguments[(index + 1)...]
                    return .parsed(globals, positionals: positionals)
                }
                continue
            }
            if argument == "-h" || argument == "--help" { return .help }
            if argument.hasPrefix("--") {
                var name = argument
                var inline: String?
                if let equals = argument.firstIndex(of: "=") {
                    name = String(argument[..<equals])
                    inline = String(argument[argument.index(after: equals)...])
                }
                if let global = Globals.setter(for: name) {
                    guard let value = inline ?? next() else { return .unknown }
                    global(&globals, value)
                    continue
                }
                switch entries[name] {
                case .flag(_, let set)? where inline == nil: set(&target)
                case .value(_, let set)?:
                    guard let value = inline ?? next() else { return .unknown }
                    set(&target, value)
                case nil where optionsEndAtFirstPositional && argument != "--" && !argument.hasPrefix("--experimental") && !argument.hasPrefix("--generate"):
                    return .unknownOption(name)
                default: return .unknown
                }
                continue
            }
            // Short options, alone or grouped (`-it`); only the last may take a value.
            let letters = Array(argument.dropFirst())
            for (position, letter) in letters.enumerated() {
                switch entries["-\(letter)"] {
                case .flag(_, let set)?: set(&target)
                case .value(_, let set)? where position == letters.count - 1:
                    guard let value = next() else { return .unknown }
                    set(&target, value)
                case nil where optionsEndAtFirstPositional: return .unknownOption("-\(letter)")
                case .value?, nil: return .unknown
                }
            }
        }
        return .parsed(globals, positionals: positionals)
    }
}
