import Glibc
import Runtime
import Synchronization

/// What a push sends: one image's manifest exactly as it is stored (so the registry gets
/// the same digest), and where the blobs it names are.
public struct PushSource: Sendable {
    public struct Blob: Sendable {
        public var digest: Digest
        public var size: Int64
        public var path: String
    }

    public var manifest: [UInt8]
    public var mediaType: String
    /// Where a blob's bytes are (the content store's `blobs/sha256/HEX`).
    public var blobPath: @Sendable (Digest) -> String
    /// The layers' diff IDs, lowest first: Docker names layers by them in its lines.
    public var diffIDs: [Digest]
    /// Where the image already is (`127.0.0.1:5000/team/app@sha256:…`): repositories on
    /// the same registry its blobs can be mounted from.
    public var repoDigests: [String]

    public init(manifest: [UInt8], mediaType: String, blobPath: @escaping @Sendable (Digest) -> String,
                diffIDs: [Digest] = [], repoDigests: [String] = []) {
        self.manifest = manifest
        self.mediaType = mediaType
        self.blobPath = blobPath
        self.diffIDs = diffIDs
        self.repoDigests = repoDigests
    }
}

public struct PushOptions: Sendable {
    /// `--chunk-size`: every blob goes up in PATCHes of this many bytes.
    public var chunkSize: Int64?
    /// Without `--chunk-size`, blobs larger than this go up in `largeChunkSize` pieces
    /// (a registry behind a proxy may refuse one body of several hundred MB); smaller ones
    /// in one PUT.
    public var chunkedAbove: Int64 = 256 << 20
    public var largeChunkSize: Int64 = 64 << 20
    /// Blobs uploading at once.
    public var parallel = 3

    public init(chunkSize: Int64? = nil) {
        self.chunkSize = chunkSize
    }
}

/// One layer that is now in the repository, as Docker reports it:
/// `a1b2c3d4e5f6: Pushed`, `Layer already exists`, `Mounted from team/app`.
public struct PushEvent: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        case pushed
        case exists
        case mounted(from: String)
    }

    /// Twelve hex digits of the layer's diff ID (its blob digest when the config does not
    /// say), as Docker names layers.
    public var id: String
    public var digest: Digest
    public var outcome: Outcome

    public var line: String {
        switch outcome {
        case .pushed: "\(id): Pushed"
        case .exists: "\(id): Layer already exists"
        case .mounted(let other): "\(id): Mounted from \(other)"
        }
    }
}

public struct PushResult: Sendable {
    /// The manifest's digest, which the registry confirmed.
    public var digest: Digest
    /// Bytes of the manifest.
    public var size: Int
    /// `127.0.0.1:5000/team/app@sha256:…`, for the image's RepoDigests.
    public var repoDigest: String

    /// Docker's last line: `1.4: digest: sha256:… size: 527` (`digest: …` for a push by
    /// digest alone).
    public func line(tag: String?) -> String {
        (tag.map { "\($0): " } ?? "") + "digest: \(digest) size: \(size)"
    }
}

/// Pushes an image to a registry as `docker push` does: each blob checked for, mounted
/// from another repository of the same registry, or uploaded (up to three at once), then
/// the manifest put by tag (and by digest when the reference has one), its digest checked
/// against the registry's.
public struct ImagePusher {
    public let client: RegistryClient

    public init(client: RegistryClient) {
        self.client = client
    }

    /// Pushes `source` to `name` (whose registry must be the client's). `report` gets one
    /// event per layer as it lands, from the uploading threads, one at a time. Errors are
    /// one line: `push REF: …`.
    public func push(_ source: PushSource, to name: ImageName, options: PushOptions = PushOptions(),
                     report: @escaping @Sendable (PushEvent) -> Void = { _ in }) throws -> PushResult {
        do {
            return try pushing(source, to: name, options: options, report: report)
        } catch let error as RegistryError {
            throw RegistryError(error.kind, "push \(Self.text(of: name)): \(error.message)")
        } catch let error as RuntimeError {
            throw RegistryError(.input, "push \(Self.text(of: name)): \(error.description)")
        }
    }

