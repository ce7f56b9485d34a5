import Glibc

/// How the inventory opens files of a root: every component with O_NOFOLLOW from the
/// layer's directory, so a link swapped in after the walk (a running container changes its
/// rootfs as it likes) cannot lead outside; and every read bounded.
/// The directories of the last path stay open: candidates come in tree order, so the next
/// one most often shares them. A class: it owns those descriptors.
final class ScanFiles {
    private let directories: [String]
    private var layer = -1
    private var open: [(name: Substring, fd: Int32)] = []
    private var rootFD: Int32 = -1

    init(directories: [String]) { self.directories = directories }

    deinit { closeAll() }

    private func closeAll() {
        for entry in open { close(entry.fd) }
        open = []
        if rootFD >= 0 { close(rootFD) }
        rootFD = -1
    }

    /// An open descriptor of `path` in `layer`'s directory (the caller closes it), or the
    /// reason it cannot be opened.
    func openFile(_ path: String, layer: Int) -> Result<Int32, ScanError> {
        if layer != self.layer {
            closeAll()
            self.layer = layer
            rootFD = Glibc.open(directories[layer], O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            guard rootFD >= 0 else { return .failure(Self.failure(path)) }
        }
        let components = path.split(separator: "/")
        guard let name = components.last else { return .failure(.invalid("\(path): not a file")) }
        var common = 0
        while common < open.count && common < components.count - 1 && open[common].name == components[common] { common += 1 }
        while open.count > common { close(open.removeLast().fd) }
        for component in components[common..<(components.count - 1)] {
            let parent = open.last?.fd ?? rootFD
            let fd = openat(parent, String(component), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard fd >= 0 else { return .failure(Self.failure(path)) }
            open.append((component, fd))
        }
        let fd = openat(open.last?.fd ?? rootFD, String(name), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return .failure(Self.failure(path)) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            return .failure(.invalid("\(path): not a regular file"))
        }
        return .success(fd)
    }

    /// The file's first bytes up to `limit`; `wholeOnly` makes a longer file a failure.
    func read(_ path: String, layer: Int, limit: Int, wholeOnly: Bool = true) -> Result<[UInt8], ScanError> {
        let fd: Int32
        switch openFile(path, layer: layer) {
        case .success(let opened): fd = opened
        case .failure(let error): return .failure(error)
        }
        defer { close(fd) }
        var info = stat()
        fstat(fd, &info)
        if wholeOnly && Int(info.st_size) > limit {
            return .failure(.invalid("\(path): \(info.st_size) bytes, more than the \(limit) expected at most"))
        }
        let wanted = min(Int(info.st_size), limit)
        var bytes = [UInt8](repeating: 0, count: wanted)
        var done = 0
        while done < wanted {
            let count = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, wanted - done, off_t(done)) }
            if count < 0 {
                if errno == EINTR { continue }
                return .failure(Self.failure(path))
            }
            if count == 0 { break }
            done += count
        }
        if done < wanted { bytes.removeLast(wanted - done) }
        return .success(bytes)
    }

    private static func failure(_ path: String) -> ScanError {
        .storage("\(path): \(String(cString: strerror(errno)))")
    }
}

/// Reads parts of a file at offsets: Go binaries are read only where their headers and
/// build information are, never whole.
protocol ByteSource {
    /// Up to `count` bytes at `offset`; fewer at the end of the data.
    func bytes(at offset: UInt64, count: Int) -> [UInt8]
}

struct MemoryByteSource: ByteSource {
    let data: [UInt8]
    func bytes(at offset: UInt64, count: Int) -> [UInt8] {
        guard offset < UInt64(data.count), count > 0 else { return [] }
        let start = Int(offset)
        return Array(data[start..<min(data.count, start + count)])
    }
}

struct FileByteSource: ByteSource {
    let fd: Int32
    func bytes(at offset: UInt64, count: Int) -> [UInt8] {
        guard count > 0, offset < UInt64(Int64.max) else { return [] }
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let got = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, count - done, off_t(offset) + off_t(done)) }
            if got < 0 && errno == EINTR { continue }
            if got <= 0 { break }
            done += got
        }
        if done < count { bytes.removeLast(count - done) }
        return bytes
    }
}
