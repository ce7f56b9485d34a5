import CArchive
import Glibc

/// The OSV files under an import's paths: a directory (every `*.json` below it), one
/// `.json` file, or a zip as OSV exports each ecosystem (`all.zip`, a `.json` per record).
/// Files are handed over one at a time, so an import holds one record in memory at once.
enum OSVSources {
    /// One file's bytes, or why they are not an OSV file's (too large): an import may skip
    /// those. A file that cannot be read at all stops the import instead.
    enum Item: Sendable {
        case file(name: String, bytes: [UInt8])
        case oversized(name: String, size: Int)
    }

    static let maximumDepth = 32

    static func each(in path: String, _ body: (Item) throws(ScanError) -> Void) throws(ScanError) {
        var info = stat()
        guard stat(path, &info) == 0 else { throw .storage("\(path): \(String(cString: strerror(errno)))") }
        if info.st_mode & S_IFMT == S_IFDIR {
            try walk(path, depth: 0, body)
        } else if info.st_mode & S_IFMT == S_IFREG, path.hasSuffix(".zip") || isZip(path) {
            try readZip(path, body)
        } else if info.st_mode & S_IFMT == S_IFREG {
            try body(readFile(path))
        } else {
            throw .storage("\(path): expected a directory of OSV files, an OSV .json file or a zip of them")
        }
    }

    private static func walk(_ directory: String, depth: Int, _ body: (Item) throws(ScanError) -> Void) throws(ScanError) {
        guard depth <= maximumDepth else { throw .storage("\(directory): more than \(maximumDepth) directories deep") }
        guard let handle = opendir(directory) else { throw .storage("\(directory): \(String(cString: strerror(errno)))") }
        var names: [String] = []
        errno = 0
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        let failure = errno
        closedir(handle)
        guard failure == 0 else { throw .storage("\(directory): \(String(cString: strerror(failure)))") }
        // Sorted: the same tree imports the same way every time.
        for name in names.sorted() {
            let path = directory.hasSuffix("/") ? directory + name : directory + "/" + name
            var info = stat()
            guard lstat(path, &info) == 0 else { throw .storage("\(path): \(String(cString: strerror(errno)))") }
            let type = info.st_mode & S_IFMT
            if type == S_IFDIR {
                try walk(path, depth: depth + 1, body)
            } else if type == S_IFREG || type == S_IFLNK, name.hasSuffix(".json") {
                // A link to a file is read; a link to nowhere is an unreadable file.
                try body(readFile(path))
            }
        }
    }

    private static func readFile(_ path: String) throws(ScanError) -> Item {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .storage("\(path): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw .storage("\(path): \(String(cString: strerror(errno)))") }
        guard info.st_mode & S_IFMT == S_IFREG else { throw .storage("\(path): not a regular file") }
        guard Int(info.st_size) <= OSVAdvisory.maximumFileSize else { return .oversized(name: path, size: Int(info.st_size)) }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        var done = 0
        while done < bytes.count {
            let count = bytes.withUnsafeMutableBytes { read(descriptor, $0.baseAddress! + done, $0.count - done) }
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { throw .storage("\(path): \(String(cString: strerror(errno)))") }
            guard count > 0 else { throw .storage("\(path): shorter than its size (changed while read)") }
            done += count
        }
        return .file(name: path, bytes: bytes)
    }

    private static func isZip(_ path: String) -> Bool {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var magic = [UInt8](repeating: 0, count: 4)
        return read(descriptor, &magic, 4) == 4 && magic == [0x50, 0x4b, 0x03, 0x04]
    }

    /// Each `.json` member of a zip, named `ZIP:MEMBER` in errors.
    private static func readZip(_ path: String, _ body: (Item) throws(ScanError) -> Void) throws(ScanError) {
        var reason = [CChar](repeating: 0, count: 256)
        guard la_load(&reason, reason.count) == 0 else {
            throw .storage("\(path): \(String(decoding: reason.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))")
        }
        guard let archive = la_read_new() else { throw .storage("\(path): libarchive could not start a reader") }
        defer { la_read_free(archive) }
        func failure(_ what: String) -> ScanError {
            .storage("\(path): \(what): \(la_error_string(archive).map { String(cString: $0) } ?? "unreadable zip")")
        }
        la_read_support_format_zip(archive)
        guard la_read_open_filename(archive, path, 1 << 16) == ARCHIVE_OK else { throw failure("not a readable zip") }
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            var entry: OpaquePointer?
            let status = la_read_next_header(archive, &entry)
            if status == ARCHIVE_EOF { return }
            guard status >= ARCHIVE_WARN, let entry else { throw failure("reading the next member") }
            let member = la_entry_pathname(entry).map { String(cString: $0) } ?? ""
            guard la_entry_filetype(entry) == S_IFREG, member.hasSuffix(".json") else {
                guard la_read_data_skip(archive) >= ARCHIVE_WARN else { throw failure(member) }
                continue
            }
            let name = "\(path):\(member)"
            if la_entry_size_is_set(entry) != 0, la_entry_size(entry) > Int64(OSVAdvisory.maximumFileSize) {
                guard la_read_data_skip(archive) >= ARCHIVE_WARN else { throw failure(member) }
                try body(.oversized(name: name, size: Int(la_entry_size(entry))))
                continue
            }
            // The size a zip declares is not trusted: the data read is bounded too.
            var bytes: [UInt8] = []
            var total = 0
            while true {
                let count = chunk.withUnsafeMutableBytes { la_read_data(archive, $0.baseAddress, $0.count) }
                guard count >= 0 else { throw failure(member) }
                if count == 0 { break }
                total += count
                if total <= OSVAdvisory.maximumFileSize { bytes.append(contentsOf: chunk[0..<count]) }
            }
            try body(total > OSVAdvisory.maximumFileSize ? .oversized(name: name, size: total) : .file(name: name, bytes: bytes))
        }
    }
}
