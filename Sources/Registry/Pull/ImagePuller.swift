import Glibc
import Runtime
import Synchronization

/// What a pull did.
public struct PullResult: Sendable {
    public var image: ImageRecord
    /// `127.0.0.1:5000/team/app:1`: the reference as Docker prints it last.
    public var reference: String
    /// The digest of the manifest (or index) the reference named, as `Digest:` shows it.
    public var digest: Digest
    /// The image was there already, with this tag.
    public var upToDate: Bool
}

/// `netctl pull`: resolves a reference to a single-platform manifest, fetches its config,
/// downloads the layers it does not have (three at a time, each verified while it streams
/// into a partial file) and unpacks each as it arrives, in order, onto the layers below it,
/// then records the image in one step as import does. A failure anywhere records nothing;
/// blobs already verified stay in the content store for the next pull.
public final class ImagePuller: @unchecked Sendable {
    let images: ImageStore
    let configuration: RegistryConfiguration
    let progress: PullProgress
    public var platform: Platform
    /// The platform was asked for (`--platform`): a single-platform image of another one is
    /// refused rather than taken (Docker refuses it too).
    public var platformRequired = false
    public var parallelDownloads = 3
    public var policy = ExtractionPolicy()

    public init(images: ImageStore, configuration: RegistryConfiguration = RegistryConfiguration(),
                platform: Platform = .host, progress: PullProgress = PullProgress(mode: .quiet, write: { _ in })) {
        self.images = images
        self.configuration = configuration
        self.platform = platform
        self.progress = progress
    }

    /// Pulls `reference`; errors are one line, `pull REF: …`.
    @discardableResult
    public func pull(_ reference: String) throws -> PullResult {
        do {
            return try pullResolved(try resolve(reference))
        } catch let error as RegistryError {
            throw RegistryError(error.kind, "pull \(reference): \(error.message)")
        } catch let error as RuntimeError {
            throw RegistryError(.badContent, "pull \(reference): \(error.description)")
        }
    }

    // MARK: Manifests

    /// The reference's manifest, found: for an unqualified name, in the first registry of
    /// the search list that has it.
    struct Resolved {
        var name: ImageName
        var client: RegistryClient
        var digest: Digest
        var bytes: [UInt8]
        var document: ManifestDocument
    }

    func resolve(_ reference: String) throws -> Resolved {
        let name: ImageName
        do {
            name = try ImageName(parsing: reference, defaultRegistry: configuration.defaultRegistry)
        } catch let error as RuntimeError {
            throw RegistryError(.input, error.description)
        }
        var names = [name]
        if !name.qualified, configuration.unqualifiedSearch.count > 1 {
            names = try configuration.unqualifiedSearch.map { try ImageName(parsing: reference, defaultRegistry: $0) }
        }
        var failure: (any Error)?
        for candidate in names {
            do {
                let client = try configuration.client(for: candidate.registry)
                let (bytes, digest, type) = try fetchManifest(candidate, client: client, reference: candidate.manifestReference, expected: candidate.digest)
                let document = try ManifestDocument.decode(bytes, headerType: type, what: "manifest \(candidate.manifestReference)")
                return Resolved(name: candidate, client: client, digest: digest, bytes: bytes, document: document)
            } catch let error as RegistryError where names.count > 1 && [.notFound, .unreachable, .denied].contains(error.kind) {
                failure = error
            }
        }
        throw failure!
    }

    /// A manifest's bytes, checked: against the digest asked for (a pull by digest) or the
    /// registry's Docker-Content-Digest.
    func fetchManifest(_ name: ImageName, client: RegistryClient, reference: String, expected: Digest?) throws -> (bytes: [UInt8], digest: Digest, mediaType: String?) {
        let request = HTTPRequest(method: "GET", url: client.url("/v2/\(name.repository)/manifests/\(reference)"),
                                  headers: ["Accept: " + ManifestMediaType.accepted.joined(separator: ", ")])
        let response = try client.send(request, scopes: [.pull(name.repository)], limit: ReadLimit.document.bytes)
        try Self.check(response, what: "manifest \(reference)", in: name)
        let digest = try Digest.of(response.body)
        if let expected, digest != expected {
            throw RegistryError(.badContent, "manifest \(expected): content does not match its digest (it hashes to \(digest))")
        }
        if let header = response.header("Docker-Content-Digest"), header.hasPrefix("sha256:"), header != digest.description {
            throw RegistryError(.badContent, "manifest \(reference): the registry says its digest is \(header), its content hashes to \(digest)")
        }
        return (response.body, digest, response.header("Content-Type"))
    }

