import Glibc

/// How much netctl reads of a file it is handed, by kind: far more than any real one
/// needs, and a clear error before a hostile or mistaken one (/dev/zero, a 10 GB file)
/// fills memory.
public struct ReadLimit: Sendable {
    public var bytes: Int
    /// What such a file is, for the error: "a JSON document".
    public var kind: String

    public init(bytes: Int, kind: String) {
        self.bytes = bytes
        self.kind = kind
    }

    /// Image indexes, manifests and configs, OCI runtime specs, seccomp profiles.
    public static let document = ReadLimit(bytes: 4 << 20, kind: "a JSON document")
    /// Small text files from an image or the host: /etc/passwd, resolv.conf, /proc files.
    public static let text = ReadLimit(bytes: 1 << 20, kind: "a text file")
    /// A compiled seccomp program kept in the state root.
    public static let filter = ReadLimit(bytes: 1 << 20, kind: "a compiled seccomp filter")

    var description: String {
        bytes >= 1 << 20 ? "\(bytes >> 20) MiB" : bytes >= 1 << 10 ? "\(bytes >> 10) KiB" : "\(bytes) bytes"
    }
}

/// Everything left to read from a descriptor, up to `limit`.
func readAll(_ fd: Int32, name: String, limit: ReadLimit = .document) throws -> [UInt8] {
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = retrying { read(fd, &chunk, chunk.count) }
        guard count >= 0 else { throw RuntimeError.system(name) }
        if count == 0 { return bytes }
        guard bytes.count + count <= limit.bytes else {
            throw RuntimeError("\(name): larger than \(limit.description), the most netctl reads of \(limit.kind)")
        }
        bytes += chunk[0..<count]
    }
}

/// A whole regular file, up to `limit`: a FIFO, a device or a directory is refused before
/// anything is read (opening with O_NONBLOCK, so a FIFO without a writer cannot block).
public func readFile(_ path: String, name: String, limit: ReadLimit = .document) throws -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
    guard fd >= 0 else {
        throw errno == ENOENT ? RuntimeError("\(name) is missing") : RuntimeError.system(name)
    }
    defer { close(fd) }
    try requireRegularFile(fd, name: name, expected: limit.kind)
    return try readAll(fd, name: name, limit: limit)
}

/// Refuses what is not a regular file, naming what it is instead.
func requireRegularFile(_ fd: Int32, name: String, expected: String) throws {
    var info = stat()
    guard fstat(fd, &info) == 0 else { throw RuntimeError.system(name) }
    let type = info.st_mode & FileType.mask
    guard type != FileType.regular else { return }
    throw RuntimeError("\(name): is \(FileType.describe(type)), expected \(expected) in a regular file")
}

extension FileType {
    /// "a directory", "a character device"…, for errors.
    static func describe(_ type: mode_t) -> String {
        switch type {
        case directory: "a directory"
        case regular: "a regular file"
        case symlink: "a symbolic link"
        case character: "a character device"
        case block: "a block device"
        case fifo: "a FIFO"
        default: "a socket"
        }
    }
}
