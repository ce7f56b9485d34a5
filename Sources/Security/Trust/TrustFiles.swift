import Glibc

/// How Security/Trust reads a file (bounded, never through a link) and writes one (a
/// private key, a trusted metadata file, a static repository's file): whole or not at all.
/// A temporary beside it, created exclusively and never through a link, so no one can have
/// it point elsewhere; written, synced, renamed over the old one, so a reader sees the old
/// file or the whole new one.
enum TrustFiles {
    /// `what` opens the error line (`key file `, ``).
    static func replace(_ path: String, with bytes: [UInt8], mode: mode_t, directoryMode: mode_t, what: String = "") throws(TrustError) {
        guard let slash = path.lastIndex(of: "/") else { throw .storage("\(what)\(path): expected a path with a directory") }
        try makeDirectories(String(path[..<slash]), mode: directoryMode)
        let temporary = String(path[...slash]) + ".\(path[path.index(after: slash)...]).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard fd >= 0 else { throw .storage("\(what)\(temporary): \(reason())") }
        let failure: String? = bytes.withUnsafeBytes { buffer in
            var written = 0
            while written < buffer.count {
                let count = write(fd, buffer.baseAddress! + written, buffer.count - written)
                if count < 0 {
                    if errno == EINTR { continue }
                    return reason()
                }
                written += count
            }
            return fsync(fd) == 0 ? nil : reason()
        }
        close(fd)
        if let failure {
            unlink(temporary)
            throw .storage("\(what)\(temporary): \(failure)")
        }
        guard rename(temporary, path) == 0 else {
            let failure = reason()
            unlink(temporary)
            throw .storage("\(what)\(path): \(failure)")
        }
    }

    /// A file's bytes, nil when it does not exist. Reading stops after `limit + 1` bytes:
    /// more than `limit` means the file is not what it should be, which the caller says.
    static func read(_ path: String, limit: Int, what: String = "") throws(TrustError) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw .storage("\(what)\(path): \(reason())")
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while bytes.count <= limit {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, min($0.count, limit + 1 - bytes.count)) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .storage("\(what)\(path): \(reason())")
            }
            if count == 0 { break }
            bytes += chunk[..<count]
        }
        return bytes
    }

    /// `mkdir -p -m MODE` (the mode for the directories it makes).
    static func makeDirectories(_ path: String, mode: mode_t) throws(TrustError) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, mode) != 0 && errno != EEXIST {
                throw .storage("mkdir \(prefix): \(reason())")
            }
        }
    }

    private static func reason() -> String { String(cString: strerror(errno)) }
}
