import CArchive
import CIgzip
import Glibc
import Synchronization

/// The uncompressed tar of a layer blob, made on a thread of its own: that thread reads the
/// blob (hashing it: the blob's digest), inflates it and hashes what comes out (the diff
/// ID), while the caller's thread parses the tar and writes its files. On two cores the
/// inflate no longer waits for the file system, nor the file system for the inflate.
/// Between them a ring of `slotCount` buffers of `slotSize` bytes: the memory stays the
/// same whatever the layer's size, and the inflating side waits when the ring is full.
final class InflatedTar: @unchecked Sendable {
    static let slotSize = 1 << 20
    static let slotCount = 4

    let source: StreamSource
    /// The uncompressed bytes' SHA-256 and count: read them only after `finish()`.
    let hasher: Digest.Hasher
    private let limit: Int64
    private var decompressor: (any Decompressor)?

    // The ring, guarded by `lock`: the reading side takes slot `head`, the inflating side
    // fills slot `(head + filled) % slotCount`.
    private let memory: UnsafeMutableRawPointer
    private var lengths = [Int](repeating: 0, count: slotCount)
    private var head = 0
    private var filled = 0
    /// The reader holds slot `head` (libarchive reads a buffer until it asks for the next).
    private var held = false
    private var ended = false
    private var failure: String?
    private var cancelled = false
    private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let changed = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var thread: pthread_t?

    init(source: StreamSource, limit: Int64) throws {
        self.source = source
        self.limit = limit
        hasher = try Digest.Hasher()
        memory = .allocate(byteCount: Self.slotSize * Self.slotCount, alignment: 4096)
        pthread_mutex_init(lock, nil)
        pthread_cond_init(changed, nil)
        let context = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        if pthread_create(&thread, nil, { context in
            Unmanaged<InflatedTar>.fromOpaque(context!).takeRetainedValue().inflate()
            return nil
        }, context) == 0 {
            self.thread = thread
        } else {
            // No thread to be had: the reader fills each slot itself as it needs it.
            Unmanaged<InflatedTar>.fromOpaque(context).release()
        }
    }

    deinit {
        pthread_cond_destroy(changed)
        pthread_mutex_destroy(lock)
        changed.deallocate()
        lock.deallocate()
        memory.deallocate()
    }

    /// Why the stream ended early, once it has.
    var failureReason: String? {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        return failure
    }

    // MARK: The reading side (libarchive's read callback)

    /// The next buffer of the tar (valid until the next call): its size, 0 at the end, -1 on
    /// a failure (`failureReason`).
    func next(_ out: UnsafeMutablePointer<UnsafeRawPointer?>) -> Int {
        pthread_mutex_lock(lock)
        if held {
            head = (head + 1) % Self.slotCount
            filled -= 1
            held = false
            pthread_cond_broadcast(changed)
        }
        while filled == 0 && !ended && failure == nil {
            if thread == nil {
                pthread_mutex_unlock(lock)
                _ = fillSlot()
                pthread_mutex_lock(lock)
            } else {
                pthread_cond_wait(changed, lock)
            }
        }
        defer { pthread_mutex_unlock(lock) }
        guard filled > 0 else { return failure == nil ? 0 : -1 }
        held = true
        out.pointee = UnsafeRawPointer(memory + head * Self.slotSize)
        return lengths[head]
    }

    /// Reads to the end: the digests cover every byte, also the tar's zero blocks after its
    /// last entry and whatever follows the compressed stream. Then the hashers may be read.
    func finish() throws {
        var buffer: UnsafeRawPointer?
        while true {
            let count = next(&buffer)
            if count == 0 { break }
            if count < 0 { throw RuntimeError("layer: \(failureReason ?? "unreadable")") }
        }
        join()
    }

    /// Stops the inflating side (an error while writing the tar) and waits for it.
    func close() {
        pthread_mutex_lock(lock)
        cancelled = true
        pthread_cond_broadcast(changed)
        pthread_mutex_unlock(lock)
        source.stop()
        join()
        decompressor?.close()
        decompressor = nil
    }

    private func join() {
        if let thread {
            pthread_join(thread, nil)
            self.thread = nil
        }
    }

    // MARK: The inflating side

    private func inflate() {
        while fillSlot() {}
    }

