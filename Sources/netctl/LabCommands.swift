import ArgumentParser
import Glibc
import VXLAN

struct LabCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lab",
        abstract: "Several hosts on this machine, joined by a routed underlay, to see overlays work.",
        discussion: """
            A lab is built from a topology file (examples/labs/*.yaml): segments joined by
            routers, hosts (network namespaces, each with its own netctl state root and
            agent), etcd, overlay networks and containers. Its state lives in --dir
            (default /run/netctl-lab/NAME).
            """,
        subcommands: [Up.self, Down.self, Status.self, Exec.self, Test.self]
    )

    struct Up: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Build a lab from a topology file; all or nothing.")
        @Option(help: ArgumentHelp("Where the lab keeps its state (default /run/netctl-lab/NAME).", valueName: "DIR")) var dir: String?
        @Flag(name: .shortAndLong, help: "No progress lines.") var quiet = false
        @Flag(name: .shortAndLong, help: "Progress lines (each step and its time) also when stderr is not a terminal.") var verbose = false
        @Argument(help: ArgumentHelp("The topology file.", valueName: "FILE")) var file: String

        func run() throws {
            let started = monotonicSeconds()
            // On a terminal, each step as it ends; in a log or a pipe, a failure is one line.
            let showProgress = !quiet && (verbose || isatty(2) != 0)
            let lab = try Lab.up(file: file, directory: dir) { step in
                if showProgress { FileHandleOutput.standardError("\(step)\n") }
            }
            let elapsed = monotonicSeconds() - started
            print("lab \(lab.topology.name) is up in \(String(format3: elapsed)) s: \(lab.plan.hosts.count) host(s), " +
                  "\(lab.topology.networks.count) network(s), \(lab.topology.containers.count) container(s); state in \(lab.directory)")
        }
    }

    struct Down: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a lab and everything it made (idempotent).")
        @Option(help: ArgumentHelp("The lab's state directory (default /run/netctl-lab/NAME).", valueName: "DIR")) var dir: String?
        @Argument(help: ArgumentHelp("The lab's name, or its topology file.", valueName: "NAME|FILE")) var lab: String

        func run() throws {
            let name = try labName(lab)
            let problems = Lab.down(name: name, directory: dir)
            guard problems.isEmpty else { throw CLIError("lab \(name): " + problems.joined(separator: "; ")) }
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a lab's hosts, agents, etcd, networks and containers.")
        @Option(help: ArgumentHelp("The lab's state directory (default /run/netctl-lab/NAME).", valueName: "DIR")) var dir: String?
        @Argument(help: ArgumentHelp("The lab's name, or its topology file.", valueName: "NAME|FILE")) var lab: String?

        func run() throws {
            let lab = try openLab(lab, dir: dir)
            print(lab.statusReport())
        }
    }

    struct Exec: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a command on a lab host (netctl as the command is this netctl).",
            usage: "netctl lab exec [--dir <DIR>] [--lab <NAME>] <HOST> -- <COMMAND> …")
        @Option(help: ArgumentHelp("The lab's state directory (default /run/netctl-lab/NAME).", valueName: "DIR")) var dir: String?
        @Option(help: ArgumentHelp("The lab, when --dir is not given and more than one is up.", valueName: "NAME")) var lab: String?
        @Argument(help: "The host.") var host: String
        @Argument(parsing: .postTerminator, help: "The command and its arguments, after --.") var command: [String] = []

        func validate() throws {
            guard !command.isEmpty else { throw ValidationError("missing the command to run (expected HOST -- COMMAND …)") }
        }

        func run() throws {
            try openLab(lab, dir: dir).exec(host: host, command)
        }
    }

    struct Test: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a lab's overlays: one-hop reach, full-MTU with DF, isolation, VXLAN on the wire.")
        @Option(help: ArgumentHelp("The lab's state directory (default /run/netctl-lab/NAME).", valueName: "DIR")) var dir: String?
        @Argument(help: ArgumentHelp("The lab's name, or its topology file.", valueName: "NAME|FILE")) var lab: String?

        func run() throws {
            let lab = try openLab(lab, dir: dir)
            var failed = 0
            for check in lab.test() {
                print("\(check.passed ? "PASS" : "FAIL")  \(check.description)")
                if !check.passed { failed += 1 }
            }
            if failed > 0 { throw ExitCode(1) }
        }
    }
}

/// A lab named on the command line: its name, or its topology file (whose name it reads).
private func labName(_ argument: String) throws -> String {
    if argument.contains("/") || argument.hasSuffix(".yaml") || argument.hasSuffix(".yml") {
        return try LabTopology.load(path: argument).name
    }
    guard !argument.isEmpty, argument.utf8.count <= 8, argument.utf8.allSatisfy({ isalnum(Int32($0)) != 0 }) else {
        throw CLIError("invalid lab name \"\(argument)\": expected 1 to 8 letters or digits, or a topology file")
    }
    return argument
}

/// The lab in `dir`, or the one called `name`, or the only one under /run/netctl-lab.
private func openLab(_ name: String?, dir: String?) throws -> Lab {
    if let dir { return try Lab.open(directory: dir) }
    if let name { return try Lab.open(directory: Lab.defaultDirectory(name: try labName(name))) }
    let running = Lab.runningLabs()
    guard running.count == 1 else {
        throw CLIError(running.isEmpty ? "no lab is up under /run/netctl-lab (expected netctl lab up FILE, or --dir)"
                                       : "several labs are up (\(running.joined(separator: ", "))): name one, or give --dir")
    }
    return try Lab.open(directory: Lab.defaultDirectory(name: running[0]))
}

private func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}

extension String {
    /// A number with up to three decimals: 1.234.
    init(format3 value: Double) {
        let thousandths = Int((value * 1000).rounded())
        let fraction = String(thousandths % 1000)
        self = "\(thousandths / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)"
    }
}
