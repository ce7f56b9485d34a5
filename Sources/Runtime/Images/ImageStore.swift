import CNM
import FoundationEssentials
import Glibc

/// An image as the store keeps it. Its id is its config's digest, as Docker's.
public struct ImageRecord: Codable, Sendable {
    public var id: Digest
    public var repoTags: [String]
    public var manifestDigest: Digest?
    /// Diff IDs, lowest layer first.
    public var layers: [Digest]
    /// Bytes of the uncompressed layers.
    public var size: Int64
    public var imported: String
    public var config: ImageConfig
}

/// One unpacked layer, shared by every image that has it.
struct LayerRecord: Codable {
    var diffID: Digest
    var size: Int64
    var entries: Int
}

/// Images and the layer store: records in the state root's store (`images/ID`,
/// `layers/ID`), unpacked layers in `storage/layers/DIFFID`, each unpacked once.
public final class ImageStore {
    let store: any Store
    let storage: String

    public init(store: any Store, root: String) {
        self.store = store
        storage = "\(root)/storage"
    }

    public func images() throws -> [ImageRecord] {
        try store.all(ImageRecord.self, under: "images").sorted { $0.imported > $1.imported }
    }

    /// By `name[:tag]` (`:latest` when none), full or `sha256:` id, or a unique id prefix.
    public func image(_ reference: String) throws -> ImageRecord {
        let hex = reference.hasPrefix("sha256:") ? String(reference.dropFirst(7)) : reference
        return try Reference.resolve(name: try? ImageReference.normalize(reference), idPrefix: hex, among: try images(),
                                     names: \.repoTags, id: \.id.hex)
            .mapError { failure in
                if case .notFound = failure { return RuntimeError("image \"\(reference)\" not found (import it with netctl image import)") }
                return RuntimeError(failure.message(kind: "image", reference: reference))
            }.get()
    }

    /// By id alone, one record read.
    public func image(id: Digest) throws -> ImageRecord {
        guard let image = try store.get(ImageRecord.self, "images/\(id.hex)") else {
            throw RuntimeError("image \(id) not found (it was removed)")
        }
        return image
    }

    public func layerPath(_ diffID: Digest) -> String { "\(storage)/layers/\(diffID.hex)" }

    // MARK: Import

    /// Imports every image in an OCI image layout (a directory or a tar of one) or a
    /// `docker save` archive. Every blob's digest and size is checked; nothing is recorded
    /// unless all of it checks out, and a failure leaves the store as it was.
    public func importImages(from path: String, name: String? = nil, policy: ExtractionPolicy = .init()) throws -> [ImageRecord] {
        var info = stat()
        guard stat(path, &info) == 0 else { throw RuntimeError.system("image import \(path)") }
        if let name { _ = try ImageReference.normalize(name) }
        let staging = try makeStaging()
        defer { removeTree(staging) }

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

            var prepared: [(ImageRecord, [(LayerRecord, String)])] = []
            for (index, candidate) in candidates.enumerated() {
                prepared.append(try prepare(candidate, staging: "\(staging)/image\(index)", policy: policy))
            }
            return try store.locked { try commit(prepared) }
        } catch let error as RuntimeError {
            throw RuntimeError("image import \(path): \(error.description)")
        }
    }

    private func prepare(_ candidate: ImageLayout.Candidate, staging: String, policy: ExtractionPolicy) throws -> (ImageRecord, [(LayerRecord, String)]) {
        let configBytes = try ImageLayout.verified(candidate.config)
        let config = try decodeJSON(ImageConfig.self, configBytes, what: candidate.config.name)
        guard config.rootfs.diffIDs.count == candidate.layers.count else {
            throw RuntimeError("\(candidate.config.name): lists \(config.rootfs.diffIDs.count) diff_ids for \(candidate.layers.count) layers")
        }
        guard mkdir(staging, 0o700) == 0 else { throw RuntimeError.system("mkdir \(staging)") }
        var layers: [(LayerRecord, String)] = []
        for (index, blob) in candidate.layers.enumerated() {
            let directory = "\(staging)/layer\(index)"
            guard mkdir(directory, 0o755) == 0 else { throw RuntimeError.system("mkdir \(directory)") }
            guard access(blob.path, F_OK) == 0 else { throw RuntimeError("\(blob.name) is missing") }
            let result = try LayerExtractor.extract(blob: blob.path, into: directory, policy: policy)
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
            layers.append((LayerRecord(diffID: diffID, size: result.uncompressedSize, entries: result.entries), directory))
        }
        let id = try candidate.config.digest ?? Digest.of(configBytes)
        let record = ImageRecord(
            id: id, repoTags: candidate.tags, manifestDigest: candidate.manifestDigest,
            layers: config.rootfs.diffIDs, size: layers.reduce(0) { $0 + $1.0.size }, imported: Timestamp.now(), config: config)
        return (record, layers)
    }

    private func commit(_ prepared: [(ImageRecord, [(LayerRecord, String)])]) throws -> [ImageRecord] {
        try makeDirectory("\(storage)/layers")
        var records: [ImageRecord] = []
        for (image, layers) in prepared {
            for (layer, directory) in layers {
                let final = layerPath(layer.diffID)
                if access(final, F_OK) != 0 {
                    guard rename(directory, final) == 0 else { throw RuntimeError.system("rename \(directory) to \(final)") }
                    try store.put("layers/\(layer.diffID.hex)", layer)
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
            }
            try store.put("images/\(image.id.hex)", merged)
            records.append(merged)
        }
        return records
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
            let stillUsed = Set(try images().flatMap(\.layers))
            for layer in Set(image.layers) where !stillUsed.contains(layer) {
                try store.delete("layers/\(layer.hex)")
                removeTree(layerPath(layer))
                lines.append("Deleted: \(layer)")
            }
            lines.append("Deleted: \(image.id)")
            return lines
        }
    }

    // MARK: Files

    private func makeStaging() throws -> String {
        try makeDirectory("\(storage)/tmp")
        let path = "\(storage)/tmp/import-\(Identifier.make().prefix(16))"
        guard mkdir(path, 0o700) == 0 else { throw RuntimeError.system("mkdir \(path)") }
        return path
    }
}

/// JSONDecoder with its errors cut down to one line naming the field.
func decodeJSON<T: Decodable>(_ type: T.Type, _ bytes: [UInt8], what: String) throws -> T {
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

/// `busybox` → `busybox:latest`; `docker.io/library/busybox:1` → `busybox:1`.
public enum ImageReference {
    public static func normalize(_ text: String) throws -> String {
        var name = text
        var tag = "latest"
        if let colon = text.lastIndex(of: ":"), !text[colon...].contains("/") {
            name = String(text[..<colon])
            tag = String(text[text.index(after: colon)...])
        }
        for prefix in ["docker.io/library/", "docker.io/", "index.docker.io/library/"] where name.hasPrefix(prefix) {
            name = String(name.dropFirst(prefix.count))
            break
        }
        let nameOK = !name.isEmpty && name.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || [0x2e, 0x5f, 0x2d, 0x2f, 0x3a].contains($0) }
            && !name.hasPrefix("/") && !name.hasSuffix("/")
        let tagOK = !tag.isEmpty && tag.utf8.count <= 128 && tag.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x30 && $0 <= 0x39) || [0x2e, 0x5f, 0x2d].contains($0) }
        guard nameOK, tagOK else {
            throw RuntimeError("invalid image reference \"\(text)\": expected NAME[:TAG] (lowercase name, tag of [A-Za-z0-9_.-])")
        }
        return "\(name):\(tag)"
    }
}
