import CNM
import Glibc
import Netlink
import Synchronization

/// The content store: `storage/blobs/sha256/HEX`, every verified blob netctl keeps
/// (manifests, configs, compressed layers), as containerd keeps them. Push sends the very
/// bytes a pull or an import verified, so digests survive the round trip; a pull killed
/// halfway finds what it already verified here. A blob is written here only after its
/// digest and size checked out: partial downloads live in `storage/tmp/blobs/`.
extension ImageStore {
    public func blobPath(_ digest: Digest) -> String { "\(storage)/blobs/sha256/\(digest.hex)" }

    public func hasBlob(_ digest: Digest) -> Bool { access(blobPath(digest), F_OK) == 0 }

    /// Where a download of `digest` keeps its bytes until they are verified; a later pull
    /// resumes it.
    public func partialPath(_ digest: Digest) -> String { "\(storage)/tmp/blobs/\(digest.hex).partial" }

    /// Makes `storage/tmp/blobs` for partial downloads.
    public func preparePartials() throws { try makeDirectory("\(storage)/tmp/blobs") }

    /// The single-platform manifest the image was pulled or imported as, and its media type.
    public func manifest(of image: ImageRecord) throws -> (bytes: [UInt8], mediaType: String) {
        guard let digest = image.manifestDigest, hasBlob(digest) else {
            throw RuntimeError("image \(image.id.short): its manifest is not in the content store (it was imported before netctl kept blobs; import or pull it again)")
        }
        let bytes = try readFile(blobPath(digest), name: "manifest blob \(digest)", limit: .document)
        if let mediaType = image.manifestMediaType { return (bytes, mediaType) }
        let declared = try? decodeJSON(MediaTypeField.self, bytes, what: "manifest").mediaType
        return (bytes, declared ?? MediaType.manifest)
    }

    /// Keeps `bytes` (a manifest or a config the caller verified) under their digest.
    @discardableResult
    public func storeBlob(_ bytes: [UInt8]) throws -> Digest {
        let digest = try Digest.of(bytes)
        if hasBlob(digest) { return digest }
        try makeDirectory("\(storage)/blobs/sha256")
        let temporary = "\(blobPath(digest)).\(Identifier.make().prefix(8)).tmp"
        try writeFile(bytes, to: temporary, mode: 0o644)
        guard rename(temporary, blobPath(digest)) == 0 else {
            unlink(temporary)
            throw RuntimeError.system("rename \(temporary)")
        }
        return digest
    }

    /// Moves a verified file (a finished download, a blob in an import's staging) into the
    /// store as `digest`.
    public func storeBlob(moving path: String, as digest: Digest) throws {
        try makeDirectory("\(storage)/blobs/sha256")
        chmod(path, 0o644)
        guard rename(path, blobPath(digest)) == 0 else { throw RuntimeError.system("rename \(path) to \(blobPath(digest))") }
    }

    /// Links a verified download into the store under `digest`, leaving its partial file
    /// where an extraction still reading it opened it (the pull removes it when done).
    public func storeBlob(linking path: String, as digest: Digest) throws {
        try makeDirectory("\(storage)/blobs/sha256")
        chmod(path, 0o644)
        guard link(path, blobPath(digest)) == 0 || errno == EEXIST else { throw RuntimeError.system("link \(path) to \(blobPath(digest))") }
    }

    /// Copies a verified file the user owns (a blob of an OCI layout directory) into the
    /// store: a link would let a later change to their file change the store.
    func storeBlob(copying path: String, as digest: Digest) throws {
        if hasBlob(digest) { return }
        try makeDirectory("\(storage)/blobs/sha256")
        let temporary = "\(blobPath(digest)).\(Identifier.make().prefix(8)).tmp"
        let input = open(path, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw RuntimeError.system("open \(path)") }
        defer { close(input) }
        let output = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard output >= 0 else { throw RuntimeError.system("create \(temporary)") }
        defer { close(output) }
        do {
            // In the kernel, no bytes through userland.
            while true {
                let count = sendfile(output, input, nil, 1 << 30)
                if count == 0 { break }
                if count < 0 {
                    if errno == EINTR { continue }
                    throw RuntimeError.system("copy \(path) to \(temporary)")
                }
            }
            guard rename(temporary, blobPath(digest)) == 0 else { throw RuntimeError.system("rename \(temporary)") }
        } catch {
            unlink(temporary)
            throw error
        }
    }

