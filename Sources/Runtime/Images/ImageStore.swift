import CNM
import FoundationEssentials
import Glibc
import Netlink

/// An image as the store keeps it. Its id is its config's digest, as Docker's.
public struct ImageRecord: Codable, Sendable {
    public var id: Digest
    public var repoTags: [String]
    /// The single-platform manifest the image was pulled or imported as (never an index),
    /// kept in the content store with its config and layer blobs.
    public var manifestDigest: Digest?
    /// Its media type (OCI or Docker schema 2); absent in records of netctl before the
    /// content store.
    public var manifestMediaType: String?
    /// `127.0.0.1:5000/team/app@sha256:…`: where the image was pulled from, by digest
    /// (Docker's RepoDigests). Absent for images only imported.
    public var repoDigests: [String]?
    /// Diff IDs, lowest layer first.
    public var layers: [Digest]
    /// Chain IDs, lowest layer first: the keys of the unpacked layers, each applied onto
    /// its parents. Absent in records of netctl before layers were applied onto their
    /// parents: those layers were unpacked apart, keyed by diff ID, and keep working as
    /// they did (import the image again to have it applied onto its parents).
    public var chainIDs: [Digest]?
    /// Bytes of the uncompressed layers.
    public var size: Int64
    public var imported: String
    public var config: ImageConfig
}

/// One unpacked layer, shared by every image whose layers up to it are the same.
struct LayerRecord: Codable {
    var diffID: Digest
    /// Absent in records of netctl before chain IDs (keyed by diff ID then).
    var chainID: Digest?
    var size: Int64
    var entries: Int
}

/// What one import did to one image: the tags it gave it (`image import` prints those, not
/// the tags the image had before).
public struct ImportedImage: Sendable {
    public var record: ImageRecord
    public var tagged: [String]
    public var id: Digest { record.id }
}

/// Images and the layer store: records in the state root's store (`images/ID`,
/// `layers/CHAINID`), unpacked layers in `storage/layers/CHAINID`.
///
/// Each layer is unpacked onto the merged view of its parents (see `MergedView`), so what
/// is in its directory depends on them as well as on its own content: the directory is
/// keyed by the layer's OCI chain ID, which is the diff ID for a base layer and
/// sha256(parent's chain ID + " " + diff ID) above it. Images with the same layers up to a
/// point share those directories, as containerd's snapshots are shared.
public final class ImageStore {
    let store: any Store
    let storage: String
    let faults: FaultInjector

    public init(store: any Store, root: String, faults: FaultInjector = FaultInjector()) {
        self.store = store
        storage = "\(root)/storage"
        self.faults = faults
    }

    public func images() throws -> [ImageRecord] {
        try store.all(ImageRecord.self, under: "images").sorted { $0.imported > $1.imported }
    }

    /// By `name[:tag]` (`:latest` when none), full or `sha256:` id, or a unique id prefix.
    public func image(_ reference: String) throws -> ImageRecord {
        guard let image = try imageIfPresent(reference) else {
            throw RuntimeError("image \"\(reference)\" not found (pull it with netctl pull, or import it with netctl image import)")
        }
        return image
    }

    /// The same, nil when no image has that name or id (an ambiguous id prefix still throws).
    public func imageIfPresent(_ reference: String) throws -> ImageRecord? {
        let hex = reference.hasPrefix("sha256:") ? String(reference.dropFirst(7)) : reference
        switch Reference.resolve(name: try? ImageReference.normalize(reference), idPrefix: hex, among: try images(),
                                 names: \.repoTags, id: \.id.hex) {
        case .success(let image): return image
        case .failure(.notFound): return nil
        case .failure(let failure): throw RuntimeError(failure.message(kind: "image", reference: reference))
        }
    }

    /// By id alone, one record read.
    public func image(id: Digest) throws -> ImageRecord {
        guard let image = try store.get(ImageRecord.self, "images/\(id.hex)") else {
            throw RuntimeError("image \(id) not found (it was removed)")
        }
        return image
    }

