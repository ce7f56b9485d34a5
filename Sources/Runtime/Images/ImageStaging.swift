import CNM
import Glibc

/// One pull's work in progress: a staging directory (`storage/tmp/pull-ID`, flocked while
/// the pull runs, so reconcile leaves it alone and removes it once the pull is killed)
/// where layers are unpacked onto their parents as import unpacks them, then recorded in
/// one step under the store's lock, exactly as an import commits.
public final class ImageStaging {
    let images: ImageStore
    let path: String
    private var lock: Int32
    /// Layers unpacked here, by chain ID.
    private var staged: [Digest: (record: LayerRecord, directory: String)] = [:]
    private var count = 0

    init(images: ImageStore) throws {
        self.images = images
        (path, lock) = try images.makeStaging(kind: "pull")
    }

    deinit { close() }

    /// Removes the staging directory; what was not committed is gone.
    public func close() {
        guard lock >= 0 else { return }
        removeTree(path)
        Glibc.close(lock)
        lock = -1
    }

    /// Unpacks the layer blob at `blob` (which a download may still be writing, see
    /// `BlobFeed`) onto the layers `parents` (chain IDs, lowest first: staged here or in the
    /// store), checking its digest, size and diff ID.
    public func unpack(blob: String, digest: Digest, size: Int64, diffID: Digest, chainID: Digest, parents: [Digest],
                       feed: BlobFeed?, policy: ExtractionPolicy = .init()) throws {
        count += 1
        let directory = "\(path)/layer\(count)"
        guard mkdir(directory, 0o755) == 0 else { throw RuntimeError.system("mkdir \(directory)") }
        let parentDirectories = parents.reversed().map { staged[$0]?.directory ?? images.layerPath($0) }
        let result = try LayerExtractor.extract(blob: blob, into: directory, parents: parentDirectories, policy: policy, feed: feed)
        guard result.digest == digest else {
            throw RuntimeError("layer \(digest): content does not match its digest (it hashes to \(result.digest))")
        }
        guard result.size == size else {
            throw RuntimeError("layer \(digest): size is \(result.size) bytes, the manifest says \(size)")
        }
        guard result.diffID == diffID else {
            throw RuntimeError("layer \(digest): uncompressed digest is \(result.diffID), the config's diff_id is \(diffID)")
        }
        staged[chainID] = (LayerRecord(diffID: diffID, chainID: chainID, size: result.uncompressedSize, entries: result.entries), directory)
    }

    /// Records the image: its layers move into the store, its tag moves to it (as `docker
    /// pull` moves it), `repoDigest` joins its RepoDigests. Every blob it names must be in
    /// the content store by now.
    public func commit(config configBytes: [UInt8], manifestDigest: Digest, manifestMediaType: String,
                       tag: String?, repoDigest: String) throws -> ImageRecord {
        let config = try decodeJSON(ImageConfig.self, configBytes, what: "config")
        let chainIDs = try ImageStore.chainIDs(of: config.rootfs.diffIDs)
        let id = try Digest.of(configBytes)
        return try images.store.locked {
            var layers: [(record: LayerRecord, directory: String)] = []
            var size: Int64 = 0
            for chainID in chainIDs {
                if let layer = staged[chainID] {
                    layers.append(layer)
                    size += layer.record.size
                } else {
                    guard let record = try images.store.get(LayerRecord.self, "layers/\(chainID.hex)"),
                          access(images.layerPath(chainID), F_OK) == 0 else {
                        throw RuntimeError("layer \(chainID) was removed while the image was being pulled (an image removal ran at the same time); pull again")
                    }
                    size += record.size
                }
            }
            let record = ImageRecord(
                id: id, repoTags: tag.map { [$0] } ?? [], manifestDigest: manifestDigest, manifestMediaType: manifestMediaType,
                repoDigests: [repoDigest], layers: config.rootfs.diffIDs, chainIDs: chainIDs, size: size, imported: Timestamp.now(),
                config: config)
            return try images.commit([ImageStore.Prepared(image: record, layers: layers)])[0].record
        }
    }
}

extension ImageStore {
    /// A staging area for one pull (see `ImageStaging`).
    public func beginPull() throws -> ImageStaging { try ImageStaging(images: self) }

    /// The layer with this chain ID is unpacked in the store.
    public func hasLayer(_ chainID: Digest) -> Bool {
        (try? store.get(LayerRecord.self, "layers/\(chainID.hex)")) != nil && access(layerPath(chainID), F_OK) == 0
    }

    /// Chain IDs of a stack of diff IDs, lowest first.
    public static func chainIDs(for diffIDs: [Digest]) throws -> [Digest] { try chainIDs(of: diffIDs) }

    /// Reaches a fault point (tests kill the process there: `NETCTL_FAULT`).
    public func reach(_ point: String) { faults.reach(point) }
}
