import CNM
import Glibc
import JSON
import Runtime

// netctl-runc: runc's command line over netctl's OCI runtime, as Podman (conmon),
// containerd's runc shim and dockerd call it. Arguments are parsed by hand: the flag set is
// small, and start-up is part of every container's time.
//
//   netctl-runc [--root DIR] [--log FILE] [--log-format text|json] [--systemd-cgroup] COMMAND …

let version = "1.1.0-netctl"
let specVersion = "1.1.0"
/// What `--version` and `version` print, in runc's shape (engines parse the first line).
let versionText = "runc version \(version)\ncommit: netctl\nspec: \(specVersion)\ngo: none (Swift)"

/// Where errors and warnings go besides stderr: runc's --log, read by conmon and the shim.
struct Log {
    var path: String?
    var json = false

    func write(_ level: String, _ message: String) {
        guard let path else { return }
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let time = Timestamp.now()
        let line = json ? JSON.object([("level", .string(level)), ("msg", .string(message)), ("time", .string(time))]).serialized + "\n"
                        : "time=\"\(time)\" level=\(level) msg=\(JSON.string(message).serialized)\n"
        _ = line.withCString { Glibc.write(fd, $0, strlen($0)) }
    }
}

struct UsageError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// One command's arguments: flags (with their values) and the positional rest.
struct Arguments {
    var flags: [String: String] = [:]
    var positional: [String] = []

    /// `valued` flags take a value (`--bundle DIR`, `--bundle=DIR`, `-b DIR`); `names` maps
    /// short and long spellings to one key. Anything after the first positional that is not
    /// a flag belongs to the container's command (exec), so parsing stops there when asked.
    init(_ items: ArraySlice<String>, valued: Set<String>, boolean: Set<String>, names: [String: String] = [:],
         stopAtSecondPositional: Bool = false, repeated: Set<String> = []) throws {
        var index = items.startIndex
        while index < items.endIndex {
            let item = items[index]
            index += 1
            if item == "--" {
                positional += items[index...]
                break
            }
            if stopAtSecondPositional && positional.count >= 1 && !item.hasPrefix("-") {
                positional.append(item)
                positional += items[index...]
                break
            }
            guard item.hasPrefix("-"), item.count > 1 else {
                positional.append(item)
                continue
            }
            var name = String(item.drop { $0 == "-" })
            var value: String?
            if let equals = name.firstIndex(of: "=") {
                value = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            name = names[name] ?? name
            if boolean.contains(name) {
                if let value, !["true", "false"].contains(value) {
                    throw UsageError("flag --\(name)=\(value): expected true or false")
                }
                flags[name] = value ?? "true"
            } else if valued.contains(name) {
                if value == nil {
                    guard index < items.endIndex else { throw UsageError("flag --\(name) needs a value") }
                    value = items[index]
                    index += 1
                }
                if repeated.contains(name), let earlier = flags[name] {
                    flags[name] = earlier + "\u{0}" + value!
                } else {
                    flags[name] = value!
                }
            } else {
                throw UsageError("flag provided but not defined: -\(name)")
            }
        }
    }

    func bool(_ name: String) -> Bool { flags[name] == "true" }

    func list(_ name: String) -> [String] {
        flags[name].map { $0.split(separator: "\u{0}", omittingEmptySubsequences: false).map(String.init) } ?? []
    }

    /// The container id: exactly `count` positionals (runc's "requires exactly N argument(s)").
    func id(_ command: String, count: ClosedRange<Int> = 1...1) throws -> String {
        guard count.contains(positional.count) else {
            throw UsageError("\"\(command)\" requires \(count.lowerBound == count.upperBound ? "exactly" : "at least") \(count.lowerBound) argument(s)")
        }
        return positional[0]
    }
}

func output(_ text: String) {
    let line = text.hasSuffix("\n") ? text : text + "\n"
    _ = line.withCString { Glibc.write(1, $0, strlen($0)) }
}

func readAll(_ fd: Int32, limit: Int = 4 << 20, name: String) throws -> [UInt8] {
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = read(fd, &buffer, buffer.count)
        if count < 0 && errno == EINTR { continue }
        guard count >= 0 else { throw UsageError("\(name): \(String(cString: strerror(errno)))") }
        if count == 0 { return bytes }
        bytes += buffer[0..<count]
        guard bytes.count <= limit else { throw UsageError("\(name): larger than \(limit) bytes") }
    }
}