    /// The directory of an unpacked layer, by chain ID.
    public func layerPath(_ chainID: Digest) -> String { "\(storage)/layers/\(chainID.hex)" }

    /// The image's unpacked layers, lowest first: the overlayfs lower directories.
    public func layerPaths(of image: ImageRecord) -> [String] { Self.layerKeys(of: image).map(layerPath) }

    /// Its unpacked layers, lowest first, each with its diff ID: what a scan reads, as
    /// overlayfs merges them.
    public func unpackedLayers(of image: ImageRecord) -> [(directory: String, diffID: String)] {
        zip(layerPaths(of: image), image.layers).map { (directory: $0, diffID: $1.description) }
    }

    /// Chain IDs, or diff IDs for a record of netctl before chain IDs.
    static func layerKeys(of image: ImageRecord) -> [Digest] { image.chainIDs ?? image.layers }

    /// OCI chain IDs of a stack of diff IDs, lowest first.
    static func chainIDs(of diffIDs: [Digest]) throws -> [Digest] {
        var chain: [Digest] = []
        for diffID in diffIDs {
            chain.append(try chain.last.map { try Digest.of(Array("\($0) \(diffID)".utf8)) } ?? diffID)
        }
        return chain
    }

    // MARK: Import

    /// Imports every image in an OCI image layout (a directory or a tar of one) or a
    /// `docker save` archive. Every blob's digest and size is checked; nothing is recorded
    /// unless all of it checks out, and a failure leaves the store as it was.
    /// `accept` sees each image before anything is recorded, and may refuse it (content
    /// trust checks that each tag's signed digest is the imported manifest's).
    public func importImages(from path: String, name: String? = nil, policy: ExtractionPolicy = .init(),
                             accept: ((ImageRecord) throws -> Void)? = nil) throws -> [ImportedImage] {
        var info = stat()
        guard stat(path, &info) == 0 else { throw RuntimeError.system("image import \(path)") }
        let type = info.st_mode & FileType.mask
        guard type == FileType.regular || type == FileType.directory else {
            throw RuntimeError("image import \(path): is \(FileType.describe(type)), expected a regular file or directory")
        }
        if let name { _ = try ImageReference.normalize(name) }
        let (staging, lock) = try makeStaging()
        defer {
            removeTree(staging)
            close(lock)
        }

        do {
            var layout = path
            if info.st_mode & FileType.mask != FileType.directory {
                layout = "\(staging)/archive"
                guard mkdir(layout, 0o700) == 0 else { throw RuntimeError.system("mkdir \(layout)") }
                _ = try LayerExtractor.extract(blob: path, into: layout, policy: ExtractionPolicy(devices: .skip, setID: .strip))
            }
            let base = String(path.split(separator: "/").last ?? "image")
            let defaultName = name ?? String(base.hasSuffix(".tar") ? base.dropLast(4) : base[...])
            let candidates = try ImageLayout.read(layout, defaultName: defaultName)
            if candidates.isEmpty { throw RuntimeError("no images in it") }

            var prepared: [Prepared] = []
            for (index, candidate) in candidates.enumerated() {
                prepared.append(try prepare(candidate, staging: "\(staging)/image\(index)", policy: policy))
            }
            for item in prepared { try accept?(item.image) }
            faults.reach("import.after-layers")
            return try store.locked { try commit(prepared) }
        } catch let error as RuntimeError {
            throw RuntimeError("image import \(path): \(error.description)")
        }
    }

    /// An image ready to record, with its layers unpacked in staging (or, for a pull, some
    /// already in the store: their directory is the store's).
    struct Prepared {
        var image: ImageRecord
        var layers: [(record: LayerRecord, directory: String)]
    }

