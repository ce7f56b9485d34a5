import ArgumentParser
import CNM
import Runtime
import Security
import Glibc

struct SystemCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "system",
        abstract: "The host and the state root.",
        subcommands: [Info.self, Reconcile.self]
    )

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show what netctl runs on and what it keeps.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "table or json.") var format = "table"

        func run() throws {
            let controller = try global.controller()
            var system = utsname()
            uname(&system)
            let kernel = withUnsafeBytes(of: system.release) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            let info: [(String, String)] = [
                ("Version", Netctl.configuration.version),
                ("Kernel", kernel),
                ("Root", global.rootPath),
                ("Root ID", String(controller.host.rootID.prefix(16))),
                ("Host namespace", controller.host.namespaceName ?? "(this process's)"),
                ("Drivers", try controller.drivers.all.map(\.name).joined(separator: " ")),
                ("Networks", String(try controller.networks().count)),
                ("Sandboxes", String(try controller.sandboxes().count)),
                ("Endpoints", String(try controller.allEndpoints().count)),
                ("Cgroups", Cgroups.layoutDescription),
                ("Security", "capabilities (Docker's 14 by default), no_new_privs, seccomp (libseccomp \(SeccompCheck.libraryVersion))"),
                ("Seccomp", "containers run under the built-in default profile unless seccomp=unconfined|PATH or --privileged"),
                ("AppArmor", AppArmorProfile.kernelHasAppArmor
                    ? "enabled; containers run under \(AppArmorProfile.defaultName) unless apparmor=unconfined"
                    : "not in this kernel: the default profile is skipped (an explicitly requested profile is an error)"),
            ]
            if format == "json" {
                try Output.json(Dictionary(uniqueKeysWithValues: info))
            } else {
                for (key, value) in info { print("\(key):".padding(to: 16) + value) }
            }
        }
    }

    struct Reconcile: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Repair state and kernel objects after a crash or kill.")
        @OptionGroup var global: GlobalOptions

        func run() throws {
            // Containers first: releasing a dead container's sandbox is part of the repair.
            let runtime = try global.runtime()
            let report = try runtime.reconcileContainers() + runtime.network.reconcile()
            if report.isEmpty { print("nothing to repair") }
            report.forEach { print($0) }
        }
    }
}
