import Glibc

/// The files an inventory reads, and why.
enum CandidateKind: Equatable {
    case osRelease
    case dpkgStatus
    /// One file of `var/lib/dpkg/status.d/` (distroless: a package's stanza per file).
    case dpkgStatusPart
    case apkInstalled
    case rpmSQLite
    /// `var/lib/rpm/Packages` (Berkeley DB) or `Packages.db` (ndb): named as skipped.
    case rpmUnsupported
    /// `X.dist-info/METADATA`, `X.egg-info/PKG-INFO`, a `X.egg-info` file.
    case pythonMetadata
    /// `node_modules/NAME/package.json`, `node_modules/@SCOPE/NAME/package.json`.
    case npmPackage
    case npmLockfile
    /// A regular file with an execute bit: maybe a Go binary.
    case executable
}

/// The merged view of a root's layers, kept only as far as the inventory needs it: every
/// directory, and the candidate files with the layers that wrote them. Layers are applied
/// lowest first as overlayfs would stack them: a whiteout removes the name below, an opaque
/// directory drops what lower layers had in it, a non-directory replaces a directory.
/// A class: the walk of each layer changes the nodes in place.
final class RootTree {
    final class Node {
        /// Non-nil for a directory.
        var children: [String: Node]?
        var kind: CandidateKind?
        /// The layers (indexes, ascending) that wrote this file since it last appeared: its
        /// unbroken history, the top one being what the merged view shows.
        var layers: [Int] = []
        /// A symbolic link at a fixed path (etc/os-release → ../usr/lib/os-release).
        var linkTarget: String?

        init(directory: Bool) { children = directory ? [:] : nil }
    }

    struct Candidate {
        var path: String
        var kind: CandidateKind
        var layers: [Int]
    }

    let root = Node(directory: true)
    private(set) var skipped: [String] = []
    private var entries = 0
    private var stopped = false

