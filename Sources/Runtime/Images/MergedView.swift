import CRuntimeShim
import Glibc

/// The view a layer is applied onto: the layer being written over its parents' unpacked
/// directories, merged as overlayfs will merge them under a container (a directory merges
/// with the same directory below it unless it is opaque; a whiteout or a non-directory
/// hides everything below). containerd's differ gets this view by mounting the parents'
/// snapshot and unpacking onto it; here the layer keeps a directory of its own and asks the
/// view instead, so that:
/// - an implicit parent (`tmp/note` without `tmp/`) takes the mode, owner, times and
///   `user.` xattrs of the directory below it, as an overlayfs copy-up would;
/// - a whiteout is written only where it hides something below;
/// - an entry's parent path resolves through the symlinks of every layer, `..` and absolute
///   targets staying inside the root as RESOLVE_IN_ROOT keeps them.
/// With no parents (a base layer) the layer's own directory is the whole view, and paths
/// are resolved by the kernel (openat2 RESOLVE_IN_ROOT) as before.
final class MergedView {
    /// The layer being written first, then its parents, topmost first.
    let layers: [RootDirectory]

    var top: RootDirectory { layers[0] }
    var hasParents: Bool { layers.count > 1 }

    init(top: RootDirectory, parents: [RootDirectory]) {
        layers = [top] + parents
    }

    /// A directory of the view: the layers that contribute to it (indexes into `layers`),
    /// each with a descriptor of its directory there.
    final class Directory {
        let members: [(layer: Int, fd: Int32)]

        init(_ members: [(layer: Int, fd: Int32)]) { self.members = members }
        deinit { for member in members { close(member.fd) } }

        /// The layer being written has it.
        var inTop: Bool { members.first?.layer == 0 }
        var topDescriptor: Int32? { inTop ? members[0].fd : nil }

        /// The group a file made in it gets when the directory (in the layer being
        /// written) is set-group-ID; nil when it is not.
        lazy var inheritedGroup: gid_t? = {
            var info = stat()
            guard let fd = topDescriptor, fstat(fd, &info) == 0 else { return gid_t.max }  // unknown: chown anyway
            return info.st_mode & 0o2000 != 0 ? info.st_gid : nil
        }()
    }

    /// A directory of the layer being written, held open by the view's `Directory` (the
    /// caller does not close `fd`; it stays open while the value lives).
    struct HeldDirectory {
        let fd: Int32
        private let directory: Directory
        var inheritedGroup: gid_t? { directory.inheritedGroup }

        init(_ directory: Directory) {
            self.directory = directory
            fd = directory.topDescriptor!
        }
    }

    /// A path of the view with no symlinks in it, and the view's directory at each level
    /// (`levels[0]` the root; a level no layer has is a Directory without members).
    struct Path {
        var names: [String] = []
        var levels: [Directory]
        /// Every path of the view looked up on the way (symlinks' places too): what a
        /// change to the layer being written must not touch for the resolution to hold.
        var visited: [[String]] = []
        /// The first `direct` names are the components as asked, met before any symlink:
        /// their levels serve the resolution of any path that starts with them.
        var direct = 0
    }

    /// The last parent path resolved, by the entry's own components: a layer's entries come
    /// directory by directory, and the next entry's parent is most often the same. Dropped
    /// when an entry changes a place its resolution looked at.
    private var last: (components: [String], path: Path)?

    /// Without parents: the directory last handed out, by its components (the kernel
    /// resolved them), kept while entries only add names to it.
    private var lastTop: (components: [String], directory: Directory)?

    private enum Node { case directory(Directory), symlink(String), other, absent }

    /// The directory `components` names in the layer being written, made where it is
    /// missing: as the parents have it, else 0755 and root-owned.
    func directory(_ components: [String]) throws -> HeldDirectory {
        guard hasParents else {
            if let lastTop, lastTop.components == components { return HeldDirectory(lastTop.directory) }
            let directory = Directory([(0, try top.directory(components[...]))])
            lastTop = (components, directory)
            return HeldDirectory(directory)
        }
        return HeldDirectory(try materialized(components).levels.last!)
    }

    /// Call after `name` was made in the directory `components` named where nothing had
    /// that name: no resolution went through a name that did not exist, so all still hold.
    func added(_ name: String, in components: [String]) {
        if hasParents { changed(name, in: components) }
    }

    /// Call after writing `name` in the directory `components` named: a resolution that
    /// looked at it, or below it, no longer holds.
    func changed(_ name: String, in components: [String]) {
        lastTop = nil
        guard hasParents, let last, last.components == components else {
            self.last = nil
            return
        }
        let place = last.path.names + [name]
        if last.path.visited.contains(where: { $0.starts(with: place) }) { self.last = nil }
    }

