import FoundationEssentials
import Glibc
import Netlink

/// The embedded store: one JSON file per key under the state root (`--root`,
/// `NETCTL_ROOT`, /var/lib/netctl), written to a temporary file and renamed into place,
/// and a lock file that flock(2) serializes commands on. A command that dies loses its
/// lock with its process, so a kill never leaves the root locked.
public struct LocalStore: Store {
    public let root: String

    public init(root: String) throws {
        self.root = root
        try Self.makeDirectories(root)
        // A root that is a file, or that cannot be read and written, fails every command
        // alike, before any reads as empty.
        var info = stat()
        guard stat(root, &info) == 0 else { throw CNMError("state root \(root): \(String(cString: strerror(errno)))") }
        guard info.st_mode & S_IFMT == S_IFDIR else { throw CNMError("state root \(root): not a directory (give --root DIR or NETCTL_ROOT)") }
        guard access(root, R_OK | W_OK | X_OK) == 0 else {
            throw CNMError("state root \(root): \(String(cString: strerror(errno))) (expected a directory netctl can read and write)")
        }
    }

    /// The most a record may hold: far above any real one, a bound on a damaged root.
    static let recordLimit = 64 << 20

    private func path(_ key: String) -> String { "\(root)/\(key).json" }

    public func read(_ key: String) throws -> [UInt8]? {
        let fd = open(path(key), O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw CNMError("cannot read \(path(key)): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let count = Glibc.read(fd, &chunk, chunk.count)
            if count < 0 { throw CNMError("cannot read \(path(key)): \(String(cString: strerror(errno)))") }
            if count == 0 { return bytes }
            guard bytes.count + count <= Self.recordLimit else {
                throw CNMError("cannot read \(path(key)): larger than \(Self.recordLimit >> 20) MiB, which no record is")
            }
            bytes += chunk[0..<count]
        }
    }

    public func write(_ key: String, _ value: [UInt8]) throws {
        let target = path(key)
        try Self.makeDirectories(String(target[..<target.lastIndex(of: "/")!]))
        let temporary = "\(target).tmp\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw CNMError("cannot write \(temporary): \(String(cString: strerror(errno)))") }
        let written = value.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
        guard written == value.count, rename(temporary, target) == 0 else {
            unlink(temporary)
            throw CNMError("cannot write \(target): \(String(cString: strerror(errno)))")
        }
    }

    public func delete(_ key: String) throws {
        if unlink(path(key)) != 0 && errno != ENOENT {
            throw CNMError("cannot delete \(path(key)): \(String(cString: strerror(errno)))")
        }
        // Drop directories the key leaves empty (an endpoint folder of a removed network),
        // with what killed writers left in them.
        var directory = path(key)
        while let slash = directory.lastIndex(of: "/"), directory.count > root.count + 1 {
            directory = String(directory[..<slash])
            if directory.count <= root.count || !removeIfEmpty(directory) { break }
        }
    }

    /// rmdir; a folder that holds only stale temporaries is emptied of them first.
    private func removeIfEmpty(_ directory: String) -> Bool {
        if rmdir(directory) == 0 { return true }
        guard errno == ENOTEMPTY || errno == EEXIST else { return false }
        var removed: [String] = []
        sweep(directory, recursing: false, removed: &removed)
        return !removed.isEmpty && rmdir(directory) == 0
    }

    public func sweep(under prefix: String) throws -> [String] {
        var removed: [String] = []
        let start = prefix.isEmpty ? root : "\(root)/\(prefix)"
        sweep(start, recursing: true, removed: &removed)
        if !prefix.isEmpty { _ = rmdir(start) }
        return removed
    }

    /// Removes stale temporaries in `directory` (and below it, and the folders below it left
    /// empty), but never under storage/, which holds no records.
    private func sweep(_ directory: String, recursing: Bool, removed: inout [String]) {
        var folders: [String] = []
        for entry in Directory.entries(in: directory) ?? [] {
            let full = "\(directory)/\(entry.name)"
            if entry.isDirectory {
                if !(directory == root && entry.name == "storage") { folders.append(full) }
            } else if isStaleTemporary(full, name: entry.name), unlink(full) == 0 {
                removed.append(full)
            }
        }
        guard recursing else { return }
        for folder in folders {
            sweep(folder, recursing: true, removed: &removed)
            // Only folders of records keyed below another folder (endpoints/NETWORK).
            if folder.dropFirst(root.count + 1).contains("/") { _ = rmdir(folder) }
        }
    }

    /// `KEY.json.tmpPID` (see `write`) whose writer is gone: no process has that pid, or the
    /// one that has it started after the file was last written.
    private func isStaleTemporary(_ path: String, name: String) -> Bool {
        let digits = String(name.reversed().prefix { $0.isASCII && $0.isNumber }.reversed())
        guard name.dropLast(digits.count).hasSuffix(".json.tmp"),
              let pid = Int32(digits), pid > 0, pid != getpid() else { return false }
        guard let started = ProcessStamp.startedAt(pid) else { return true }
        var info = stat()
        guard stat(path, &info) == 0 else { return false }
        // Boot time is in whole seconds: allow for it.
        return Double(info.st_mtim.tv_sec) + 2 < started
    }

    public func keys(under prefix: String) throws -> [String] {
        var keys: [String] = []
        try collect("\(root)/\(prefix)", key: prefix, into: &keys)
        return keys.sorted()
    }

    private func collect(_ directory: String, key: String, into keys: inout [String]) throws {
        guard let entries = Directory.entries(in: directory) else {
            if errno == ENOENT { return }
            throw CNMError("cannot list \(directory): \(String(cString: strerror(errno)))")
        }
        for entry in entries where !entry.name.hasPrefix(".") {
            if entry.isDirectory {
                try collect("\(directory)/\(entry.name)", key: "\(key)/\(entry.name)", into: &keys)
            } else if entry.name.hasSuffix(".json") {
                keys.append("\(key)/\(entry.name.dropLast(5))")
            }
        }
    }

    public func locked<T>(_ body: () throws -> T) throws -> T {
        let fd = open("\(root)/lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw CNMError("cannot open \(root)/lock: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else { throw CNMError("cannot lock \(root)/lock: \(String(cString: strerror(errno)))") }
        }
        return try body()
    }

    static func makeDirectories(_ path: String) throws {
        if mkdir(path, 0o700) == 0 || errno == EEXIST { return }
        guard errno == ENOENT, let slash = path.lastIndex(of: "/"), slash != path.startIndex else {
            throw CNMError("cannot create state directory \(path): \(String(cString: strerror(errno)))")
        }
        try makeDirectories(String(path[..<slash]))
        guard mkdir(path, 0o700) == 0 || errno == EEXIST else {
            throw CNMError("cannot create state directory \(path): \(String(cString: strerror(errno)))")
        }
    }
}