    /// Fills the next free slot (waiting for one); false once the stream has ended, failed
    /// or been cancelled.
    private func fillSlot() -> Bool {
        pthread_mutex_lock(lock)
        while filled == Self.slotCount && !cancelled { pthread_cond_wait(changed, lock) }
        let slot = (head + filled) % Self.slotCount
        let stop = cancelled || ended || failure != nil
        pthread_mutex_unlock(lock)
        if stop { return false }

        var used = 0
        var atEnd = false
        var reason: String?
        do {
            if decompressor == nil { decompressor = try makeDecompressor(source) }
            let decompressor = decompressor!
            let start = memory + slot * Self.slotSize
            while used < Self.slotSize {
                let count = decompressor.read(into: UnsafeMutableRawBufferPointer(start: start + used, count: Self.slotSize - used))
                if count < 0 { throw RuntimeError(decompressor.failure ?? "unreadable") }
                if count == 0 {
                    atEnd = true
                    break
                }
                guard hasher.count + Int64(count) <= limit else {
                    throw RuntimeError("more than \(LayerLimits.describe(limit)) uncompressed, the most netctl unpacks of a layer")
                }
                hasher.update(UnsafeRawBufferPointer(start: start + used, count: count))
                used += count
            }
            if atEnd { try source.drain() }
        } catch let error as RuntimeError {
            reason = error.description
        } catch {
            reason = "\(error)"
        }

        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        if used > 0 {
            lengths[slot] = used
            filled += 1
        }
        if let reason, failure == nil { failure = reason }
        if atEnd { ended = true }
        pthread_cond_broadcast(changed)
        return reason == nil && !atEnd
    }
}

/// A gzip blob goes to igzip when libisal loads, anything else (zstd, a plain tar, gzip
/// without libisal) to libarchive's filters.
private func makeDecompressor(_ source: StreamSource) throws -> any Decompressor {
    let magic = try source.peek(2)
    if magic == [0x1f, 0x8b], let inflater = GzipInflater(source: source) { return inflater }
    return try ArchiveFilter(source: source)
}

/// Uncompressed bytes of a blob, read in order.
protocol Decompressor: AnyObject {
    /// Fills `buffer` as far as it can: the count, 0 at the end, -1 on a failure.
    func read(into buffer: UnsafeMutableRawBufferPointer) -> Int
    var failure: String? { get }
    func close()
}

/// libarchive's filters (gzip, zstd, xz… or none) with its `raw` format.
private final class ArchiveFilter: Decompressor {
    let source: StreamSource
    let archive: OpaquePointer
    var failure: String?
    var empty = false

    init(source: StreamSource) throws {
        self.source = source
        archive = la_read_new()!
        la_read_support_filter_all(archive)
        la_read_support_format_raw(archive)
        let context = Unmanaged.passUnretained(source).toOpaque()
        var entry: OpaquePointer?
        guard la_read_open(archive, context, nil, { _, context, buffer in
            Unmanaged<StreamSource>.fromOpaque(context!).takeUnretainedValue().next(buffer!)
        }, nil) == ARCHIVE_OK else {
            defer { la_read_free(archive) }
            throw RuntimeError(source.failure ?? LayerExtractor.archiveError(archive))
        }
        let status = la_read_next_header(archive, &entry)
        if status == ARCHIVE_EOF {
            empty = true
        } else if status != ARCHIVE_OK {
            defer { la_read_free(archive) }
            throw RuntimeError(source.failure ?? LayerExtractor.archiveError(archive))
        }
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        if empty { return 0 }
        let count = la_read_data(archive, buffer.baseAddress, buffer.count)
        if count < 0 { failure = source.failure ?? LayerExtractor.archiveError(archive) }
        return count
    }

    func close() { la_read_free(archive) }
}

/// gzip through ISA-L's igzip, member after member as gzip -d reads a concatenation; the
/// stream ends where no further member starts (libarchive's gzip filter ends there too, the
/// bytes after it still count in the blob's digest).
private final class GzipInflater: Decompressor {
    let source: StreamSource
    let state: UnsafeMutableRawPointer
    var failure: String?
    /// Bytes the source handed over and igzip has not consumed yet.
    var input = UnsafeRawBufferPointer(start: nil, count: 0)
    var memberEnded = false
    var ended = false
    var sourceEnded = false

    /// nil when libisal cannot be loaded.
    init?(source: StreamSource) {
        guard (try? loadLibrary({ igzip_load($0, $1) })) != nil, let state = igzip_new() else { return nil }
        self.source = source
        self.state = state
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        var written = 0
        while written < buffer.count && !ended {
            if memberEnded {
                // Another member, or the end of the gzip stream.
                if input.isEmpty && !fetch() { return -1 }
                guard let first = input.first, first == 0x1f, input.count < 2 || input[1] == 0x8b else {
                    ended = true
                    break
                }
                igzip_reset(state)
                memberEnded = false
            }
            if input.isEmpty {
                guard fetch() else { return -1 }
                if input.isEmpty {
                    failure = "gzip: the data ends before the end of its stream"
                    return -1
                }
            }
            var consumed = 0
            var produced = 0
            let status = igzip_inflate(state, input.baseAddress, input.count, &consumed,
                                       buffer.baseAddress! + written, buffer.count - written, &produced)
            input = UnsafeRawBufferPointer(rebasing: input[consumed...])
            written += produced
            if status < 0 {
                failure = "gzip: \(Self.describe(status))"
                return -1
            }
            if status == 1 { memberEnded = true }
        }
        return written
    }

