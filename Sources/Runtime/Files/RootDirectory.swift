import CRuntimeShim
import Glibc

/// A directory that every path is resolved inside, as if it were `/`: `..` stops at it and
/// symlinks, absolute ones too, land below it. The kernel does the resolving (openat2 with
/// RESOLVE_IN_ROOT), so a symlink planted by an earlier entry or layer, or a chain of them,
/// cannot lead outside.
final class RootDirectory {
    let path: String
    let fd: Int32

    init(path: String) throws {
        self.path = path
        fd = Glibc.open(path, SHIM_O_PATH | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw RuntimeError.system("open \(path)") }
    }

    deinit { close(fd) }

    /// The path's components after lexical cleaning, as `filepath.Clean("/" + path)`:
    /// no empty or `.` parts, and `..` never climbs above the root.
    ///
    /// Split on the byte `/`, as the kernel splits, never on Swift's Characters: a `/`
    /// followed by a combining mark (`../\u{35E}x`) is one Character that is not `/`, so
    /// a Character split kept `../\u{35E}x` as one component, which openat() then resolved
    /// one level above the root (found by fuzzing: Fuzz/Sources/FuzzTarNames).
    static func components(of path: String) -> [String] {
        var parts: [String] = []
        for part in path.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true) {
            if part.elementsEqual(".".utf8) { continue }
            if part.elementsEqual("..".utf8) {
                _ = parts.popLast()
                continue
            }
            parts.append(String(decoding: part, as: UTF8.self))
        }
        return parts
    }

    /// openat2 inside the root; -1 with errno on failure.
    func open(_ components: ArraySlice<String>, flags: Int32, mode: mode_t = 0) -> Int32 {
        let relative = components.isEmpty ? "." : components.joined(separator: "/")
        let resolve = UInt64(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
        return retrying { shim_openat2(fd, relative, flags | O_CLOEXEC, UInt32(mode), resolve) }
    }

    /// An SHIM_O_PATH descriptor of the directory `components` names, made (0755, root-owned)
    /// where it is missing.
    func directory(_ components: ArraySlice<String>, create: Bool = true) throws -> Int32 {
        let flags = SHIM_O_PATH | O_DIRECTORY
        let found = open(components, flags: flags)
        if found >= 0 || errno != ENOENT || !create {
            guard found >= 0 else { throw RuntimeError.system("\(display(components))") }
            return found
        }
        // Walk down, making each missing level.
        var current = open([], flags: flags)
        for index in components.indices {
            let next = open(components[...index], flags: flags)
            if next >= 0 {
                close(current)
                current = next
                continue
            }
            guard errno == ENOENT, mkdirat(current, components[index], 0o755) == 0 || errno == EEXIST else {
                let code = errno
                close(current)
                throw RuntimeError.system("mkdir \(display(components[...index]))", code)
            }
            let made = open(components[...index], flags: flags)
            let code = errno
            close(current)
            guard made >= 0 else { throw RuntimeError.system("mkdir \(display(components[...index]))", code) }
            current = made
        }
        return current
    }

    func display(_ components: ArraySlice<String>) -> String {
        "\(path)/\(components.joined(separator: "/"))"
    }
}

/// Removes a directory tree through descriptors, never following a symlink.
func removeTree(at parent: Int32, _ name: String) {
    var info = stat()
    guard fstatat(parent, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { return }
    if info.st_mode & FileType.mask == FileType.directory {
        let fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        if fd >= 0, let dir = fdopendir(fd) {
            var names: [String] = []
            while let entry = readdir(dir) {
                let child = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
                if child != "." && child != ".." { names.append(child) }
            }
            for child in names { removeTree(at: dirfd(dir), child) }
            closedir(dir)
        }
        unlinkat(parent, name, AT_REMOVEDIR)
    } else {
        unlinkat(parent, name, 0)
    }
}

/// `rm -rf PATH`, for folders netctl made.
func removeTree(_ path: String) {
    guard let slash = path.lastIndex(of: "/") else { return }
    let parentPath = slash == path.startIndex ? "/" : String(path[..<slash])
    let parent = Glibc.open(parentPath, SHIM_O_PATH | O_DIRECTORY | O_CLOEXEC)
    guard parent >= 0 else { return }
    removeTree(at: parent, String(path[path.index(after: slash)...]))
    close(parent)
}
