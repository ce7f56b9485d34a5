import Glibc

/// rpm 4.16+'s SQLite database (`rpmdb.sqlite`): `Packages(hnum, blob)`, one RPM header
/// per installed package.
enum RPMDatabase {
    static let limit = 64 << 20

    /// The packages of the database open as `fd` (opened by the inventory through no
    /// link), and a line for each header that could not be read. A database SQLite cannot
    /// read at all throws; one that breaks off part-way keeps the packages before the break.
    static func read(fd: Int32, location: String) throws(ScanError) -> (packages: [InstalledPackage], skipped: [String]) {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .storage("\(location): \(String(cString: strerror(errno)))") }
        guard info.st_size <= limit else { throw .invalid("\(location): \(info.st_size) bytes, more than the \(limit) expected at most") }
        // immutable=1: SQLite takes no locks and writes no -wal/-shm beside the file (a
        // plain read-only open would, into the image's layer). Through /proc/self/fd, the
        // very file the inventory opened without following links.
        let database: SQLiteDatabase
        do {
            database = try SQLiteDatabase(path: "file:/proc/self/fd/\(fd)?immutable=1", mode: .readOnly)
        } catch {
            throw .database("\(location): \(Self.reason(error))")
        }
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

    /// SQLite's reason without the URI the database was opened by.
    private static func reason(_ error: ScanError) -> String {
        let line = error.description
        guard line.hasPrefix("file:/proc/self/fd/"), let colon = line.firstIndex(of: ":").flatMap({ line[line.index(after: $0)...].firstIndex(of: ":") }) else { return line }
        return String(line[line.index(after: colon)...]).trimmingSpaces
    }
}