func readInput(_ path: String, what: String) throws -> [UInt8] {
    if path == "-" { return try readAll(0, name: "\(what) (stdin)") }
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw UsageError("\(what) \(path): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    return try readAll(fd, name: "\(what) \(path)")
}

/// Absolute, without a trailing "/." (`--bundle .`), as runc records it.
func absolute(_ path: String) -> String {
    var result = absolutePath(path)
    while result.hasSuffix("/.") { result.removeLast(2) }
    return result.isEmpty ? "/" : result
}

// MARK: global flags

var arguments = CommandLine.arguments.dropFirst()
var root = "/run/netctl-runc"
var log = Log()
var systemdCgroup = false
let globalValued: Set<String> = ["root", "log", "log-format", "criu", "rootless"]
let globalBoolean: Set<String> = ["systemd-cgroup", "debug", "help", "h", "version", "v"]

/// Runs a command and exits as runc does: 0, or 1 with the error on stderr and in the log.
@MainActor func fail(_ message: String, code: Int32 = 1) -> Never {
    log.write("error", message)
    let line = message + "\n"
    _ = line.withCString { Glibc.write(2, $0, strlen($0)) }
    exit(code)
}

do {
    while let item = arguments.first, item.hasPrefix("-") {
        arguments.removeFirst()
        var name = String(item.drop { $0 == "-" })
        var value: String?
        if let equals = name.firstIndex(of: "=") {
            value = String(name[name.index(after: equals)...])
            name = String(name[..<equals])
        }
        if globalBoolean.contains(name) {
            switch name {
            case "systemd-cgroup": systemdCgroup = value != "false"
            case "version", "v":
                output(versionText)
                exit(0)
            case "help", "h":
                output("usage: netctl-runc [--root DIR] [--log FILE] [--log-format text|json] [--systemd-cgroup] COMMAND [ARGS]\n"
                       + "commands: create start state kill delete exec ps pause resume update features list run spec version")
                exit(0)
            default: break
            }
            continue
        }
        guard globalValued.contains(name) else { throw UsageError("flag provided but not defined: -\(name)") }
        if value == nil {
            // --rootless takes an optional value (true|false|auto) in runc; accept it bare too.
            if name == "rootless", arguments.first.map({ !["true", "false", "auto"].contains($0) }) ?? true { continue }
            guard let next = arguments.first else { throw UsageError("flag --\(name) needs a value") }
            value = next
            arguments.removeFirst()
        }
        switch name {
        case "root": root = absolute(value!)
        case "log": log.path = value!
        case "log-format":
            guard value == "text" || value == "json" else { throw UsageError("--log-format \"\(value!)\": expected text or json") }
            log.json = value == "json"
        default: break // --criu, --rootless: accepted, nothing to do here
        }
    }
} catch {
    fail("\(error)")
}

guard let command = arguments.first else { fail("no command given (expected create, start, state, kill, delete, exec, ps, …)") }
let rest = arguments.dropFirst()

@MainActor func runtime() throws -> OCIRuntime {
    let runtime = try OCIRuntime.runc(stateDirectory: root)
    runtime.systemdCgroup = systemdCgroup
    let log = log
    runtime.warn = { message in
        log.write("warning", message)
    }
    return runtime
}

do {
    switch command {
    case "create", "run":
        let parsed = try Arguments(rest, valued: ["bundle", "pid-file", "console-socket", "preserve-fds"],
                                   boolean: ["no-pivot", "no-new-keyring", "detach", "keep", "no-subreaper"],
                                   names: ["b": "bundle", "d": "detach"])
        let id = try parsed.id(command)
        var options = OCIRuntime.CreateOptions(consoleSocket: parsed.flags["console-socket"].map(absolute),
                                               pidFile: parsed.flags["pid-file"].map(absolute))
        if let text = parsed.flags["preserve-fds"] {
            guard let count = Int32(text), count >= 0 else { throw UsageError("--preserve-fds \"\(text)\": expected a number") }
            options.preserveFDs = count
        }
        let bundle = absolute(parsed.flags["bundle"] ?? ".")
        let runtime = try runtime()
        if command == "create" || parsed.bool("detach") {
            try runtime.create(bundle: bundle, id: id, options: options)
            if command == "run" { try runtime.start(id) }
        } else {
            exit(try runtime.run(bundle: bundle, id: id, options: options))
        }
    case "start":
        try runtime().start(try Arguments(rest, valued: [], boolean: []).id(command))
    case "state":
        let runtime = try runtime()
        output(try runtime.stateJSON(try Arguments(rest, valued: [], boolean: []).id(command)))
    case "kill":
        let parsed = try Arguments(rest, valued: [], boolean: ["all"], names: ["a": "all"])
        let id = try parsed.id(command, count: 1...2)
        try runtime().kill(id, signal: parsed.positional.count > 1 ? parsed.positional[1] : "SIGTERM", all: parsed.bool("all"))
    case "delete", "rm":
        let parsed = try Arguments(rest, valued: [], boolean: ["force"], names: ["f": "force"])
        let id = try parsed.id(command)
        let runtime = try runtime()
        do {
            try runtime.delete(id, force: parsed.bool("force"))
        } catch let error as RuntimeError where parsed.bool("force") && error.description == "container does not exist" {
            // runc: deleting what is already gone, with --force, succeeds.
        }
    case "exec":
        let parsed = try Arguments(rest, valued: ["process", "pid-file", "console-socket", "cwd", "env", "user", "preserve-fds",
                                                  "apparmor", "process-label", "cap", "additional-gids", "cgroup"],
                                   boolean: ["detach", "tty", "no-new-privs", "ignore-paused"],
                                   names: ["p": "process", "d": "detach", "t": "tty", "e": "env", "u": "user", "c": "cap", "g": "additional-gids"],
                                   stopAtSecondPositional: true, repeated: ["env", "cap", "additional-gids", "cgroup"])
        let id = try parsed.id(command, count: parsed.flags["process"] == nil ? 2...Int.max : 1...Int.max)
        var options = OCIRuntime.ExecOptions()
        if let process = parsed.flags["process"] {
            options.processJSON = try readInput(process, what: "--process")
            options.processFile = process
        }
        options.args = Array(parsed.positional.dropFirst())
        options.env = parsed.list("env")
        options.cwd = parsed.flags["cwd"]
        options.user = parsed.flags["user"]
        options.tty = parsed.bool("tty")
        options.detach = parsed.bool("detach")
        options.pidFile = parsed.flags["pid-file"].map(absolute)
        options.consoleSocket = parsed.flags["console-socket"].map(absolute)
        if let text = parsed.flags["preserve-fds"] {
            guard let count = Int32(text), count >= 0 else { throw UsageError("--preserve-fds \"\(text)\": expected a number") }
            options.preserveFDs = count
        }
        options.capabilities = parsed.list("cap")
        for text in parsed.list("additional-gids").flatMap({ $0.split(separator: ",") }) {
            guard let gid = UInt32(text) else { throw UsageError("--additional-gids \"\(text)\": expected a group id (a number)") }
            options.additionalGids.append(gid)
        }
        options.noNewPrivileges = parsed.bool("no-new-privs")
        options.apparmorProfile = parsed.flags["apparmor"]
        exit(try runtime().exec(id, options))
    case "ps":
        let parsed = try Arguments(rest, valued: ["format"], boolean: [], names: ["f": "format"], stopAtSecondPositional: true)
        let id = try parsed.id(command, count: 1...Int.max)
        let pids = try runtime().processes(id)
        switch parsed.flags["format"] ?? "table" {
        case "json": output("[" + pids.map(String.init).joined(separator: ",") + "]")
        case "table": output(OCIRuntime.processTable(pids))
        case let other: throw UsageError("--format \"\(other)\": expected table or json")
        }
    case "pause":
        try runtime().pause(try Arguments(rest, valued: [], boolean: []).id(command))
    case "resume":
        try runtime().resume(try Arguments(rest, valued: [], boolean: []).id(command))
    case "update":
        let sizes = ["memory", "memory-swap", "memory-reservation", "kernel-memory", "kernel-memory-tcp", "pids-limit", "cpu-shares",
                     "cpu-quota", "cpu-period", "cpu-rt-period", "cpu-rt-runtime", "cpuset-cpus", "cpuset-mems", "blkio-weight",
                     "l3-cache-schema", "mem-bw-schema"]
        let parsed = try Arguments(rest, valued: Set(sizes + ["resources"]), boolean: [], names: ["r": "resources"])
        let id = try parsed.id(command)
        let file = parsed.flags["resources"]
        let json = try file.map { try readInput($0, what: "--resources") }
        try runtime().update(id, resourcesJSON: json, what: file == "-" ? "--resources (stdin)" : "--resources \(file ?? "")",
                             flags: parsed.flags.filter { $0.key != "resources" })
    case "features":
        output(try RuntimeFeatures.json(version: version))
    case "list", "ls":
        let parsed = try Arguments(rest, valued: ["format"], boolean: ["quiet"], names: ["f": "format", "q": "quiet"])
        let runtime = try runtime()
        let ids = try runtime.list()
        if parsed.bool("quiet") {
            ids.forEach { output($0) }
        } else if parsed.flags["format"] == "json" {
            output("[" + (try ids.map { try runtime.stateJSON($0, pretty: false) }).joined(separator: ",") + "]")
        } else {
            var lines = ["ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER"]
            for id in ids {
                let state = try runtime.state(id)
                lines.append("\(id)\t\(state.pid)\t\(state.status)\t\(state.bundle)\t\(state.created ?? "")\troot")
            }
            output(lines.joined(separator: "\n"))
        }
    case "version":
        output(versionText)
    case "checkpoint", "restore", "spec", "events":
        throw UsageError("\(command): not supported by netctl-runc")
    default:
        throw UsageError("unknown command \"\(command)\": expected create, start, state, kill, delete, exec, ps, pause, resume, update, features, list, run or version")
    }
} catch {
    fail("\(error)")
}