    /// glibc's fgetxattr(2) wrapper, looked up at run time: Swift's Glibc module does not
    /// include <sys/xattr.h>, and Security has no C module of its own for one call.
    typealias GetXattr = @convention(c) (Int32, UnsafePointer<CChar>, UnsafeMutableRawPointer?, Int) -> Int
    static let fgetxattr: GetXattr? = {
        guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "fgetxattr") else { return nil }
        return unsafeBitCast(symbol, to: GetXattr.self)
    }()

    static let maximumDepth = 64
    static let maximumEntries = 1_000_000

    /// Adds one layer's directory over what is there. `layered` false: a merged root, where
    /// whiteouts and opaque markers mean nothing.
    func apply(layer index: Int, directory: String, layered: Bool) throws(ScanError) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw .storage("\(directory): \(String(cString: strerror(errno)))") }
        var walk = Walk(layer: index, hidesBelow: layered && index > 0, tree: self)
        walk.directory(fd: fd, node: root, path: [], insideNodeModules: false)
    }

    /// Candidates of the merged view (children in name order, so the inventory's order is
    /// stable), with fixed-path symbolic links resolved inside the root.
    func candidates() -> [Candidate] {
        var out: [Candidate] = []
        func visit(_ node: Node, _ path: String) {
            guard let children = node.children else { return }
            for name in children.keys.sorted() {
                let child = children[name]!
                let childPath = path.isEmpty ? name : path + "/" + name
                if child.children != nil {
                    visit(child, childPath)
                } else if let kind = child.kind {
                    if let target = child.linkTarget {
                        // A link to a file of the same kind that is not a candidate at its
                        // own path (a link between the two places of rpmdb.sqlite would
                        // otherwise count its packages twice).
                        if let resolved = resolve(link: childPath, target: target), resolved.node.kind == kind,
                           !Self.isFixedPath(kind, resolved.path) {
                            out.append(Candidate(path: resolved.path, kind: kind, layers: resolved.node.layers))
                        }
                    } else {
                        out.append(Candidate(path: childPath, kind: kind, layers: child.layers))
                    }
                }
            }
        }
        visit(root, "")
        return out
    }

    /// The link's target is itself at a path the walk reads (then it is a candidate there).
    private static func isFixedPath(_ kind: CandidateKind, _ path: String) -> Bool {
        let components = path.split(separator: "/").map(String.init)
        guard let name = components.last else { return false }
        return Walk.classify(name: name, path: Array(components.dropLast()), insideNodeModules: false) == kind
    }

    /// A link's target as the kernel would resolve it with the root as `/` (RESOLVE_IN_ROOT:
    /// `..` stops at the root, absolute targets start there), followed through links at
    /// fixed paths only; nil when it leads to no candidate file of the view.
    private func resolve(link path: String, target: String) -> (path: String, node: Node)? {
        var linkPath = path
        var target = target
        for _ in 0..<8 {
            var components = target.hasPrefix("/") ? [] : linkPath.split(separator: "/").dropLast().map(String.init)
            for part in target.split(separator: "/") {
                if part == "." { continue }
                if part == ".." { _ = components.popLast(); continue }
                components.append(String(part))
            }
            var node = root
            for name in components {
                guard let next = node.children?[name] else { return nil }
                node = next
            }
            let resolved = components.joined(separator: "/")
            guard node.children == nil, node.kind != nil else { return nil }
            guard let next = node.linkTarget else { return (resolved, node) }
            linkPath = resolved
            target = next
        }
        return nil
    }

    /// One layer's walk: directories are read whole, then each entry is applied, so an
    /// opaque directory is known before anything of it is added.
    private struct Walk {
        let layer: Int
        let hidesBelow: Bool
        let tree: RootTree

        mutating func directory(fd: Int32, node: Node, path: [String], insideNodeModules: Bool) {
            guard let stream = fdopendir(fd) else {
                close(fd)
                tree.skipped.append("\(path.joined(separator: "/")): \(String(cString: strerror(errno)))")
                return
            }
            defer { closedir(stream) }
            var names: [(String, UInt8)] = []
            while let entry = readdir(stream) {
                let (name, type) = withUnsafePointer(to: entry.pointee.d_name) {
                    $0.withMemoryRebound(to: CChar.self, capacity: 256) { (String(cString: $0), entry.pointee.d_type) }
                }
                if name == "." || name == ".." { continue }
                names.append((name, type))
            }
            for (name, type) in names {
                if tree.stopped { return }
                tree.entries += 1
                if tree.entries > RootTree.maximumEntries {
                    tree.stopped = true
                    tree.skipped.append("walk stopped after \(RootTree.maximumEntries) entries: the rest of the root was not inventoried")
                    return
                }
                if path.isEmpty && (name == "proc" || name == "sys" || name == "dev") { continue }
                entry(dirfd: fd, name: name, type: type, node: node, path: path, insideNodeModules: insideNodeModules)
            }
        }

        private mutating func entry(dirfd: Int32, name: String, type: UInt8, node: Node, path: [String], insideNodeModules: Bool) {
            var type = Int(type)
            var info = stat()
            var haveInfo = false
            if type == Int(DT_UNKNOWN) {
                guard fstatat(dirfd, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { return }
                haveInfo = true
                type = Self.directoryType(info.st_mode)
            }
            switch type {
            case Int(DT_DIR):
                guard path.count < RootTree.maximumDepth else {
                    tree.skipped.append("\((path + [name]).joined(separator: "/")): deeper than \(RootTree.maximumDepth) levels, not walked")
                    return
                }
                let fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                guard fd >= 0 else {
                    tree.skipped.append("\((path + [name]).joined(separator: "/")): \(String(cString: strerror(errno)))")
                    return
                }
                let child: Node
                if let existing = node.children?[name], existing.children != nil, !(hidesBelow && Self.isOpaque(fd)) {
                    child = existing
                } else {
                    child = Node(directory: true)
                    node.children?[name] = child
                }
                directory(fd: fd, node: child, path: path + [name], insideNodeModules: insideNodeModules || name == "node_modules")
            case Int(DT_REG):
                var kind = Self.classify(name: name, path: path, insideNodeModules: insideNodeModules)
                if kind == nil && !Self.isData(name) {
                    if !haveInfo { guard fstatat(dirfd, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { return } }
                    if info.st_mode & 0o111 != 0 && info.st_size >= 64 { kind = .executable }
                }
                place(name: name, kind: kind, linkTarget: nil, in: node)
            case Int(DT_LNK):
                // Links are not walked; only those at the fixed paths of package databases
                // and os-release are resolved, inside the root.
                var kind = Self.classify(name: name, path: path, insideNodeModules: insideNodeModules)
                var target: String?
                if let fixed = kind, Self.isFixedPath(fixed) {
                    var buffer = [CChar](repeating: 0, count: 4097)
                    let count = readlinkat(dirfd, name, &buffer, 4096)
                    if count > 0 { target = String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self) }
                }
                if target == nil { kind = nil }
                place(name: name, kind: kind, linkTarget: target, in: node)
            default:
                // Devices, sockets, fifos, and overlayfs' whiteouts (0:0 character devices):
                // each hides NAME of the layers below alike.
                place(name: name, kind: nil, linkTarget: nil, in: node)
            }
        }

        /// A non-directory at `name`: it replaces whatever lower layers had there. Files
        /// the inventory does not read are not kept, only their removing what was below.
        private func place(name: String, kind: CandidateKind?, linkTarget: String?, in node: Node) {
            guard let kind else {
                node.children?[name] = nil
                return
            }
            if let existing = node.children?[name], existing.children == nil, existing.kind == kind,
               existing.linkTarget == nil, linkTarget == nil {
                existing.layers.append(layer)
                return
            }
            let file = Node(directory: false)
            file.kind = kind
            file.layers = [layer]
            file.linkTarget = linkTarget
            node.children?[name] = file
        }

        /// Names no Go binary has (sources, text, images, compressed data): most files of
        /// a root, which then need no stat for their execute bits.
        static func isData(_ name: String) -> Bool {
            guard let dot = name.utf8.lastIndex(of: UInt8(ascii: ".")) else { return false }
            return dataExtensions.contains(Substring(name.utf8[name.utf8.index(after: dot)...]))
        }

        static let dataExtensions: Set<Substring> = [
            "py", "pyc", "pyi", "pth", "js", "mjs", "cjs", "ts", "map", "json", "md", "txt", "rst", "html", "css",
            "h", "hpp", "c", "cc", "go", "rs", "rb", "pl", "pm", "php", "java", "class", "jar", "gz", "xz", "bz2", "zst",
            "png", "svg", "jpg", "gif", "ico", "mo", "po", "xml", "yml", "yaml", "toml", "ini", "cfg", "conf",
            "pem", "crt", "cnf", "sh", "bash", "ps", "pod", "tmpl", "tcl", "el", "elc", "typed", "pc", "cmake", "a", "o",
        ]

        private static func isFixedPath(_ kind: CandidateKind) -> Bool {
            switch kind {
            case .osRelease, .dpkgStatus, .apkInstalled, .rpmSQLite: true
            default: false
            }
        }

        private static func directoryType(_ mode: mode_t) -> Int {
            switch mode & S_IFMT {
            case S_IFDIR: Int(DT_DIR)
            case S_IFREG: Int(DT_REG)
            case S_IFLNK: Int(DT_LNK)
            case S_IFCHR: Int(DT_CHR)
            default: Int(DT_UNKNOWN)
            }
        }

        private static func isOpaque(_ fd: Int32) -> Bool {
            guard let fgetxattr = RootTree.fgetxattr else { return false }
            var value: UInt8 = 0
            return fgetxattr(fd, "trusted.overlay.opaque", &value, 1) == 1 && value == UInt8(ascii: "y")
        }

        /// What a file is for the inventory, by its place alone.
        static func classify(name: String, path: [String], insideNodeModules: Bool) -> CandidateKind? {
            switch name {
            case "os-release":
                if path == ["etc"] || path == ["usr", "lib"] { return .osRelease }
            case "status":
                if path == ["var", "lib", "dpkg"] { return .dpkgStatus }
            case "installed":
                if path == ["lib", "apk", "db"] { return .apkInstalled }
            case "rpmdb.sqlite":
                if path == ["var", "lib", "rpm"] || path == ["usr", "lib", "sysimage", "rpm"] { return .rpmSQLite }
            case "Packages", "Packages.db":
                if path == ["var", "lib", "rpm"] || path == ["usr", "lib", "sysimage", "rpm"] { return .rpmUnsupported }
            case "METADATA":
                if path.last?.hasSuffix(".dist-info") == true { return .pythonMetadata }
            case "PKG-INFO":
                if path.last?.hasSuffix(".egg-info") == true { return .pythonMetadata }
            case "package.json":
                let count = path.count
                if count >= 2 && path[count - 2] == "node_modules" && !path[count - 1].hasPrefix("@") && !path[count - 1].hasPrefix(".") { return .npmPackage }
                if count >= 3 && path[count - 3] == "node_modules" && path[count - 2].hasPrefix("@") { return .npmPackage }
            case "package-lock.json":
                if !insideNodeModules { return .npmLockfile }
            default:
                break
            }
            if path.count == 4 && path[0] == "var" && path[1] == "lib" && path[2] == "dpkg" && path[3] == "status.d" {
                // distroless writes NAME and NAME.md5sums for each package.
                return name.hasSuffix(".md5sums") || name.hasPrefix(".") ? nil : .dpkgStatusPart
            }
            if name.hasSuffix(".egg-info") { return .pythonMetadata }
            return nil
        }
    }
}