    /// A registry's error answer as one line: `manifest 1.4 not found in 127.0.0.1:5000/team/app (MANIFEST_UNKNOWN)`.
    static func check(_ response: HTTPResponse, what: String, in name: ImageName) throws {
        guard !(200..<300).contains(response.status) else { return }
        let suffix = RegistryErrorBody(response.body).summary.map { "HTTP \(response.status) \($0)" } ?? "HTTP \(response.status)"
        switch response.status {
        case 404: throw RegistryError(.notFound, "\(what) not found in \(name.registry)/\(name.repository) (\(suffix))")
        case 401, 403: throw RegistryError(.denied, "\(what): access to \(name.registry)/\(name.repository) denied (\(suffix))")
        default: throw RegistryError(.server, "\(what): \(name.registry) answered \(suffix)")
        }
    }

    // MARK: The image

    private func pullResolved(_ resolved: Resolved) throws -> PullResult {
        let name = resolved.name
        let client = resolved.client
        var manifestDigest = resolved.digest
        var manifest: ImageManifest
        var mediaType: String
        // The single-platform manifest, as the image will be pushed again.
        var manifestBytes = resolved.bytes
        switch resolved.document {
        case .manifest(let document, let type):
            (manifest, mediaType) = (document, type)
        case .index(let index, _):
            let chosen = try ManifestDocument.select(platform, in: index, what: "index \(resolved.digest.short)")
            guard chosen.size <= Int64(ReadLimit.document.bytes) else {
                throw RegistryError(.badContent, "manifest \(chosen.digest): \(chosen.size) bytes, more than netctl reads of a manifest")
            }
            let (bytes, digest, type) = try fetchManifest(name, client: client, reference: chosen.digest.description, expected: chosen.digest)
            guard Int64(bytes.count) == chosen.size else {
                throw RegistryError(.badContent, "manifest \(chosen.digest): size is \(bytes.count) bytes, the index says \(chosen.size)")
            }
            guard case .manifest(let document, let documentType) = try ManifestDocument.decode(bytes, headerType: type ?? chosen.mediaType, what: "manifest \(chosen.digest.short)") else {
                throw RegistryError(.badContent, "manifest \(chosen.digest): is an index inside an index; expected an image manifest")
            }
            (manifest, mediaType, manifestDigest, manifestBytes) = (document, documentType, digest, bytes)
        }
        progress.header("\(name.tag ?? name.digest?.description ?? "latest"): Pulling from \(name.repository)")

        let configBytes = try fetchConfig(manifest.config, name: name, client: client)
        let config = try decodeDocument(ImageConfig.self, configBytes, what: "config \(manifest.config.digest.short)")
        guard config.rootfs.diffIDs.count == manifest.layers.count else {
            throw RegistryError(.badContent, "config \(manifest.config.digest.short): lists \(config.rootfs.diffIDs.count) diff_ids for \(manifest.layers.count) layers")
        }
        if platformRequired, case .manifest = resolved.document, let os = config.os, let architecture = config.architecture,
           !platform.matches(Platform(os: os, architecture: architecture, variant: config.variant)) {
            throw RegistryError(.notFound, "the image is for \(Platform(os: os, architecture: architecture, variant: config.variant)), not the platform asked for (\(platform))")
        }
        let chainIDs = try ImageStore.chainIDs(for: config.rootfs.diffIDs)
        let tag = name.storedTag
        let reference = name.digest.map { "\(name.registry)/\(name.repository)@\($0)" } ?? name.description
        let repoDigest = "\(name.familiarName)@\(resolved.digest)"

        if let existing = try? images.image(id: manifest.config.digest), existing.manifestDigest == manifestDigest,
           existing.chainIDs == chainIDs, chainIDs.allSatisfy(images.hasLayer), tag.map(existing.repoTags.contains) ?? true,
           images.hasBlob(manifest.config.digest), manifest.layers.allSatisfy({ images.hasBlob($0.digest) }) {
            progress.finish(digest: resolved.digest.description, status: "Image is up to date for \(tag ?? reference)", reference: reference)
            return PullResult(image: existing, reference: reference, digest: resolved.digest, upToDate: true)
        }

        // Staging first: while it is held, reconcile leaves unreferenced blobs alone, so the
        // manifest and config stored next are not removed before the image names them.
        let staging = try images.beginPull()
        defer { staging.close() }
        try images.storeBlob(manifestBytes)
        try images.storeBlob(configBytes)
        try fetchLayers(manifest.layers, diffIDs: config.rootfs.diffIDs, chainIDs: chainIDs, name: name, client: client, staging: staging)
        let record = try staging.commit(config: configBytes, manifestDigest: manifestDigest, manifestMediaType: mediaType,
                                        tag: tag, repoDigest: repoDigest)
        progress.finish(digest: resolved.digest.description, status: "Downloaded newer image for \(tag ?? reference)", reference: reference)
        return PullResult(image: record, reference: reference, digest: resolved.digest, upToDate: false)
    }

