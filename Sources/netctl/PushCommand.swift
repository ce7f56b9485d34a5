import ArgumentParser
import Registry
import Runtime

/// `netctl push [-q] [--authfile F] [--chunk-size N] REF` (also `image push`): the image
/// tagged REF in the store goes to REF's registry, as `docker push` sends it.
struct PushCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "push", abstract: "Push an image to a registry.")
    @OptionGroup var global: GlobalOptions
    @Flag(name: .shortAndLong, help: "Print only the pushed reference.") var quiet = false
    @OptionGroup var credentials: AuthFileOption
    @Option(name: .long, help: ArgumentHelp("Upload every blob in chunks of this size: bytes, or with k, m or g.", valueName: "SIZE"))
    var chunkSize: String?
    @Argument(help: ArgumentHelp("The image as tagged in the store: [HOST[:PORT]/]NAME[:TAG|@DIGEST].", valueName: "REF"))
    var reference: String

    func run() throws {
        let chunk = try chunkSize.map { try Self.bytes($0) }
        do {
            try push(chunkSize: chunk)
        } catch let error as RegistryError {
            throw CLIError(error.message.hasPrefix("push ") ? error.message : "push \(reference): \(error.message)")
        } catch let error as RuntimeError {
            throw CLIError("push \(reference): \(error.description)")
        }
    }

    private func push(chunkSize: Int64?) throws {
        let configuration = RegistryConfiguration(authFile: credentials.authfile)
        let name = try ImageName(parsing: reference, defaultRegistry: configuration.defaultRegistry)
        let store = try global.images()
        let image = try Self.image(name, reference, in: store)
        let source = try PushSource(image, in: store)
        let client = try configuration.client(for: name.registry)

        if !quiet { print("The push refers to repository [\(name.registry)/\(name.repository)]") }
        let quiet = self.quiet
        let result = try ImagePusher(client: client).push(source, to: name, options: PushOptions(chunkSize: chunkSize)) { event in
            if !quiet { print(event.line) }
        }
        try store.addRepoDigest(result.repoDigest, to: image.id)
        print(quiet ? reference : result.line(tag: name.effectiveTag))
        try TrustedImages.signPushed(name, digest: result.digest, size: result.size, root: global.rootPath, authFile: credentials.authfile, quiet: quiet)
    }

    /// The image REF names: by tag as the store keeps tags, or by the digest of its manifest.
    static func image(_ name: ImageName, _ reference: String, in store: ImageStore) throws -> ImageRecord {
        let found: ImageRecord?
        if let digest = name.digest {
            found = try store.images().first { $0.manifestDigest == digest || ($0.repoDigests ?? []).contains { $0.hasSuffix("@\(digest)") } }
        } else {
            found = try? store.image(name.storedTag ?? reference)
        }
        guard let found else {
            throw RegistryError(.input, "push \(reference): no image is tagged \(name.storedTag ?? reference) in the store (tag one first: netctl tag IMAGE \(reference))")
        }
        return found
    }

    /// `5242880`, `512k`, `5m`, `1g` (powers of 1024).
    static func bytes(_ text: String) throws -> Int64 {
        let units: [Character: Int64] = ["k": 1 << 10, "m": 1 << 20, "g": 1 << 30]
        var digits = Substring(text.lowercased())
        var unit: Int64 = 1
        if let last = digits.last, let scale = units[last] {
            unit = scale
            digits = digits.dropLast()
        }
        if digits.hasSuffix("i") || digits.hasSuffix("b") { digits = digits.dropLast() }
        guard let value = Int64(digits), value > 0, value <= Int64.max / unit else {
            throw ValidationError("--chunk-size \"\(text)\": expected a positive number of bytes, optionally with k, m or g (5m)")
        }
        return value * unit
    }
}
