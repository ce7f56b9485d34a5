import Glibc
import Runtime
import Synchronization

/// The download side of a pull: each layer blob streams into `storage/tmp/blobs/HEX.partial`
/// (what a killed pull left is resumed with a Range request when the registry serves
/// ranges), its size and digest checked as the bytes arrive, then linked into the content
/// store. The unpacking thread reads the same file behind it (see `BlobFeed`).
extension ImagePuller {
    /// One layer's way through the pipeline.
    struct Layer: Sendable {
        var index: Int
        var id: String
        var digest: Digest
        var size: Int64
        var diffID: Digest
        var chainID: Digest
        var download: Bool
        var unpack: Bool
        let feed = BlobFeed()
    }

    /// Where each download stands, for the unpacking thread.
    final class Board: Sendable {
        enum Slot: Sendable { case pending, writing(String), complete(String), failed(RegistryError) }
        let slots: Mutex<[Slot]>
        let cancelled = Atomic<Bool>(false)

        init(count: Int) {
            slots = Mutex(Array(repeating: .pending, count: count))
        }

        func set(_ index: Int, _ slot: Slot) { slots.withLock { $0[index] = slot } }
        func slot(_ index: Int) -> Slot { slots.withLock { $0[index] } }
        var firstFailure: RegistryError? {
            slots.withLock { slots in
                for case .failed(let error) in slots { return error }
                return nil
            }
        }
    }

    /// Downloads one layer blob into its partial file (resuming what a killed pull left,
    /// when the registry serves ranges), verifying size and digest as the bytes arrive,
    /// then links it into the content store.
    func download(_ layer: Layer, name: ImageName, client: RegistryClient, board: Board) throws {
        let partial = images.partialPath(layer.digest)
        let fd = open(partial, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw RegistryError(.badContent, "layer \(layer.digest): open \(partial): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        // Another pull of the same blob holds it until that pull has it whole.
        _ = flock(fd, LOCK_EX)
        if images.hasBlob(layer.digest) {
            layer.feed.finish()
            board.set(layer.index, .complete(images.blobPath(layer.digest)))
            return
        }
        var info = stat()
        fstat(fd, &info)
        var offset = Int64(info.st_size)
        var hasher = try Digest.Hasher()
        if offset > layer.size {
            ftruncate(fd, 0)
            offset = 0
        } else if offset > 0 {
            offset = try hashExisting(fd, count: offset, into: hasher)
        }
        board.set(layer.index, .writing(partial))

        var attempts = 0
        while offset < layer.size {
            attempts += 1
            if offset > 0, try !servesRange(name: name, client: client, digest: layer.digest, from: offset) {
                // The registry sends the whole blob: start it again.
                ftruncate(fd, 0)
                offset = 0
                hasher = try Digest.Hasher()
            }
            var request = HTTPRequest(method: "GET", url: client.url("/v2/\(name.repository)/blobs/\(layer.digest)"))
            if offset > 0 { request.headers.append("Range: bytes=\(offset)-") }
            var written = offset
            let total = layer.size
            do {
                let response = try client.send(request, scopes: [.pull(name.repository)]) { chunk in
                    if board.cancelled.load(ordering: .relaxed) { throw RegistryError(.server, "cancelled") }
                    guard written + Int64(chunk.count) <= total else {
                        throw RegistryError(.badContent, "layer \(layer.digest): the registry sent more than the \(total) bytes the manifest says")
                    }
                    var done = 0
                    while done < chunk.count {
                        let count = pwrite(fd, chunk.baseAddress! + done, chunk.count - done, off_t(written) + off_t(done))
                        if count < 0 && errno == EINTR { continue }
                        guard count > 0 else { throw RegistryError(.badContent, "layer \(layer.digest): write \(partial): \(String(cString: strerror(errno)))") }
                        done += count
                    }
                    hasher.update(chunk)
                    written += Int64(chunk.count)
                    self.progress.downloading(layer.id, written, of: total)
                }
                offset = written
                try Self.check(response, what: "layer \(layer.digest)", in: name)
                if offset < layer.size {
                    guard attempts < 4 else {
                        throw RegistryError(.server, "layer \(layer.digest): the registry sent \(offset) of its \(layer.size) bytes")
                    }
                    continue
                }
            } catch let error as RegistryError where [.server, .unreachable].contains(error.kind) && !board.cancelled.load(ordering: .relaxed)
                        && attempts < 4 && written > offset {
                // A cut mid-layer: resume from what arrived.
                offset = written
                continue
            } catch let error as RegistryError where written > offset {
                offset = written
                throw error
            }
        }
        progress.layer(layer.id, "Verifying Checksum")
        let digest = hasher.finish()
        guard digest == layer.digest else {
            unlink(partial)
            throw RegistryError(.badContent, "layer \(layer.digest): content does not match its digest (it hashes to \(digest))")
        }
        try images.storeBlob(linking: partial, as: layer.digest)
        progress.layer(layer.id, "Download complete")
        if layer.unpack { progress.layer(layer.id, "Extracting") }
        layer.feed.finish()
        board.set(layer.index, .complete(partial))
        images.reach("pull.after-blob")
    }

    /// Feeds the first `count` bytes of a partial file to `hasher`; how many there were.
    func hashExisting(_ fd: Int32, count: Int64, into hasher: Digest.Hasher) throws -> Int64 {
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var offset: Int64 = 0
        while offset < count {
            let got = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, Int(min(Int64($0.count), count - offset)), off_t(offset)) }
            if got <= 0 { break }
            buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<got])) }
            offset += Int64(got)
        }
        return offset
    }

    /// Whether the registry answers `Range: bytes=N-` with 206 (a one-byte probe, so a
    /// registry that ignores ranges costs at most the probe's limit).
    func servesRange(name: ImageName, client: RegistryClient, digest: Digest, from offset: Int64) throws -> Bool {
        let request = HTTPRequest(method: "GET", url: client.url("/v2/\(name.repository)/blobs/\(digest)"),
                                  headers: ["Range: bytes=\(offset)-\(offset)"])
        do {
            let response = try client.send(request, scopes: [.pull(name.repository)], limit: 1 << 16)
            return response.status == 206
        } catch let error as RegistryError where error.kind == .badContent {
            return false  // the whole blob came back, larger than the probe's limit
        }
    }
}
