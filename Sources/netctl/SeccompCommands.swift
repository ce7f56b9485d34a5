import ArgumentParser
import FoundationEssentials
import Glibc
import Runtime
import Security

struct SeccompCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seccomp",
        abstract: "Work with seccomp profiles (Docker's JSON format).",
        subcommands: [Default.self, Compile.self, Check.self, Record.self]
    )

    /// The profile at `path`, or netctl's built-in default when none is given.
    static func load(_ path: String?) throws -> SeccompProfile {
        guard let path else { return .builtinDefault }
        return try runtimeCall { try SeccompProfiles.load(path) }
    }

    struct Default: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the built-in default profile (Docker's decisions) in Docker's JSON, to start one of your own from.")

        func run() throws {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(SeccompProfile.builtinDefault), as: UTF8.self))
        }
    }

    struct Record: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a command and write the smallest profile that lets it run (every process it starts is followed).")
        @Option(name: .shortAndLong, help: ArgumentHelp("Where to write the profile.", valueName: "FILE")) var output: String
        @Argument(parsing: .postTerminator, help: ArgumentHelp("The command, after --.", valueName: "CMD")) var command: [String] = []

        func validate() throws {
            guard !command.isEmpty else { throw ValidationError("give the command after --: netctl seccomp record -o FILE -- CMD …") }
        }

        func run() throws {
            let (profile, code) = try runtimeCall { try SeccompRecorder.record(command) }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            let bytes = Array(try encoder.encode(profile)) + [10]
            guard let file = fopen(output, "w") else { throw CLIError("cannot write \(output): \(String(cString: strerror(errno)))") }
            fwrite(bytes, 1, bytes.count, file)
            fclose(file)
            let allowed = profile.syscalls?.first?.allNames.count ?? 0
            FileHandleOutput.standardError("seccomp record: \(allowed) syscalls made; profile written to \(output)\n")
            if code != 0 { throw ExitCode(code) }
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "What a profile decides for each syscall of this machine, and which rule decides it.")
        @Option(name: .long, help: ArgumentHelp("As for a container with this capability added.", valueName: "CAP")) var capAdd: [String] = []
        @Flag(name: .long, help: "Only the syscalls it does not simply allow.") var denied = false
        @Argument(help: ArgumentHelp("The profile (default: the built-in one).", valueName: "PROFILE")) var profile: String?

        func run() throws {
            do {
                let profile = try SeccompCommand.load(profile)
                let capabilities = try CapabilitySets.resolve(add: capAdd, drop: [], privileged: false, uid: 0)
                let decisions = try SeccompCheck.decisions(profile, capabilities: capabilities.bounding)
                let shown = denied ? decisions.filter { $0.action != "SCMP_ACT_ALLOW" || $0.conditional } : decisions
                Output.table(["SYSCALL", "ACTION", "BECAUSE"], shown.map {
                    [$0.syscall, $0.action + ($0.conditional ? " when its arguments match" : ""), $0.reason]
                })
                let allowed = decisions.filter { $0.action == "SCMP_ACT_ALLOW" && !$0.conditional }.count
                print("\(allowed) of \(decisions.count) syscalls allowed outright")
                if let newest = try SeccompCheck.newestSyscall(profile) {
                    print("syscalls after \(newest.name) (\(newest.number)) answer ENOSYS: they are newer than the profile")
                }
            } catch let error as SeccompError {
                throw CLIError(error.description)
            } catch let error as CapabilityError {
                throw CLIError(error.description)
            }
        }
    }

    struct Compile: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compile a profile to BPF (binary, to stdout) or libseccomp's pseudo-C, for Docker's default capabilities.")
        @Option(name: .long, help: "bpf or pfc.") var format = "pfc"
        @Option(name: .long, help: ArgumentHelp("As for a container with this capability added.", valueName: "CAP")) var capAdd: [String] = []
        @Argument(help: ArgumentHelp("The profile (default: the built-in one).", valueName: "PROFILE")) var profile: String?

        func run() throws {
            guard let format = SeccompCompiler.Format(rawValue: format) else {
                throw CLIError("invalid --format \"\(format)\": expected bpf or pfc")
            }
            do {
                let profile = try SeccompCommand.load(profile)
                let capabilities = try CapabilitySets.resolve(add: capAdd, drop: [], privileged: false, uid: 0)
                let bytes = try SeccompCompiler.compile(profile, capabilities: capabilities.bounding, format: format)
                _ = bytes.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
            } catch let error as SeccompError {
                throw CLIError(error.description)
            } catch let error as CapabilityError {
                throw CLIError(error.description)
            }
        }
    }
}

struct SecurityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "security",
        abstract: "What confines containers.",
        subcommands: [Show.self, AppArmor.self]
    )

    struct AppArmor: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "apparmor-profile",
            abstract: "Print the default AppArmor profile netctl generates (for apparmor_parser).")
        @Argument(help: "The profile's name.") var name = AppArmorProfile.defaultName

        func run() throws {
            do { try AppArmorProfile.validate(name) } catch let error as CapabilityError { throw CLIError(error.description) }
            print(AppArmorProfile.generate(name: name), terminator: "")
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The effective confinement of a running container, as the kernel sees it.")
        @OptionGroup var global: GlobalOptions
        @Option(name: .long, help: "table or json.") var format = "table"
        @Argument var container: String

        func run() throws {
            let confinement = try runtimeCall { try global.runtime().confinement(container) }
            if format == "json" { try Output.json(confinement); return }
            let seccomp = ["disabled", "strict", "filter"][min(confinement.seccomp, 2)]
            let rows: [[String]] = [
                ["pid", String(confinement.pid)],
                ["capabilities (effective)", "\(confinement.capEff) \(Confinement.names(confinement.capEff).joined(separator: ","))"],
                ["capabilities (bounding)", "\(confinement.capBnd) \(Confinement.names(confinement.capBnd).joined(separator: ","))"],
                ["capabilities (ambient)", "\(confinement.capAmb) \(Confinement.names(confinement.capAmb).joined(separator: ","))"],
                ["seccomp", "\(seccomp) (\(confinement.seccompFilters) filter\(confinement.seccompFilters == 1 ? "" : "s"))"],
                ["no_new_privs", confinement.noNewPrivs ? "yes" : "no"],
                ["apparmor", confinement.appArmor ?? "not in this kernel"],
            ]
            Output.table(["CONFINEMENT", "AS THE KERNEL REPORTS IT"], rows)
        }
    }
}