    /// The config blob, whole (a JSON document, at most 4 MiB), checked against its descriptor.
    private func fetchConfig(_ descriptor: Descriptor, name: ImageName, client: RegistryClient) throws -> [UInt8] {
        let what = "config \(descriptor.digest)"
        if images.hasBlob(descriptor.digest),
           let bytes = try? readFile(images.blobPath(descriptor.digest), name: what, limit: .document), try Digest.of(bytes) == descriptor.digest {
            return bytes
        }
        guard descriptor.size <= Int64(ReadLimit.document.bytes) else {
            throw RegistryError(.badContent, "\(what): \(descriptor.size) bytes, more than netctl reads of a config (\(ReadLimit.document.bytes >> 20) MiB)")
        }
        let response = try client.send(HTTPRequest(method: "GET", url: client.url("/v2/\(name.repository)/blobs/\(descriptor.digest)")),
                                       scopes: [.pull(name.repository)], limit: ReadLimit.document.bytes)
        try Self.check(response, what: what, in: name)
        let digest = try Digest.of(response.body)
        guard digest == descriptor.digest else {
            throw RegistryError(.badContent, "\(what): content does not match its digest (it hashes to \(digest))")
        }
        guard Int64(response.body.count) == descriptor.size else {
            throw RegistryError(.badContent, "\(what): size is \(response.body.count) bytes, the manifest says \(descriptor.size)")
        }
        return response.body
    }

    // MARK: Layers

    private func fetchLayers(_ descriptors: [Descriptor], diffIDs: [Digest], chainIDs: [Digest], name: ImageName,
                             client: RegistryClient, staging: ImageStaging) throws {
        let layers = descriptors.indices.map { index in
            let descriptor = descriptors[index]
            let unpack = !images.hasLayer(chainIDs[index])
            return Layer(index: index, id: descriptor.digest.short, digest: descriptor.digest, size: descriptor.size,
                         diffID: diffIDs[index], chainID: chainIDs[index],
                         download: !images.hasBlob(descriptor.digest), unpack: unpack)
        }
        // What a killed pull left beside a blob it had verified and kept.
        for layer in layers where !layer.download { unlink(images.partialPath(layer.digest)) }
        var waiting = 0
        for layer in layers {
            if !layer.unpack && !layer.download {
                progress.layer(layer.id, "Already exists")
            } else {
                progress.layer(layer.id, "Pulling fs layer")
            }
        }
        for layer in layers where layer.download {
            waiting += 1
            if waiting > parallelDownloads { progress.layer(layer.id, "Waiting") }
        }
        try images.preparePartials()

        let board = Board(count: layers.count)
        let downloads = layers.filter(\.download)
        let workers = ParallelWork.start(downloads.count, width: parallelDownloads) { item in
            let layer = downloads[item]
            do {
                try self.download(layer, name: name, client: client, board: board)
            } catch {
                let failure = error as? RegistryError ?? RegistryError(.badContent, "layer \(layer.digest): \(error)")
                layer.feed.fail(failure.message)
                // Cut short because the pull failed elsewhere: not a failure of its own.
                if !board.cancelled.load(ordering: .relaxed) { board.set(layer.index, .failed(failure)) }
            }
        }

        var unpackFailure: (any Error)?
        for layer in layers where layer.unpack {
            do {
                var path = images.blobPath(layer.digest)
                if layer.download {
                    wait: while true {
                        switch board.slot(layer.index) {
                        case .pending: usleep(2000)
                        case .writing(let file), .complete(let file): path = file; break wait
                        case .failed(let error): throw error
                        }
                    }
                }
                if !layer.download { progress.layer(layer.id, "Extracting") }
                try staging.unpack(blob: path, digest: layer.digest, size: layer.size, diffID: layer.diffID, chainID: layer.chainID,
                                   parents: Array(chainIDs[..<layer.index]), feed: layer.download ? layer.feed : nil, policy: policy)
                progress.layer(layer.id, "Pull complete")
            } catch {
                unpackFailure = error
                // Its bytes may be what is wrong: let its download finish and say so (a
                // digest mismatch says more than the archive error it caused).
                if layer.download {
                    while case .writing = board.slot(layer.index) { usleep(2000) }
                }
                board.cancelled.store(true, ordering: .relaxed)
                workers.stop()
                break
            }
        }
        try? workers.wait()  // each download's failure is on the board
        // Kept in the store now; what was cut short stays for the next pull to resume.
        for layer in layers where layer.download {
            if case .complete = board.slot(layer.index) { unlink(images.partialPath(layer.digest)) }
        }
        // A download's own failure says more than the extraction it cut short.
        if let failure = board.firstFailure { throw failure }
        if let unpackFailure { throw unpackFailure }
        for layer in layers where !layer.unpack { progress.layer(layer.id, layer.download ? "Pull complete" : "Already exists") }
    }
}
