import Glibc

/// The lab directory's files, read and written with plain system calls.
enum LabFiles {
    /// The whole of a small file, refused past `limit` bytes.
    static func read(_ path: String, limit: Int) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw LabError("\(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = Glibc.read(fd, &chunk, chunk.count)
            if count < 0 { if errno == EINTR { continue }; throw LabError("\(path): \(String(cString: strerror(errno)))") }
            if count == 0 { break }
            bytes += chunk[0..<count]
            guard bytes.count <= limit else { throw LabError("\(path): larger than \(limit) bytes (a topology file is small)") }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Writes a file whole (a new file beside it, renamed over it).
    static func write(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644) throws {
        let temporary = path + ".new"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw LabError("\(temporary): \(String(cString: strerror(errno)))") }
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
        guard written == bytes.count, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw LabError("\(path): \(String(cString: strerror(errno)))")
        }
    }

    /// `mkdir -p`.
    static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, mode) != 0 && errno != EEXIST { throw LabError("mkdir \(current): \(String(cString: strerror(errno)))") }
        }
    }
}

/// A lab name's lock, `/run/netctl-lab/.NAME.lock`, held by `lab up` and `lab down`
/// (namespaces are machine-wide, whatever --dir a lab keeps its state in). `down` removes
/// the file as it finishes; a waiter that then holds the lock of a removed file opens the
/// path again, so two never hold it at once.
struct LabLock {
    static let directory = "/run/netctl-lab"
    private let fd: Int32
    private let path: String

    init(name: String) throws {
        try LabFiles.makeDirectories(Self.directory, mode: 0o700)
        path = "\(Self.directory)/.\(name).lock"
        while true {
            let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw LabError("\(path): \(String(cString: strerror(errno)))") }
            while flock(fd, LOCK_EX) != 0 && errno == EINTR {}
            var held = stat(), current = stat()
            if fstat(fd, &held) == 0, stat(path, &current) == 0, held.st_ino == current.st_ino, held.st_dev == current.st_dev {
                self.fd = fd
                return
            }
            close(fd)
        }
    }

    func release() { close(fd) }

    /// The lab is gone: its lock file goes too.
    func remove() {
        unlink(path)
        close(fd)
    }
}
