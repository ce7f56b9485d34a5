import Glibc

/// rpm 4.16+'s SQLite database (`rpmdb.sqlite`): `Packages(hnum, blob)`, one RPM header
/// per installed package.
enum RPMDatabase {
    static let limit = 64 << 20

    /// The packages of the database open as `fd` (opened by the inventory through no
    /// link), and a line for each header that could not be read. A database SQLite cannot
    /// read at all throws; one that breaks off part-way keeps the packages before the break.
    /// `wal`: its `-wal` file beside it, when there is one.
    static func read(fd: Int32, wal: Int32?, location: String) throws(ScanError) -> (packages: [InstalledPackage], skipped: [String]) {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .storage("\(location): \(String(cString: strerror(errno)))") }
        guard info.st_size <= limit else { throw .invalid("\(location): \(info.st_size) bytes, more than the \(limit) expected at most") }
        var walInfo = stat()
        if let wal, fstat(wal, &walInfo) == 0, walInfo.st_size > 0 {
            // Transactions not yet checkpointed (rpm was stopped mid-way): SQLite reads them
            // only in a normal open, which writes a -shm beside the files, so it gets copies.
            guard walInfo.st_size <= limit else { throw .invalid("\(location)-wal: \(walInfo.st_size) bytes, more than the \(limit) expected at most") }
            return try withCopies(fd: fd, wal: wal, location: location) { path throws(ScanError) in
                try read(SQLiteDatabase(path: path, mode: .readOnly), location: location)
            }
        }
        // immutable=1: SQLite takes no locks and writes no -wal/-shm beside the file (a
        // plain read-only open would, into the image's layer). Through /proc/self/fd, the
        // very file the inventory opened without following links.
        let database: SQLiteDatabase
        do {
            database = try SQLiteDatabase(path: "file:/proc/self/fd/\(fd)?immutable=1", mode: .readOnly)
        } catch {
            throw .database("\(location): \(Self.reason(error))")
        }
        return read(database, location: location)
    }

    private static func read(_ database: SQLiteDatabase, location: String) -> (packages: [InstalledPackage], skipped: [String]) {
        var packages: [InstalledPackage] = []
        var skipped: [String] = []
        do {
            let rows = try database.prepare("SELECT hnum, blob FROM Packages")
            while try rows.step() {
                let number = rows.integer(0)
                do {
                    let header = try rows.withBlob(1) { blob throws(ScanError) in try RPMHeader.parse(blob) }
                    if let package = try header.package(location: location) { packages.append(package) }
                } catch {
                    skipped.append("\(location): package \(number): \(error)")
                }
            }
        } catch {
            skipped.append("\(location): \(Self.reason(error)) (read \(packages.count) packages before it)")
        }
        return (packages, skipped)
    }

    /// `body` with the path of a private copy of the database and its WAL, removed after.
    private static func withCopies<T>(fd: Int32, wal: Int32, location: String, _ body: (String) throws(ScanError) -> T) throws(ScanError) -> T {
        let base = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        var template = Array((base + "/netctl-rpmdb-XXXXXX").utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw .storage("\(location): a temporary directory in \(base): \(String(cString: strerror(errno)))")
        }
        let directory = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let database = directory + "/rpmdb.sqlite"
        defer {
            for suffix in ["", "-wal", "-shm", "-journal"] { unlink(database + suffix) }
            rmdir(directory)
        }
        try copy(fd, to: database, location: location)
        try copy(wal, to: database + "-wal", location: location + "-wal")
        do {
            return try body(database)
        } catch {
            throw .database("\(location): \(Self.reason(error))")
        }
    }

    private static func copy(_ source: Int32, to path: String, location: String) throws(ScanError) {
        let target = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard target >= 0 else { throw .storage("\(path): \(String(cString: strerror(errno)))") }
        defer { close(target) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var offset: off_t = 0
        while true {
            let count = buffer.withUnsafeMutableBytes { pread(source, $0.baseAddress, $0.count, offset) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw .storage("\(location): \(String(cString: strerror(errno)))") }
            if count == 0 { return }
            let written = buffer.withUnsafeBytes { write(target, $0.baseAddress, count) }
            guard written == count else { throw .storage("\(path): \(String(cString: strerror(errno)))") }
            offset += off_t(count)
        }
    }

    /// SQLite's reason without the URI the database was opened by.
    private static func reason(_ error: ScanError) -> String {
        let line = error.description
        guard line.hasPrefix("file:/proc/self/fd/") || line.contains("/netctl-rpmdb-"), let colon = line.firstIndex(of: ":").flatMap({ line[line.index(after: $0)...].firstIndex(of: ":") }) else { return line }
        return String(line[line.index(after: colon)...]).trimmingSpaces
    }
}
