import CArchive
import CRuntimeShim
import Glibc

/// What a layer may create besides files, directories and links.
public struct ExtractionPolicy: Sendable {
    public enum Devices: Sendable { case skip, create }
    public enum SetID: Sendable { case keep, strip }
    /// Device nodes in an image are a way into the host's hardware: skipped unless asked
    /// for. The container's /dev is made by the runtime.
    public var devices: Devices = .skip
    /// setuid and setgid bits, kept by default as Docker keeps them.
    public var setID: SetID = .keep

    public init(devices: Devices = .skip, setID: SetID = .keep) {
        self.devices = devices
        self.setID = setID
    }
}

/// How much of a layer archive netctl reads: far more than any real image has (Docker Hub
/// caps a layer at 10 GB), and a clear error before a hostile one (a gzip bomb, /dev/zero
/// behind a symlink, a tar of a million empty entries) fills the disk or runs forever.
struct LayerLimits: Sendable {
    /// Bytes of the blob as stored (compressed).
    var compressedBytes: Int64 = 64 << 30
    /// Bytes of the tar once decompressed.
    var uncompressedBytes: Int64 = 64 << 30
    var entries = 1_000_000

    static let standard = LayerLimits()
}

/// What reading a layer blob found: both digests (the blob's, and its uncompressed tar's,
/// the diff ID) so the caller can check them against the manifest and the config.
struct LayerExtraction {
    var digest: Digest
    var size: Int64
    var diffID: Digest
    var uncompressedSize: Int64 = 0
    var entries = 0
    var skipped: [String] = []
}

/// Unpacks one layer tar (gzip, zstd or uncompressed, see `InflatedTar`) into a
/// directory of its own, ready to be an overlayfs lower layer over its parents' directories
/// (`parents`, topmost first): the layer is applied onto their merged view (see
/// `MergedView`), and OCI whiteouts become overlay whiteouts (`.wh.NAME` a 0:0 character
/// device where a parent has NAME, `.wh..wh..opq` the trusted.overlay.opaque xattr). Every
/// path is resolved inside the root, so no entry of a hostile layer can write outside it.
enum LayerExtractor {
    static func extract(
        blob path: String, into directory: String, parents: [String] = [], policy: ExtractionPolicy, limits: LayerLimits = .standard,
        feed: BlobFeed? = nil
    ) throws -> LayerExtraction {
        try loadLibArchive()
        let source = try StreamSource(path: path, limit: limits.compressedBytes, feed: feed)
        defer { source.close() }
        let view = MergedView(top: try RootDirectory(path: directory), parents: try parents.map { try RootDirectory(path: $0) })
        let stream = try InflatedTar(source: source, limit: limits.uncompressedBytes)
        defer { stream.close() }

        let tar = la_read_new()!
        defer { la_read_free(tar) }
        la_read_support_format_tar(tar)
        let context = Unmanaged.passUnretained(stream).toOpaque()
        guard la_read_open(tar, context, nil, { _, context, buffer in
            Unmanaged<InflatedTar>.fromOpaque(context!).takeUnretainedValue().next(buffer!)
        }, nil) == ARCHIVE_OK else {
            throw RuntimeError("layer \(path): \(stream.failureReason ?? archiveError(tar))")
        }

        var result = LayerExtraction(digest: Digest(hex: ""), size: 0, diffID: Digest(hex: ""))
        var entry: OpaquePointer?
        while true {
            let status = la_read_next_header(tar, &entry)
            if status == ARCHIVE_EOF { break }
            guard status == ARCHIVE_OK || status == ARCHIVE_WARN, let entry else {
                throw RuntimeError("layer \(path): \(stream.failureReason ?? archiveError(tar))")
            }
            let name = String(cString: la_entry_pathname(entry))
            guard result.entries < limits.entries else {
                throw RuntimeError("layer \(path): more than \(limits.entries) entries, the most netctl unpacks of a layer")
            }
            do {
                try Entry(tar: tar, entry: entry, view: view, policy: policy).write(skipped: &result.skipped)
            } catch let error as RuntimeError {
                throw RuntimeError("layer \(path): entry \"\(name)\": \(stream.failureReason ?? error.description)")
            }
            result.entries += 1
        }
        // The digests cover every byte, also the tar's zero blocks after its last entry.
        try stream.finish()
        result.diffID = stream.hasher.finish()
        result.uncompressedSize = stream.hasher.count
        result.digest = source.hasher.finish()
        result.size = source.hasher.count
        return result
    }

