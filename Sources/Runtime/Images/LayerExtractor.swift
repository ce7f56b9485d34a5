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
        let creator = Creator.current()
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
                try Entry(tar: tar, entry: entry, view: view, policy: policy, creator: creator).write(skipped: &result.skipped)
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
///
/// A regular file costs openat, its writes, futimens and close (and fchown, fchmod or
/// ftruncate only when the entry asks for what creating it did not give): each name is
/// first created exclusively (O_EXCL, never following a symlink), and only when something
/// is already there is that removed and the creation tried again.
private struct Entry {
    let tar: OpaquePointer
    let entry: OpaquePointer
    let view: MergedView
    let policy: ExtractionPolicy
    let creator: Creator

    func write(skipped: inout [String]) throws {
        var parts = RootDirectory.components(of: String(cString: la_entry_pathname(entry)))
        guard let name = parts.popLast() else { return }  // the layer's root itself
        if name.hasPrefix(".wh.") {
            try whiteout(String(name.dropFirst(4)), parts: parts)
            return
        }
        let held = try view.directory(parts)
        let parent = held.fd
        // A name this entry made where there was none cannot be on the way to any
        // directory the view has resolved; anything else may be.
        var added = false
        defer {
            if added { view.added(name, in: parts) } else { view.changed(name, in: parts) }
        }

        if let target = la_entry_hardlink(entry) {
            added = try hardlink(to: String(cString: target), parent: parent, name: name)
            return
        }
        let type = la_entry_filetype(entry) & FileType.mask
        switch type {
        case FileType.directory:
            try directory(parent: parent, name: name)
        case FileType.regular:
            added = try file(parent: parent, name: name, in: held)
        case FileType.symlink:
            let target = String(cString: la_entry_symlink(entry))
            _ = try create(parent, name, "symlink") { symlinkat(target, parent, name) }
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

    /// True when `name` was new.
    private func hardlink(to target: String, parent: Int32, name: String) throws -> Bool {
        let source = try view.openExisting(RootDirectory.components(of: target), flags: SHIM_O_PATH | O_NOFOLLOW)
        guard source >= 0 else {
            throw RuntimeError.system("hard link to \"\(target)\": not in this layer")
        }
        defer { close(source) }
        return try create(parent, name, "hard link to \"\(target)\"") { linkat(source, "", parent, name, SHIM_AT_EMPTY_PATH) }.fresh
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

    /// True when `name` was new.
    private func file(parent: Int32, name: String, in directory: MergedView.HeldDirectory) throws -> Bool {
        // Made at its final mode when the umask leaves that whole: no fchmod after.
        let mode = creator.keepsWhole(permissions) ? permissions : 0o600
        let (fd, fresh) = try create(parent, name, "create") {
            openat(parent, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, mode)
        }
        defer { close(fd) }
        var block: UnsafeRawPointer?
        var size = 0
        var offset: la_int64_t = 0
        var end: la_int64_t = 0
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
            end = max(end, offset + la_int64_t(size))
        }
        // A sparse file may end in a hole.
        if la_entry_size_is_set(entry) != 0, la_entry_size(entry) > end { ftruncate(fd, off_t(la_entry_size(entry))) }
        // Owned as made unless the entry names another owner, or the directory is
        // set-group-ID (the file took its group).
        let uid = uid_t(la_entry_uid(entry)), gid = gid_t(la_entry_gid(entry))
        if uid != creator.uid || gid != creator.gid || directory.inheritedGroup != nil {
            guard fchown(fd, uid, gid) == 0 else { throw RuntimeError.system("chown") }
        }
        // After chown, which clears set-ID bits (a mode made whole at creation has none).
        if mode != permissions {
            guard fchmod(fd, permissions) == 0 else { throw RuntimeError.system("chmod") }
        }
        guard futimens(fd, timestamps) == 0 else { throw RuntimeError.system("set times") }
        try extendedAttributes(fd)
        return fresh
    }

    /// Makes `name` with `make` (0 or a descriptor, else -1 with errno); when something is
    /// there already, removes it and makes it again. The result, and whether `name` was new.
    private func create(_ parent: Int32, _ name: String, _ what: @autoclosure () -> String, _ make: () -> Int32) throws -> (result: Int32, fresh: Bool) {
        var result = make()
        if result >= 0 { return (result, true) }
        guard errno == EEXIST else { throw RuntimeError.system(what()) }
        try removeExisting(parent, name)
        result = make()
        guard result >= 0 else { throw RuntimeError.system(what()) }
        return (result, false)
    }

    private func node(parent: Int32, name: String, type: UInt32, device: dev_t) throws {
        _ = try create(parent, name, "mknod") { mknodat(parent, name, mode_t(type) | permissions, device) }
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

/// Who makes the files, and what the umask leaves of the mode a file is created with.
struct Creator {
    let uid = geteuid()
    let gid = getegid()
    /// nil when /proc does not say.
    let umask: mode_t?

    /// The umask read without changing it (umask(2) sets it for every thread of the
    /// process, downloads included).
    static func current() -> Creator {
        var umask: mode_t?
        if let file = fopen("/proc/self/status", "r") {
            defer { fclose(file) }
            var line = [CChar](repeating: 0, count: 256)
            while fgets(&line, Int32(line.count), file) != nil {
                let text = String(cString: line)
                if text.hasPrefix("Umask:") {
                    umask = mode_t(text.dropFirst(6).trimmingPrefix(while: { $0 == " " || $0 == "\t" }).prefix(while: { $0.isNumber }), radix: 8)
                    break
                }
            }
        }
        return Creator(umask: umask)
    }

    /// A file created with `mode` gets all of it: no set-ID or sticky bits (which chown
    /// would clear), nothing the umask takes.
    func keepsWhole(_ mode: mode_t) -> Bool {
        guard let umask else { return false }
        return mode & 0o7000 == 0 && mode & umask == 0
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