    /// `.wh..wh..opq` in `components`: its directory in the layer being written is opaque.
    func makeOpaque(_ components: [String]) throws {
        let parent = try directory(components)
        let directory = openat(parent.fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directory >= 0 else { throw RuntimeError.system("opaque directory") }
        defer { close(directory) }
        guard fsetxattr(directory, "trusted.overlay.opaque", "y", 1, 0) == 0 else {
            throw RuntimeError.system("set trusted.overlay.opaque")
        }
        last = nil
    }

    /// `components` resolved (the last resolution again when nothing changed since) and
    /// made in the layer being written.
    private func materialized(_ components: [String]) throws -> Path {
        var path = try resolved(components)
        if !path.levels.last!.inTop {
            try materialize(&path)
            last = (components, path)
        }
        return path
    }

    private func resolved(_ components: [String]) throws -> Path {
        if let last, last.components == components { return last.path }
        // Entries come depth first: the next one's directory most often shares a start with
        // the last one's, resolved and still holding (else `changed` dropped it).
        var start: Path?
        if let last {
            var shared = 0
            while shared < min(last.path.direct, components.count), last.components[shared] == components[shared] { shared += 1 }
            start = Path(names: Array(components[..<shared]), levels: Array(last.path.levels[...shared]),
                         visited: Array(last.path.visited[..<shared]), direct: shared)
        }
        last = nil
        let path = try resolve(components, from: start)
        last = (components, path)
        return path
    }

    /// `.wh.NAME` in `components`: NAME goes from the layer being written, and a whiteout
    /// takes its place only if a parent has NAME to hide. overlayfs merges only directories
    /// that more than one layer has; in any other a whiteout would be listed as an entry.
    func whiteout(_ name: String, in components: [String]) throws {
        lastTop = nil
        if !hasParents {
            let parent = top.open(components[...], flags: SHIM_O_PATH | O_DIRECTORY)
            guard parent >= 0 else { return }  // nothing here to remove
            defer { close(parent) }
            try removeEntry(parent, name)
            return
        }
        let found = try resolved(components)
        defer { changed(name, in: components) }
        if let parent = found.levels.last!.topDescriptor { try removeEntry(parent, name) }
        if case .absent = child(name, of: found.levels.last!, parentsOnly: true) { return }
        let path = try materialized(components)
        guard mknodat(path.levels.last!.topDescriptor!, name, FileType.character, 0) == 0 else {
            throw RuntimeError.system("whiteout")
        }
    }

    /// The entry `components` names in the layer being written, its parent path resolved in
    /// the view (a hard link's target); -1 with errno when the layer does not have it.
    func openExisting(_ components: [String], flags: Int32) throws -> Int32 {
        guard hasParents, let name = components.last else { return top.open(components[...], flags: flags) }
        let path = try resolved(Array(components.dropLast()))
        return top.open((path.names + [name])[...], flags: flags)
    }

    // MARK: Resolving

    /// `components` resolved in the view: each symlink followed in whichever layer provides
    /// it, an absolute target from the view's root, `..` never above it.
    func resolve(_ components: [String], from start: Path? = nil) throws -> Path {
        var path = try start ?? Path(levels: [root()])
        var pending = components[path.names.count...]
        var links = 0
        while let name = pending.popFirst() {
            if name.isEmpty || name == "." { continue }
            if name == ".." {
                if !path.names.isEmpty {
                    path.names.removeLast()
                    path.levels.removeLast()
                    path.direct = min(path.direct, path.names.count)
                }
                continue
            }
            path.visited.append(path.names + [name])
            switch child(name, of: path.levels.last!) {
            case .directory(let directory):
                if links == 0 { path.direct += 1 }
                path.names.append(name)
                path.levels.append(directory)
            case .absent:
                if links == 0 { path.direct += 1 }
                path.names.append(name)
                path.levels.append(Directory([]))
            case .symlink(let target):
                links += 1
                guard links <= 40 else { throw RuntimeError.system(display(path.names + [name]), ELOOP) }
                if target.hasPrefix("/") {
                    path = Path(levels: [try root()], visited: path.visited, direct: 0)
                }
                pending = (target.split(separator: "/").map(String.init) + pending)[...]
            case .other:
                throw RuntimeError.system(display(path.names + [name]), ENOTDIR)
            }
        }
        return path
    }

    private func root() throws -> Directory {
        var members: [(layer: Int, fd: Int32)] = []
        for (index, layer) in layers.enumerated() {
            let fd = openat(layer.fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            guard fd >= 0 else {
                let code = errno
                for member in members { close(member.fd) }
                throw RuntimeError.system("open \(layer.path)", code)
            }
            members.append((index, fd))
        }
        return Directory(members)
    }

    /// `name` in `directory` as overlayfs would find it: the topmost layer that has it
    /// decides, and a directory merges with the directories below it until one is opaque or
    /// something else (a whiteout, a file) stops the merge.
    private func child(_ name: String, of directory: Directory, parentsOnly: Bool = false) -> Node {
        var members: [(layer: Int, fd: Int32)] = []
        for (layer, fd) in directory.members where !(parentsOnly && layer == 0) {
            var info = stat()
            guard fstatat(fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
            let type = info.st_mode & FileType.mask
            if type == FileType.directory {
                let child = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                guard child >= 0 else { break }
                members.append((layer, child))
                if isOpaque(child) { break }
                continue
            }
            if !members.isEmpty || isWhiteout(info) { break }
            if type == FileType.symlink {
                var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
                let count = readlinkat(fd, name, &buffer, buffer.count - 1)
                guard count >= 0 else { return .other }
                return .symlink(String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self))
            }
            return .other
        }
        return members.isEmpty ? .absent : .directory(Directory(members))
    }

    private func isOpaque(_ fd: Int32) -> Bool {
        var value: UInt8 = 0
        return fgetxattr(fd, "trusted.overlay.opaque", &value, 1) == 1 && value == UInt8(ascii: "y")
    }

    private func display(_ names: [String]) -> String { top.display(names[...]) }

    // MARK: Writing

    /// Makes each level of `path` the layer being written lacks, as the directory below it
    /// is: mode, owner, times and `user.` xattrs (never overlayfs's own attributes, which
    /// would make it opaque or redirect it). A whiteout of this layer in the way becomes an
    /// opaque directory, as overlayfs makes one where a directory is created over a whiteout.
    private func materialize(_ path: inout Path) throws {
        for index in path.names.indices where !path.levels[index + 1].inTop {
            let name = path.names[index]
            guard let parent = path.levels[index].topDescriptor else { throw RuntimeError("internal: parent not materialized") }
            var info = stat()
            var opaque = false
            if fstatat(parent, name, &info, AT_SYMLINK_NOFOLLOW) == 0 {
                guard isWhiteout(info) else { throw RuntimeError.system(display(Array(path.names[...index])), ENOTDIR) }
                guard unlinkat(parent, name, 0) == 0 else { throw RuntimeError.system("replace whiteout") }
                opaque = true
            }
            guard mkdirat(parent, name, 0o700) == 0 else { throw RuntimeError.system("mkdir \(display(Array(path.names[...index])))") }
            let fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard fd >= 0 else { throw RuntimeError.system("open \(display(Array(path.names[...index])))") }
            let below = path.levels[index + 1]
            // Taken over by the level, which closes it.
            path.levels[index + 1] = Directory([(0, fd)] + below.members.map { ($0.layer, dup($0.fd)) })
            if let lower = below.members.first {
                try copyMetadata(from: lower.fd, to: fd)
            } else {
                guard fchmod(fd, 0o755) == 0 else { throw RuntimeError.system("chmod") }
            }
            if opaque, fsetxattr(fd, "trusted.overlay.opaque", "y", 1, 0) != 0 {
                throw RuntimeError.system("set trusted.overlay.opaque")
            }
        }
    }

    private func copyMetadata(from source: Int32, to target: Int32) throws {
        var info = stat()
        guard fstat(source, &info) == 0 else { throw RuntimeError.system("stat") }
        guard fchown(target, info.st_uid, info.st_gid) == 0 else { throw RuntimeError.system("chown") }
        guard fchmod(target, info.st_mode & 0o7777) == 0 else { throw RuntimeError.system("chmod") }
        let size = flistxattr(source, nil, 0)
        if size > 0 {
            var names = [CChar](repeating: 0, count: size)
            let count = flistxattr(source, &names, size)
            for raw in names[0..<max(count, 0)].split(separator: 0) {
                let key = String(decoding: raw.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                guard key.hasPrefix("user.") else { continue }
                var value = [UInt8](repeating: 0, count: 65536)
                let length = fgetxattr(source, key, &value, value.count)
                guard length >= 0, fsetxattr(target, key, value, length, 0) == 0 else { throw RuntimeError.system("copy xattr \(key)") }
            }
        }
        let times = [info.st_atim, info.st_mtim]
        guard futimens(target, times) == 0 else { throw RuntimeError.system("set times") }
    }
}

/// overlayfs's whiteout: a character device 0:0.
func isWhiteout(_ info: stat) -> Bool {
    info.st_mode & FileType.mask == FileType.character && info.st_rdev == 0
}

/// Removes `name` below `parent` (a whole tree if it is a directory), if it is there.
func removeEntry(_ parent: Int32, _ name: String) throws {
    var info = stat()
    guard fstatat(parent, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { return }
    if info.st_mode & FileType.mask == FileType.directory {
        removeTree(at: parent, name)
    } else if unlinkat(parent, name, 0) != 0 {
        throw RuntimeError.system("replace")
    }
}