    /// The blobs `image` needs: its manifest and what the manifest names (config, layers).
    func referencedBlobs(of image: ImageRecord) -> Set<Digest> {
        var blobs: Set<Digest> = [image.id]
        guard let digest = image.manifestDigest else { return blobs }
        blobs.insert(digest)
        if let bytes = try? readFile(blobPath(digest), name: "manifest", limit: .document),
           let manifest = try? decodeJSON(ImageManifest.self, bytes, what: "manifest") {
            blobs.insert(manifest.config.digest)
            for layer in manifest.layers { blobs.insert(layer.digest) }
        }
        return blobs
    }

    /// Removes the blobs of `image` (just removed) that no remaining image references. Under
    /// the store's lock.
    func releaseBlobs(of image: ImageRecord) throws {
        let used = try images().reduce(into: Set<Digest>()) { $0.formUnion(referencedBlobs(of: $1)) }
        for blob in referencedBlobs(of: image) where !used.contains(blob) { unlink(blobPath(blob)) }
    }

    /// For `system reconcile`: blobs no image references and partial downloads, unless an
    /// import or pull is running (its blobs are verified but not yet recorded). Under the
    /// store's lock.
    func removeUnusedBlobs() throws -> [String] {
        guard !stagingInUse() else { return [] }
        let used = try images().reduce(into: Set<String>()) { $0.formUnion(referencedBlobs(of: $1).map(\.hex)) }
        var lines: [String] = []
        for name in Directory.names(in: "\(storage)/blobs/sha256") where !used.contains(name) {
            unlink("\(storage)/blobs/sha256/\(name)")
            lines.append("blob \(name.prefix(12)): removed (no image references it)")
        }
        for name in Directory.names(in: "\(storage)/tmp/blobs") {
            unlink("\(storage)/tmp/blobs/\(name)")
            lines.append("partial download \(name.prefix(12)): removed")
        }
        return lines
    }

    /// An import or a pull holds its staging directory's flock while it runs.
    private func stagingInUse() -> Bool {
        for name in Directory.names(in: "\(storage)/tmp") where name.hasPrefix("import-") || name.hasPrefix("pull-") {
            let fd = open("\(storage)/tmp/\(name)", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            if flock(fd, LOCK_EX | LOCK_NB) != 0 { return true }
            flock(fd, LOCK_UN)
        }
        return false
    }

    /// The media type of a layer file by its first bytes, for a manifest synthesized from a
    /// docker-save archive (which records none).
    static func layerMediaType(of path: String) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        var magic = [UInt8](repeating: 0, count: 4)
        if fd >= 0 {
            _ = read(fd, &magic, 4)
            close(fd)
        }
        if magic[0] == 0x1f && magic[1] == 0x8b { return MediaType.layerGzip }
        if magic == [0x28, 0xb5, 0x2f, 0xfd] { return MediaType.layerZstd }
        return MediaType.layerTar
    }

    /// An OCI manifest for an image that came without one (docker save), so that every
    /// image can be pushed. Fields in the order the image spec lists them.
    static func synthesizedManifest(config: (digest: Digest, size: Int64), layers: [(mediaType: String, digest: Digest, size: Int64)]) -> [UInt8] {
        let layerText = layers.map { #"{"mediaType":"\#($0.mediaType)","digest":"\#($0.digest)","size":\#($0.size)}"# }
        let text = #"{"schemaVersion":2,"mediaType":"\#(MediaType.manifest)","config":{"mediaType":"\#(MediaType.config)","digest":"\#(config.digest)","size":\#(config.size)},"layers":[\#(layerText.joined(separator: ","))]}"#
        return Array(text.utf8)
    }
}

private struct MediaTypeField: Decodable { var mediaType: String? }

/// What a download has written of a blob so far, for an extractor reading the same file
/// behind it: at the end of the file it waits for more instead of taking it as the end of
/// the blob, until the download finishes (or fails, which fails the extraction too).
public final class BlobFeed: Sendable {
    private struct State {
        var finished = false
        var failure: String?
    }

    private let state = Mutex(State())

    public init() {}

    /// All bytes are in the file and verified.
    public func finish() { state.withLock { $0.finished = true } }

    /// The download failed: `reason` ends the extraction.
    public func fail(_ reason: String) { state.withLock { if $0.failure == nil { $0.failure = reason } } }

    /// At the end of the file: true when the blob is complete, false when more may come;
    /// throws the download's failure.
    func atEnd() throws -> Bool {
        let now = state.withLock { $0 }
        if let failure = now.failure { throw RuntimeError(failure) }
        return now.finished
    }
}