    private func prepare(_ candidate: ImageLayout.Candidate, staging: String, policy: ExtractionPolicy) throws -> Prepared {
        let configBytes = try ImageLayout.verified(candidate.config)
        let config = try decodeJSON(ImageConfig.self, configBytes, what: candidate.config.name)
        guard config.rootfs.diffIDs.count == candidate.layers.count else {
            throw RuntimeError("\(candidate.config.name): lists \(config.rootfs.diffIDs.count) diff_ids for \(candidate.layers.count) layers")
        }
        guard mkdir(staging, 0o700) == 0 else { throw RuntimeError.system("mkdir \(staging)") }
        let chainIDs = try Self.chainIDs(of: config.rootfs.diffIDs)
        let configDigest = try storeBlob(configBytes)
        var layers: [(record: LayerRecord, directory: String)] = []
        var descriptors: [(mediaType: String, digest: Digest, size: Int64)] = []
        for (index, blob) in candidate.layers.enumerated() {
            let directory = "\(staging)/layer\(index)"
            guard mkdir(directory, 0o755) == 0 else { throw RuntimeError.system("mkdir \(directory)") }
            let path = try blob.containedPath()
            // Applied onto the layers below it, as this import unpacked them.
            let parents = layers.reversed().map(\.directory)
            let result = try LayerExtractor.extract(blob: path, into: directory, parents: parents, policy: policy)
            if let expected = blob.digest, expected != result.digest {
                throw RuntimeError("\(blob.name): content does not match its digest (it hashes to \(result.digest))")
            }
            if let size = blob.size, size != result.size {
                throw RuntimeError("\(blob.name): size is \(result.size) bytes, the manifest says \(size)")
            }
            let diffID = config.rootfs.diffIDs[index]
            guard result.diffID == diffID else {
                throw RuntimeError("\(blob.name): uncompressed digest is \(result.diffID), the config's diff_id is \(diffID)")
            }
            let record = LayerRecord(diffID: diffID, chainID: chainIDs[index], size: result.uncompressedSize, entries: result.entries)
            layers.append((record, directory))
            // Kept as it came, so a push sends the same bytes under the same digest.
            try storeBlob(copying: path, as: result.digest)
            descriptors.append((Self.layerMediaType(of: path), result.digest, result.size))
        }
        let id = try candidate.config.digest ?? Digest.of(configBytes)
        var manifestDigest: Digest
        var manifestMediaType = MediaType.manifest
        if let manifest = candidate.manifest {
            manifestDigest = try storeBlob(try ImageLayout.verified(manifest))
            manifestMediaType = candidate.manifestMediaType ?? MediaType.manifest
        } else {
            // docker save keeps no manifest: one in OCI's format makes the image pushable.
            manifestDigest = try storeBlob(Self.synthesizedManifest(config: (configDigest, Int64(configBytes.count)), layers: descriptors))
        }
        let record = ImageRecord(
            id: id, repoTags: candidate.tags, manifestDigest: manifestDigest, manifestMediaType: manifestMediaType, repoDigests: nil,
            layers: config.rootfs.diffIDs, chainIDs: chainIDs, size: layers.reduce(0) { $0 + $1.record.size }, imported: Timestamp.now(),
            config: config)
        return Prepared(image: record, layers: layers)
    }

