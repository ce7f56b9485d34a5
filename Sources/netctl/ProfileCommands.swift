import ArgumentParser
import Runtime

/// `netctl profile`: named secure-run profiles for `run --profile NAME`.
struct ProfileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profile",
        abstract: "Secure-run profiles: named confinement and limits for run --profile.",
        subcommands: [Create.self, List.self, Inspect.self, Remove.self]
    )

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Save a profile.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var confinement: ConfinementOptions
        @Argument var name: String

        func run() throws {
            var profile = SecureRunProfile(name: name)
            confinement.apply(to: &profile)
            try runtimeCall { try global.runtime().createProfile(profile) }
            print(name)
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List profiles.", aliases: ["list"])
        @OptionGroup var global: GlobalOptions

        func run() throws {
            Output.table(["NAME", "CAPABILITIES", "SECURITY OPTIONS", "READ-ONLY", "USER", "BUILT IN"], try global.runtime().profiles().map { profile in
                let caps = (profile.capDrop.map { "-\($0)" } + profile.capAdd.map { "+\($0)" }).joined(separator: " ")
                return [profile.name, caps.isEmpty ? "default" : caps, profile.securityOptions.joined(separator: " "),
                        profile.readOnly ? "yes" : "no", profile.user ?? "", profile.builtin ? "yes" : "no"]
            })
        }
    }

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show profiles (JSON).")
        @OptionGroup var global: GlobalOptions
        @Argument var names: [String]

        func run() throws {
            let runtime = try global.runtime()
            try Output.json(try names.map { name in try runtimeCall { try runtime.profile(name) } })
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove saved profiles.", aliases: ["remove"])
        @OptionGroup var global: GlobalOptions
        @Argument var names: [String]

        func run() throws {
            let runtime = try global.runtime()
            for name in names {
                try runtimeCall { try runtime.removeProfile(name) }
                print(name)
            }
        }
    }
}