    private func pushing(_ source: PushSource, to name: ImageName, options: PushOptions,
                         report: @escaping @Sendable (PushEvent) -> Void) throws -> PushResult {
        let manifest = try Self.parse(source.manifest, mediaType: source.mediaType)
        let digest = try Digest.of(source.manifest)
        if let given = name.digest, given != digest {
            throw RegistryError(.input, "the image's manifest is \(digest), not the digest given")
        }
        let repository = name.repository

        // Config first, then the layers; a blob named twice goes up once.
        var seen = Set<Digest>()
        var blobs: [(blob: PushSource.Blob, layer: Int?)] = []
        for (index, descriptor) in ([manifest.config] + manifest.layers).enumerated() where seen.insert(descriptor.digest).inserted {
            let path = source.blobPath(descriptor.digest)
            var info = stat()
            guard stat(path, &info) == 0 else {
                throw RegistryError(.input, "blob \(descriptor.digest) is not in the content store (pull or import the image again)")
            }
            guard Int64(info.st_size) == descriptor.size else {
                throw RegistryError(.badContent, "blob \(descriptor.digest) in the content store is \(info.st_size) bytes, the manifest says \(descriptor.size)")
            }
            blobs.append((PushSource.Blob(digest: descriptor.digest, size: descriptor.size, path: path), index == 0 ? nil : index - 1))
        }

        // Repositories of this registry that hold the image: its blobs can be mounted.
        var mountFrom: [String] = []
        for text in source.repoDigests {
            guard let other = try? ImageName(parsing: text), other.registry == name.registry,
                  other.repository != repository, !mountFrom.contains(other.repository) else { continue }
            mountFrom.append(other.repository)
        }

        let reporting = Mutex(())
        let client = self.client
        try forEachInParallel(blobs.count, width: options.parallel) { [blobs, mountFrom] index in
            let (blob, layer) = blobs[index]
            let chunkSize = options.chunkSize ?? (blob.size > options.chunkedAbove ? options.largeChunkSize : nil)
            let outcome = try BlobUpload(client: client, name: name, blob: blob).run(mountFrom: mountFrom, chunkSize: chunkSize)
            // Docker prints the layers only; the config goes up unannounced.
            guard let layer else { return }
            let id = layer < source.diffIDs.count && source.diffIDs.count == manifest.layers.count ? source.diffIDs[layer].short : blob.digest.short
            reporting.withLock { _ in report(PushEvent(id: id, digest: blob.digest, outcome: outcome)) }
        }

        if let tag = name.effectiveTag {
            try putManifest(source, digest: digest, name: name, reference: tag)
        }
        if name.digest != nil {
            try putManifest(source, digest: digest, name: name, reference: digest.description)
        }
        return PushResult(digest: digest, size: source.manifest.count, repoDigest: "\(name.familiarName)@\(digest)")
    }

    // PUT /v2/REPO/manifests/REFERENCE, Content-Type: the manifest's media type.
    private func putManifest(_ source: PushSource, digest: Digest, name: ImageName, reference: String) throws {
        let repository = name.repository
        let request = HTTPRequest(
            method: "PUT", url: client.url("/v2/\(repository)/manifests/\(reference)"),
            headers: ["Content-Type: \(source.mediaType)"], body: .bytes(source.manifest))
        let response = try client.send(request, scopes: [.push(repository)])
        guard response.status == 201 || response.status == 200 else {
            throw BlobUpload.failure(response, in: name, "manifest \(reference)")
        }
        if let answered = response.header("Docker-Content-Digest"), answered != digest.description {
            throw RegistryError(.badContent, "manifest \(repository):\(reference): the registry stored \(answered), the image's manifest is \(digest)")
        }
    }

    // MARK: The manifest

    /// What a pull reads, less the indexes (a push sends the single-platform manifest).
    static let manifestTypes = [ManifestMediaType.ociManifest, ManifestMediaType.dockerManifest]

    /// The manifest's config and layers, checked as a pull checks what it reads; a media
    /// type netctl does not push (an index, schema 1, foreign layers) is refused, naming it.
    static func parse(_ bytes: [UInt8], mediaType: String) throws -> ImageManifest {
        guard manifestTypes.contains(mediaType),
              case .manifest(let manifest, _) = try ManifestDocument.decode(bytes, headerType: mediaType, what: "manifest") else {
            throw RegistryError(.badContent, "manifest: media type \"\(mediaType)\" is not supported (expected \(manifestTypes.joined(separator: " or ")))")
        }
        return manifest
    }

    /// The reference as a user writes it: `127.0.0.1:5000/team/app:1`, `busybox:latest`.
    static func text(of name: ImageName) -> String {
        var text = name.familiarName
        if let tag = name.tag { text += ":\(tag)" }
        if let digest = name.digest { text += "@\(digest)" }
        return text
    }
}

extension PushSource {
    /// An image of the store as it was pulled or imported: its manifest and the content
    /// store's blobs.
    public init(_ image: ImageRecord, in store: ImageStore) throws {
        let (bytes, mediaType) = try store.manifest(of: image)
        // blobPath only joins the store's directory and a digest: safe from any thread.
        nonisolated(unsafe) let store = store
        self.init(manifest: bytes, mediaType: mediaType, blobPath: { store.blobPath($0) },
                  diffIDs: image.layers, repoDigests: image.repoDigests ?? [])
    }
}