    static func loadLibArchive() throws {
        try loadLibrary { la_load($0, $1) }
    }

    static func archiveError(_ archive: OpaquePointer) -> String {
        la_error_string(archive).map { String(cString: $0) } ?? "unreadable archive"
    }
}

/// One tar entry written below the root.
private struct Entry {
    let tar: OpaquePointer
    let entry: OpaquePointer
    let view: MergedView
    let policy: ExtractionPolicy

    func write(skipped: inout [String]) throws {
        var parts = RootDirectory.components(of: String(cString: la_entry_pathname(entry)))
        guard let name = parts.popLast() else { return }  // the layer's root itself
        if name.hasPrefix(".wh.") {
            try whiteout(String(name.dropFirst(4)), parts: parts)
            return
        }
        let parent = try view.directory(parts)
        defer {
            close(parent)
            view.changed(name, in: parts)
        }

        if let target = la_entry_hardlink(entry) {
            try hardlink(to: String(cString: target), parent: parent, name: name)
            return
        }
        let type = la_entry_filetype(entry) & FileType.mask
        switch type {
        case FileType.directory:
            try directory(parent: parent, name: name)
        case FileType.regular:
            try file(parent: parent, name: name)
        case FileType.symlink:
            try removeExisting(parent, name)
            let target = String(cString: la_entry_symlink(entry))
            guard symlinkat(target, parent, name) == 0 else { throw RuntimeError.system("symlink") }
            try owner(parent: parent, name: name)
            try times(parent: parent, name: name)
        case FileType.character, FileType.block:
            guard policy.devices == .create else {
                skipped.append(String(cString: la_entry_pathname(entry)))
                return
            }
            try node(parent: parent, name: name, type: type, device: la_entry_rdev(entry))
        case FileType.fifo:
            try node(parent: parent, name: name, type: type, device: 0)
        default:
            skipped.append(String(cString: la_entry_pathname(entry)))
        }
    }

    // `.wh..wh..opq` hides the lower layers' content of the directory it is in; `.wh.NAME`
    // hides NAME. Other `.wh..wh.` names are aufs bookkeeping, with no meaning here.
    private func whiteout(_ hidden: String, parts: [String]) throws {
        if hidden == ".wh..opq" {
            try view.makeOpaque(parts)
            return
        }
        if hidden.hasPrefix(".wh.") || hidden.isEmpty || hidden == "." || hidden == ".." { return }
        try view.whiteout(hidden, in: parts)
    }

    private func hardlink(to target: String, parent: Int32, name: String) throws {
        let source = try view.openExisting(RootDirectory.components(of: target), flags: SHIM_O_PATH | O_NOFOLLOW)
        guard source >= 0 else {
            throw RuntimeError.system("hard link to \"\(target)\": not in this layer")
        }
        defer { close(source) }
        try removeExisting(parent, name)
        guard linkat(source, "", parent, name, SHIM_AT_EMPTY_PATH) == 0 else {
            throw RuntimeError.system("hard link to \"\(target)\"")
        }
    }

