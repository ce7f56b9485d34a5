import ArgumentParser
import CNM
import Runtime

struct ImageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image",
        abstract: "Manage images: OCI image layouts and docker-save archives.",
        subcommands: [Import.self, List.self, Inspect.self, Tag.self, Remove.self, PullCommand.self,
                      PushCommand.self]
    )

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import images from an OCI image layout (directory or tar) or a docker-save archive.",
            aliases: ["load"])
        @OptionGroup var global: GlobalOptions
        @Option(name: .long, help: ArgumentHelp("Name for images the archive leaves unnamed (default: the file's name).", valueName: "NAME"))
        var name: String?
        @Argument(help: ArgumentHelp("Layout directories or archives.", valueName: "PATH")) var paths: [String]

        func run() throws {
            let images = try global.images()
            let accept = try TrustedImages.importCheck(root: global.rootPath)
            for path in paths {
                for image in try images.importImages(from: path, name: name, accept: accept) {
                    print(image.tagged.isEmpty ? "Loaded image ID: \(image.id)" : image.tagged.map { "Loaded image: \($0)" }.joined(separator: "\n"))
                }
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List images.", aliases: ["list"])
        @OptionGroup var global: GlobalOptions
        @Flag(name: .shortAndLong, help: "Only ids.") var quiet = false
        @Option(name: .long, help: "table or json.") var format = "table"

        func run() throws {
            let images = try global.images().images()
            if quiet { images.forEach { print($0.id.short) }; return }
            if format == "json" { try Output.json(images.map(ImageInspect.init)); return }
            var rows: [[String]] = []
            for image in images {
                let tags = image.repoTags.isEmpty ? ["<none>:<none>"] : image.repoTags
                for tag in tags {
                    let colon = tag.lastIndex(of: ":")!
                    rows.append([String(tag[..<colon]), String(tag[tag.index(after: colon)...]), image.id.short,
                                 image.config.created ?? "", Size.human(image.size)])
                }
            }
            Output.table(["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"], rows)
        }
    }

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show images in detail (JSON, Docker's field names).")
        @OptionGroup var global: GlobalOptions
        @Argument var images: [String]

        func run() throws {
            let store = try global.images()
            try Output.json(try images.map { ImageInspect(try store.image($0)) })
        }
    }

    struct Tag: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "tag", abstract: "Give an image another name.")
        @OptionGroup var global: GlobalOptions
        @Argument var source: String
        @Argument var target: String

        func run() throws { try global.images().tag(source, as: target) }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Untag or remove images.", aliases: ["remove"])
        @OptionGroup var global: GlobalOptions
        @Flag(name: .shortAndLong, help: "Remove even when a container uses it.") var force = false
        @Argument var images: [String]

        func run() throws {
            let runtime = try global.runtime()
            for reference in images {
                for line in try runtime.images.remove(reference, force: force, inUse: runtime.containerUsing) { print(line) }
            }
        }
    }
}

/// `docker image inspect`'s shape, as far as netctl has the fields.
struct ImageInspect: Encodable {
    var Id: String
    var RepoTags: [String]
    var RepoDigests: [String]
    var Created: String?
    var Architecture: String?
    var Os: String?
    var Size: Int64
    var Config: ImageConfig.ExecutionConfig?
    var RootFS: [String: [String]]

    init(_ image: ImageRecord) {
        Id = image.id.description
        RepoTags = image.repoTags
        RepoDigests = image.repoDigests ?? image.manifestDigest.map { digest in image.repoTags.map { "\($0.split(separator: ":").dropLast().joined(separator: ":"))@\(digest)" } } ?? []
        Created = image.config.created
        Architecture = image.config.architecture
        Os = image.config.os
        Size = image.size
        Config = image.config.config
        RootFS = ["Layers": image.layers.map(\.description)]
    }
}

enum Size {
    static func human(_ bytes: Int64) -> String {
        let units = ["B", "kB", "MB", "GB", "TB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1000 && unit < units.count - 1 { value /= 1000; unit += 1 }
        return unit == 0 ? "\(bytes)B" : "\((value * 10).rounded() / 10)\(units[unit])"
    }
}