    /// Records prepared images: under the store's lock (the caller takes it).
    func commit(_ prepared: [Prepared]) throws -> [ImportedImage] {
        try makeDirectory("\(storage)/layers")
        var imported: [ImportedImage] = []
        for item in prepared {
            let image = item.image
            // A removal running beside this import or pull may have dropped a blob it shares.
            for blob in referencedBlobs(of: image) where !hasBlob(blob) {
                throw RuntimeError("blob \(blob) was removed while the image was being stored (an image removal ran at the same time); try again")
            }
            for (layer, directory) in item.layers {
                let chainID = layer.chainID ?? layer.diffID
                let final = layerPath(chainID)
                if access(final, F_OK) != 0 {
                    guard rename(directory, final) == 0 else { throw RuntimeError.system("rename \(directory) to \(final)") }
                    try store.put("layers/\(chainID.hex)", layer)
                }
            }
            // A tag moves to the image imported last, as `docker load` moves it.
            for var other in try images() where other.id != image.id && !Set(other.repoTags).isDisjoint(with: image.repoTags) {
                other.repoTags.removeAll { image.repoTags.contains($0) }
                try store.put("images/\(other.id.hex)", other)
            }
            var merged = image
            if let existing = try store.get(ImageRecord.self, "images/\(image.id.hex)") {
                merged.repoTags = existing.repoTags + image.repoTags.filter { !existing.repoTags.contains($0) }
                merged.repoDigests = Self.mergedRepoDigests(existing.repoDigests, image.repoDigests)
                if image.repoDigests == nil {
                    // Imported again: the manifest it was pulled as still describes it.
                    merged.manifestDigest = existing.manifestDigest ?? image.manifestDigest
                    merged.manifestMediaType = existing.manifestDigest == nil ? image.manifestMediaType : existing.manifestMediaType
                }
                // A record from before chain IDs takes this import's layers. Its own, keyed by
                // diff ID, are left where they are: a container started from it may still
                // have them mounted.
            }
            try store.put("images/\(image.id.hex)", merged)
            imported.append(ImportedImage(record: merged, tagged: image.repoTags))
        }
        return imported
    }

    /// Docker keeps one RepoDigest per repository: the one pulled last.
    static func mergedRepoDigests(_ old: [String]?, _ new: [String]?) -> [String]? {
        guard let new, !new.isEmpty else { return old }
        func repository(_ text: String) -> Substring { text[..<(text.firstIndex(of: "@") ?? text.endIndex)] }
        let replaced = Set(new.map(repository))
        return (old ?? []).filter { !replaced.contains(repository($0)) } + new
    }

    // MARK: Tags and removal

    public func tag(_ source: String, as target: String) throws {
        let tag = try ImageReference.normalize(target)
        try store.locked {
            var image = try image(source)
            for var other in try images() where other.id != image.id && other.repoTags.contains(tag) {
                other.repoTags.removeAll { $0 == tag }
                try store.put("images/\(other.id.hex)", other)
            }
            if !image.repoTags.contains(tag) { image.repoTags.append(tag) }
            try store.put("images/\(image.id.hex)", image)
        }
    }

    /// `image rm`: a tag of an image with other tags is only untagged; otherwise the image
    /// goes, with the layers no other image uses. `inUse` names the container that still
    /// needs it, which stops the removal unless `force`.
    public func remove(_ reference: String, force: Bool, inUse: (ImageRecord) throws -> String?) throws -> [String] {
        try store.locked {
            var image = try image(reference)
            if let tag = try? ImageReference.normalize(reference), image.repoTags.contains(tag), image.repoTags.count > 1 {
                image.repoTags.removeAll { $0 == tag }
                try store.put("images/\(image.id.hex)", image)
                return ["Untagged: \(tag)"]
            }
            if !force, let container = try inUse(image) {
                throw RuntimeError("image \"\(reference)\" is used by container \(container) (remove it first, or use -f)")
            }
            var lines = image.repoTags.map { "Untagged: \($0)" }
            try store.delete("images/\(image.id.hex)")
            lines += try releaseLayers(of: image)
            try releaseBlobs(of: image)
            lines.append("Deleted: \(image.id)")
            return lines
        }
    }

    /// Removes the unpacked layers of `image` that no recorded image still uses; a
    /// "Deleted: KEY" line for each. Under the store's lock.
    private func releaseLayers(of image: ImageRecord) throws -> [String] {
        var stillUsed = Set(try images().flatMap(Self.layerKeys))
        var lines: [String] = []
        for layer in Self.layerKeys(of: image) where !stillUsed.contains(layer) {
            try store.delete("layers/\(layer.hex)")
            removeTree(layerPath(layer))
            stillUsed.insert(layer)
            lines.append("Deleted: \(layer)")
        }
        return lines
    }

    // MARK: Files