    private func directory(parent: Int32, name: String) throws {
        var info = stat()
        let exists = fstatat(parent, name, &info, AT_SYMLINK_NOFOLLOW) == 0
        if exists && info.st_mode & FileType.mask == FileType.directory {
            // An earlier entry made it: take this entry's metadata.
        } else {
            try removeExisting(parent, name)
            guard mkdirat(parent, name, 0o700) == 0 else { throw RuntimeError.system("mkdir") }
        }
        let fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw RuntimeError.system("open directory") }
        defer { close(fd) }
        try metadata(fd)
        // Made where this layer whited the name out: nothing of the parents' shows through,
        // as overlayfs makes a directory created over a whiteout opaque.
        if exists && isWhiteout(info), fsetxattr(fd, "trusted.overlay.opaque", "y", 1, 0) != 0 {
            throw RuntimeError.system("set trusted.overlay.opaque")
        }
    }

    private func file(parent: Int32, name: String) throws {
        try removeExisting(parent, name)
        let fd = openat(parent, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw RuntimeError.system("create") }
        defer { close(fd) }
        var block: UnsafeRawPointer?
        var size = 0
        var offset: la_int64_t = 0
        while true {
            let status = la_read_data_block(tar, &block, &size, &offset)
            if status == ARCHIVE_EOF { break }
            guard status == ARCHIVE_OK || status == ARCHIVE_WARN else {
                throw RuntimeError(LayerExtractor.archiveError(tar))
            }
            var written = 0
            while written < size {
                let count = retrying { pwrite(fd, block! + written, size - written, off_t(offset) + off_t(written)) }
                guard count > 0 else { throw RuntimeError.system("write") }
                written += count
            }
        }
        // A sparse file may end in a hole.
        if la_entry_size_is_set(entry) != 0 { ftruncate(fd, off_t(la_entry_size(entry))) }
        try metadata(fd)
        try extendedAttributes(fd)
    }

    private func node(parent: Int32, name: String, type: UInt32, device: dev_t) throws {
        try removeExisting(parent, name)
        guard mknodat(parent, name, mode_t(type) | permissions, device) == 0 else { throw RuntimeError.system("mknod") }
        try owner(parent: parent, name: name)
        guard fchmodat(parent, name, permissions, 0) == 0 else { throw RuntimeError.system("chmod") }
        try times(parent: parent, name: name)
    }

    private var permissions: mode_t {
        var mode = mode_t(la_entry_perm(entry)) & 0o7777
        if policy.setID == .strip { mode &= ~0o6000 }
        return mode
    }

    /// chown before chmod: chown clears setuid bits.
    private func metadata(_ fd: Int32) throws {
        guard fchown(fd, uid_t(la_entry_uid(entry)), gid_t(la_entry_gid(entry))) == 0 else {
            throw RuntimeError.system("chown")
        }
        guard fchmod(fd, permissions) == 0 else { throw RuntimeError.system("chmod") }
        guard futimens(fd, timestamps) == 0 else { throw RuntimeError.system("set times") }
    }

    private func owner(parent: Int32, name: String) throws {
        guard fchownat(parent, name, uid_t(la_entry_uid(entry)), gid_t(la_entry_gid(entry)), AT_SYMLINK_NOFOLLOW) == 0 else {
            throw RuntimeError.system("chown")
        }
    }

    private func times(parent: Int32, name: String) throws {
        guard utimensat(parent, name, timestamps, AT_SYMLINK_NOFOLLOW) == 0 else { throw RuntimeError.system("set times") }
    }

    /// Access and modification time, both the entry's mtime.
    private var timestamps: [timespec] {
        let modified = timespec(tv_sec: time_t(la_entry_mtime(entry)), tv_nsec: Int(la_entry_mtime_nsec(entry)))
        return [modified, modified]
    }

    /// File capabilities (`security.capability`, set after chown, which clears them) and
    /// `user.` attributes. Overlay's own `trusted.overlay.` attributes are never taken from
    /// a layer: they would redirect lookups to other paths.
    private func extendedAttributes(_ fd: Int32) throws {
        guard la_entry_xattr_reset(entry) > 0 else { return }
        var name: UnsafePointer<CChar>?
        var value: UnsafeRawPointer?
        var size = 0
        while la_entry_xattr_next(entry, &name, &value, &size) == ARCHIVE_OK, let name {
            let key = String(cString: name)
            guard key == "security.capability" || key.hasPrefix("user.") else { continue }
            guard fsetxattr(fd, key, value, size, 0) == 0 else { throw RuntimeError.system("set xattr \(key)") }
        }
    }

    /// A later entry replaces an earlier one of the same name.
    private func removeExisting(_ parent: Int32, _ name: String) throws {
        try removeEntry(parent, name)
    }
}

/// st_mode file types (sys/stat.h's S_IF*, which two C modules both export here).
enum FileType {
    static let mask: mode_t = 0o170000
    static let directory: mode_t = 0o040000
    static let regular: mode_t = 0o100000
    static let symlink: mode_t = 0o120000
    static let character: mode_t = 0o020000
    static let block: mode_t = 0o060000
    static let fifo: mode_t = 0o010000
}

extension LayerLimits {
    static func describe(_ bytes: Int64) -> String {
        bytes >= 1 << 30 ? "\(bytes >> 30) GiB" : bytes >= 1 << 20 ? "\(bytes >> 20) MiB" : "\(bytes) bytes"
    }
}
