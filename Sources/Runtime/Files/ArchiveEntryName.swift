import CRuntimeShim
import Glibc

/// Where a tar entry's name lands: the name-resolution half of layer extraction, public for
/// tools and for fuzzing. It is the extractor's own way: the name cleaned lexically by
/// `RootDirectory.components(of:)`, the parent made and opened inside the root (openat2 with
/// RESOLVE_IN_ROOT, so `..` and symlinks, absolute ones too, stay below it), and the last
/// component made relative to that parent.
public enum ArchiveEntryName {
    /// The cleaned components of an entry name: none empty, `.`, `..` or holding a `/`.
    public static func components(of name: String) -> [String] {
        RootDirectory.components(of: name)
    }

    /// Places an entry named `name` below the directory `root` as the extractor does: its
    /// parent directories made, then a symlink to `symlinkTarget` (which is not resolved
    /// here, as tar does not) or an empty regular file, replacing what was there unless it
    /// is a directory. A name that cleans to the root itself places nothing.
    public static func place(_ name: String, symlinkTarget: String? = nil, inRoot root: String) throws {
        var parts = components(of: name)
        guard let last = parts.popLast() else { return }
        let directory = try RootDirectory(path: root)
        let parent = try directory.directory(parts[...])
        defer { close(parent) }
        var info = stat()
        if fstatat(parent, last, &info, AT_SYMLINK_NOFOLLOW) == 0 {
            guard info.st_mode & 0o170000 != 0o040000 else { return }
            guard unlinkat(parent, last, 0) == 0 else { throw RuntimeError.system("replace \(name)") }
        }
        if let symlinkTarget {
            guard symlinkat(symlinkTarget, parent, last) == 0 else { throw RuntimeError.system("symlink \(name)") }
        } else {
            let fd = openat(parent, last, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw RuntimeError.system("create \(name)") }
            close(fd)
        }
    }
}