    /// A staging directory for one import, `storage/tmp/import-ID`, and the descriptor
    /// holding the flock that marks it in use until the import ends, however it ends (a
    /// killed import's lock goes with it). Stale ones are removed first. Both under the
    /// store's lock, so that no cleaner sees a new directory before its lock is taken.
    func makeStaging(kind: String = "import") throws -> (path: String, lock: Int32) {
        try store.locked {
            _ = removeStaleStagingLocked()
            try makeDirectory("\(storage)/tmp")
            let path = "\(storage)/tmp/\(kind)-\(Identifier.make().prefix(16))"
            guard mkdir(path, 0o700) == 0 else { throw RuntimeError.system("mkdir \(path)") }
            let lock = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            guard lock >= 0, flock(lock, LOCK_EX | LOCK_NB) == 0 else {
                let code = errno
                if lock >= 0 { close(lock) }
                removeTree(path)
                throw RuntimeError.system("lock \(path)", code)
            }
            return (path, lock)
        }
    }

    /// Removes what imports that were killed left in `storage/tmp` (for `system
    /// reconcile`); one line per directory removed.
    public func removeStaleStaging() throws -> [String] {
        try store.locked { removeStaleStagingLocked() + (try removeUnusedLayers()) + (try removeUnusedBlobs()) }
    }

    /// Unpacked layers no image records: an import killed after moving its layers into the
    /// store and before recording its image. Under the store's lock, which every import
    /// holds from its first move to its last record, so none is caught half done.
    private func removeUnusedLayers() throws -> [String] {
        let used = Set(try images().flatMap(Self.layerKeys).map(\.hex))
        let unused = Directory.names(in: "\(storage)/layers").filter { !$0.hasPrefix(".") && !used.contains($0) }
        for name in unused {
            try store.delete("layers/\(name)")
            removeTree("\(storage)/layers/\(name)")
        }
        return unused.map { "layer \($0.prefix(12)): removed (no image records it; its import was killed)" }
    }

    private func removeStaleStagingLocked() -> [String] {
        let directory = "\(storage)/tmp"
        var removed: [String] = []
        for name in Directory.names(in: directory) where name.hasPrefix("import-") || name.hasPrefix("pull-") {
            let path = "\(directory)/\(name)"
            let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if fd >= 0 {
                defer { close(fd) }
                // An import still running holds it.
                guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { continue }
            }
            removeTree(path)
            let kind = name.hasPrefix("pull-") ? "pull" : "import"
            removed.append("image \(kind) staging \(name): removed (left by \(kind == "pull" ? "a pull" : "an import") that was killed)")
        }
        return removed
    }
}

/// JSONDecoder with its errors cut down to one line naming the field.
public func decodeJSON<T: Decodable>(_ type: T.Type, _ bytes: [UInt8], what: String) throws -> T {
    do {
        return try JSONDecoder().decode(T.self, from: Data(bytes))
    } catch let error as DecodingError {
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        }
        switch error {
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            throw RuntimeError("\(what): not valid JSON")
        case .dataCorrupted(let context):
            throw RuntimeError("\(what): \(path(context)): \(context.debugDescription)")
        case .keyNotFound(let key, let context):
            throw RuntimeError("\(what): missing field \"\(path(context)).\(key.stringValue)\"")
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            throw RuntimeError("\(what): field \"\(path(context))\" has the wrong type")
        @unknown default:
            throw RuntimeError("\(what): \(error)")
        }
    } catch let error as RuntimeError {
        throw RuntimeError("\(what): \(error.description)")
    }
}

/// `busybox` → `busybox:latest`; `docker.io/library/busybox:1` → `busybox:1`: the tag
/// as the store keeps it (see `ImageName`).
public enum ImageReference {
    public static func normalize(_ text: String) throws -> String {
        let name = try ImageName(parsing: text)
        guard let tag = name.storedTag else {
            throw RuntimeError("invalid image reference \"\(text)\": expected a tag here, not only a digest")
        }
        return tag
    }
}
