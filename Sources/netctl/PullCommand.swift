import ArgumentParser
import Glibc
import Registry
import Runtime

/// `netctl pull` (also `image pull`): an image from a registry into the store, with
/// Docker's progress on a terminal.
struct PullCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pull", abstract: "Pull an image from a registry.")
    @OptionGroup var global: GlobalOptions
    @Flag(name: .shortAndLong, help: "Print only the image's reference.") var quiet = false
    @Option(name: .long, help: ArgumentHelp("The platform of an index to pull (default: the host's).", valueName: "OS/ARCH[/VARIANT]"))
    var platform: String?
    @OptionGroup var credentials: AuthFileOption
    @Argument(help: ArgumentHelp("The image: [HOST[:PORT]/]NAME[:TAG|@DIGEST].", valueName: "REF")) var reference: String

    func run() throws {
        let chosen: Platform
        do {
            chosen = try platform.map(Platform.init(parsing:)) ?? .host
        } catch let error as RuntimeError {
            throw CLIError("pull \(reference): \(error.description)")
        }
        do {
            let mode: PullProgress.Mode = quiet ? .quiet : isatty(1) == 1 ? .terminal : .lines
            let puller = ImagePuller(images: try global.images(), configuration: RegistryConfiguration(authFile: credentials.authfile),
                                     platform: chosen, progress: PullProgress(mode: mode))
            puller.platformRequired = platform != nil
            try puller.pull(try TrustedImages.pullReference(reference, root: global.rootPath, announce: !quiet))
        } catch let error as RegistryError {
            throw CLIError(error.kind == .input && !error.message.hasPrefix("pull ") ? "pull \(reference): \(error.message)" : error.message)
        }
    }
}