    /// The source's next bytes into `input`; false on a failure. At the source's end `input`
    /// stays empty.
    private func fetch() -> Bool {
        if sourceEnded { return true }
        var bytes: UnsafeRawPointer?
        let count = source.next(&bytes)
        if count < 0 {
            failure = source.failure ?? "unreadable"
            return false
        }
        if count == 0 { sourceEnded = true }
        input = UnsafeRawBufferPointer(start: bytes, count: count)
        return true
    }

    private static func describe(_ status: Int32) -> String {
        switch status {
        case -1: "invalid deflate block"
        case -2: "invalid deflate symbol"
        case -3: "invalid lookback distance"
        case -4: "not a gzip stream (invalid header)"
        case -5: "unsupported compression method"
        case -6: "the CRC-32 does not match the data"
        default: "inflate failed (\(status))"
        }
    }

    func close() { igzip_free(state) }
}

/// The blob as it is on disk, hashed as it is read.
final class StreamSource {
    let fd: Int32
    let hasher: Digest.Hasher
    let limit: Int64
    /// A download still writing the file (pull): its end is not the blob's end until the
    /// feed says so.
    let feed: BlobFeed?
    var buffer = [UInt8](repeating: 0, count: 1 << 17)
    /// Bytes of `buffer` read by `peek` and not handed out yet.
    private var peeked = 0
    var failure: String?
    private let stopped = Atomic<Bool>(false)

    /// Only a regular file: a FIFO or a device (/dev/zero) would never end. O_NONBLOCK so
    /// that opening a FIFO without a writer cannot hang before the check.
    init(path: String, limit: Int64, feed: BlobFeed? = nil) throws {
        hasher = try Digest.Hasher()
        self.limit = limit
        self.feed = feed
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        guard fd >= 0 else { throw RuntimeError.system("open \(path)") }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & FileType.mask == FileType.regular else {
            Glibc.close(fd)
            throw RuntimeError("\(path): is \(FileType.describe(info.st_mode & FileType.mask)), expected a regular file")
        }
    }

    /// Ends a wait for a download: the reader has stopped.
    func stop() { stopped.store(true, ordering: .relaxed) }

    /// The first `count` bytes (fewer when the blob is shorter), still to be handed out by
    /// `next`.
    func peek(_ count: Int) throws -> [UInt8] {
        while peeked < count {
            let more = buffer.withUnsafeMutableBytes { bytes in
                readChunk(into: UnsafeMutableRawBufferPointer(rebasing: bytes[peeked..<count]))
            }
            if more < 0 { throw RuntimeError(failure ?? "unreadable") }
            if more == 0 { break }
            peeked += more
        }
        return Array(buffer[0..<peeked])
    }

    func next(_ out: UnsafeMutablePointer<UnsafeRawPointer?>) -> Int {
        var count = peeked
        peeked = 0
        if count == 0 {
            count = buffer.withUnsafeMutableBytes { readChunk(into: $0) }
        }
        guard count >= 0 else { return -1 }
        guard hasher.count + Int64(count) <= limit else {
            failure = "more than \(LayerLimits.describe(limit)) compressed, the most netctl reads of a layer"
            return -1
        }
        buffer.withUnsafeBytes { bytes in
            hasher.update(UnsafeRawBufferPointer(rebasing: bytes[0..<count]))
            out.pointee = bytes.baseAddress
        }
        return count
    }

    /// Bytes of the file; behind a download, waits for its next bytes (its finish comes
    /// after its last write). 0 at the blob's end, -1 on a failure.
    private func readChunk(into bytes: UnsafeMutableRawBufferPointer) -> Int {
        var count = retrying { read(fd, bytes.baseAddress, bytes.count) }
        while count == 0, let feed {
            do {
                if try feed.atEnd() {
                    count = retrying { read(fd, bytes.baseAddress, bytes.count) }
                    break
                }
            } catch let error as RuntimeError {
                failure = error.description
                return -1
            } catch {
                return -1
            }
            if stopped.load(ordering: .relaxed) {
                failure = "stopped"
                return -1
            }
            usleep(2000)
            count = retrying { read(fd, bytes.baseAddress, bytes.count) }
        }
        return count
    }

    func drain() throws {
        var dummy: UnsafeRawPointer?
        while true {
            let count = next(&dummy)
            if count == 0 { break }
            if count < 0 { throw RuntimeError(failure ?? "unreadable") }
        }
    }

    func close() { Glibc.close(fd) }
}
