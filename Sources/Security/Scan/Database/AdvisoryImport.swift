import Dispatch
import Glibc

/// What an import did.
public struct ImportSummary: Sendable, Codable, Equatable {
    /// The database version now in use.
    public var version: String
    /// Records added or replacing an older `modified` of the same id.
    public var advisories: Int
    /// Records already there with the same or a newer `modified`, left as they were.
    public var unchanged: Int
    /// OSV files read (zip members included).
    public var files: Int
    /// `PATH: what is wrong`, for each file `--skip-invalid` left out.
    public var skipped: [String]
    /// Affected entries of ecosystems OSV defines but netctl does not scan, by ecosystem.
    public var unsupported: [String: Int]
}

/// `netctl scan db import PATH…`: OSV files into a new version of the database, which
/// replaces the current one only once it is whole.
///
/// The current database is copied to a temporary file in `db/`, the records are added in
/// one transaction (a newer `modified` replaces a record of the same id), the package
/// index is rebuilt, the file is synced and renamed to `<version>.sqlite`, and `current`
/// is replaced by rename. Until that rename every reader keeps the previous version, and
/// any failure removes the temporary file; older versions are removed after.
public enum AdvisoryImport {
    public static func run(paths: [String], directory: String, skipInvalid: Bool) throws(ScanError) -> ImportSummary {
        let databases = AdvisoryStore.databaseDirectory(directory)
        try makeDirectory(directory)
        try makeDirectory(databases)
        let lock = open(databases + "/lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard lock >= 0 else { throw .storage("\(databases)/lock: \(String(cString: strerror(errno)))") }
        defer { close(lock) }
        guard flock(lock, LOCK_EX) == 0 else { throw .storage("\(databases)/lock: \(String(cString: strerror(errno)))") }
        // Under the lock, a temporary file is what an interrupted import left.
        removeFiles(in: databases) { $0.hasPrefix(AdvisoryStore.temporaryPrefix) }

        let now = TrustTime(seconds: Int64(time(nil))).rfc3339(dialect: .tuf)
        let version = newVersion(now)
        let temporary = databases + "/" + AdvisoryStore.temporaryPrefix + version + ".sqlite"
        var summary = ImportSummary(version: version, advisories: 0, unchanged: 0, files: 0, skipped: [], unsupported: [:])
        do {
            let previous = AdvisoryStore.readCurrent(directory).map { AdvisoryStore.databaseFile(directory, version: $0) }
            if let previous { try copyFile(previous, to: temporary) }
            try build(into: temporary, fresh: previous == nil, paths: paths, version: version, now: now,
                      skipInvalid: skipInvalid, summary: &summary)
            try sync(temporary)
            try rename(temporary, to: AdvisoryStore.databaseFile(directory, version: version))
        } catch {
            unlink(temporary)
            throw error
        }
        try replaceCurrent(directory, version: version)
        removeFiles(in: databases) { $0.hasSuffix(".sqlite") && $0 != "\(version).sqlite" }
        return summary
    }

    /// Reads one OSV file as an import does, without storing it: the advisory as reports
    /// would show it, or the one-line error an import would stop at (`file` names it).
    public static func check(osv bytes: [UInt8], file: String) throws(ScanError) -> Advisory {
        try OSVAdvisory(decoding: bytes, file: file).advisory
    }

    /// Adds every record under `paths` to the database file at `path`, in one transaction.
    private static func build(into path: String, fresh: Bool, paths: [String], version: String, now: String,
                              skipInvalid: Bool, summary: inout ImportSummary) throws(ScanError) {
        let database = try SQLiteDatabase(path: path, mode: .create)
        // Nothing else sees this file until it is whole: no journal, no syncs per write.
        try database.execute("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY")
        try database.execute("BEGIN")
        if fresh { try database.execute(AdvisoryStore.schema) }
        try database.execute("DROP INDEX IF EXISTS affected_by_package; CREATE TEMP TABLE replaced(key INTEGER PRIMARY KEY)")

        let lookup = try database.prepare("SELECT key, modified_key FROM advisories WHERE id = ?")
        let remove = try database.prepare("DELETE FROM advisories WHERE key = ?")
        let markReplaced = try database.prepare("INSERT OR IGNORE INTO temp.replaced VALUES(?)")
        let insertAdvisory = try database.prepare("""
            INSERT INTO advisories(id, modified, modified_key, withdrawn, severity, score, vector, summary, published, aliases, refs)
            VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING key
            """)
        let insertAffected = try database.prepare("INSERT INTO affected VALUES(?, ?, ?, ?)")
        let insertEcosystem = try database.prepare("INSERT INTO ecosystems(name) VALUES(?) RETURNING key")
        var ecosystems: [String: Int64] = [:]
        let listEcosystems = try database.prepare("SELECT key, name FROM ecosystems")
        while try listEcosystems.step() { ecosystems[listEcosystems.text(1) ?? ""] = listEcosystems.integer(0) }

        var changed = Set<String>()
        var fromSource = 0
        // Stores one decoded record (or skips a bad file, or stops at it).
        func store(_ result: Result<OSVAdvisory, ScanError>) throws(ScanError) {
            summary.files += 1
            let record: OSVAdvisory
            switch result {
            case .success(let decoded):
                record = decoded
            case .failure(let error):
                guard skipInvalid, case .invalid(let line) = error else { throw error }
                summary.skipped.append(line)
                return
            }
            for (ecosystem, count) in record.unsupported { summary.unsupported[ecosystem, default: 0] += count }

            try lookup.bind([.text(record.advisory.id)])
            if try lookup.step() {
                let key = lookup.integer(0), modified = lookup.integer(1)
                // The same or an older `modified` than what is stored: kept as it is.
                guard record.modifiedKey > modified else {
                    summary.unchanged += 1
                    return
                }
                try remove.run([.integer(key)])
                try markReplaced.run([.integer(key)])
            }
            let advisory = record.advisory
            try insertAdvisory.bind([
                .text(advisory.id), .text(advisory.modified), .integer(record.modifiedKey), .integer(record.withdrawn ? 1 : 0),
                .integer(Int64(advisory.severity.rawValue)), advisory.score.map { .real($0) }, advisory.vector.map { .text($0) },
                advisory.summary.map { .text($0) }, advisory.published.map { .text($0) },
                .text(AdvisoryStore.joined(advisory.aliases)), .text(AdvisoryStore.joined(advisory.references)),
            ])
            guard try insertAdvisory.step() else { throw .database("\(path): no key for \(advisory.id)") }
            let key = insertAdvisory.integer(0)
            while try insertAdvisory.step() {}
            changed.insert(advisory.id)
            fromSource += 1
            // A withdrawn advisory stays for `info`, with nothing to match.
            guard !record.withdrawn else { return }
            for affected in record.affected {
                let ecosystem: Int64
                if let known = ecosystems[affected.ecosystem] {
                    ecosystem = known
                } else {
                    try insertEcosystem.bind([.text(affected.ecosystem)])
                    guard try insertEcosystem.step() else { throw .database("\(path): no key for \(affected.ecosystem)") }
                    ecosystem = insertEcosystem.integer(0)
                    while try insertEcosystem.step() {}
                    ecosystems[affected.ecosystem] = ecosystem
                }
                try insertAffected.run([.integer(key), .integer(ecosystem), .text(affected.name), .blob(affected.entry.encoded)])
            }
        }

        // Files are read in batches, decoded on every core, then stored in their order.
        var batch: [OSVSources.Item] = []
        var batchBytes = 0
        func flush() throws(ScanError) {
            for result in decode(batch) { try store(result) }
            batch.removeAll(keepingCapacity: true)
            batchBytes = 0
        }
        for source in paths {
            fromSource = 0
            try OSVSources.each(in: source) { (item) throws(ScanError) in
                batch.append(item)
                if case .file(_, let bytes) = item { batchBytes += bytes.count }
                if batch.count >= 1024 || batchBytes >= 32 << 20 { try flush() }
            }
            try flush()
            let absolute = source.hasPrefix("/") ? source : currentDirectory() + "/" + source
            try database.prepare("INSERT OR REPLACE INTO sources VALUES(?, ?, ?)")
                .run([.text(absolute), .integer(Int64(fromSource)), .text(now)])
        }
        summary.advisories = changed.count

        // The entries of replaced records go in one pass, not one scan per record.
        try database.execute("DELETE FROM affected WHERE advisory IN (SELECT key FROM temp.replaced)")
        try database.execute(AdvisoryStore.packageIndex)
        let setMeta = try database.prepare("INSERT OR REPLACE INTO meta VALUES(?, ?)")
        try setMeta.run([.text("version"), .text(version)])
        try setMeta.run([.text("updated"), .text(now)])
        try database.execute("COMMIT")
    }

    /// Decodes and checks a batch of files on every core: JSON decoding is most of an
    /// import's time, and each file decodes alone.
    private static func decode(_ items: [OSVSources.Item]) -> [Result<OSVAdvisory, ScanError>] {
        let results = Slots<Result<OSVAdvisory, ScanError>>(count: items.count)
        let width = max(1, min(Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), 8, items.count))
        DispatchQueue.concurrentPerform(iterations: width) { worker in
            for index in stride(from: worker, to: items.count, by: width) {
                switch items[index] {
                case .oversized(let name, let size):
                    results[index] = .failure(OSVAdvisory.oversized(name, size: size))
                case .file(let name, let bytes):
                    do throws(ScanError) {
                        results[index] = .success(try OSVAdvisory(decoding: bytes, file: name))
                    } catch {
                        results[index] = .failure(error)
                    }
                }
            }
        }
        return results.values
    }

    /// One slot per item, each written by one worker only.
    private final class Slots<Value>: @unchecked Sendable {
        private let pointer: UnsafeMutablePointer<Value?>

        init(count: Int) {
            pointer = .allocate(capacity: max(count, 1))
            pointer.initialize(repeating: nil, count: count)
            self.count = count
        }

        let count: Int

        deinit {
            pointer.deinitialize(count: count)
            pointer.deallocate()
        }

        subscript(index: Int) -> Value? {
            get { pointer[index] }
            set { pointer[index] = newValue }
        }

        var values: [Value] { (0..<count).map { pointer[$0]! } }
    }

    /// `20261202T091500Z-3f9a1c07`: ordered by time, and unique though two imports share a second.
    private static func newVersion(_ now: String) -> String {
        var generator = SystemRandomNumberGenerator()
        let suffix = String(generator.next() as UInt32, radix: 16)
        return now.filter { $0 != "-" && $0 != ":" } + "-" + String(repeating: "0", count: 8 - suffix.count) + suffix
    }

    /// Writes `current` beside it and renames it over: readers see the old or the new name.
    private static func replaceCurrent(_ directory: String, version: String) throws(ScanError) {
        let current = AdvisoryStore.currentFile(directory)
        let temporary = AdvisoryStore.databaseDirectory(directory) + "/" + AdvisoryStore.temporaryPrefix + "current"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw .storage("\(temporary): \(String(cString: strerror(errno)))") }
        let line = Array((version + "\n").utf8)
        let written = write(descriptor, line, line.count)
        let synced = fsync(descriptor)
        close(descriptor)
        guard written == line.count, synced == 0 else {
            unlink(temporary)
            throw .storage("\(temporary): \(String(cString: strerror(errno)))")
        }
        do {
            try rename(temporary, to: current)
        } catch {
            unlink(temporary)
            throw error
        }
        try sync(AdvisoryStore.databaseDirectory(directory))
    }

    private static func makeDirectory(_ path: String) throws(ScanError) {
        guard mkdir(path, 0o755) == 0 || errno == EEXIST else { throw .storage("\(path): \(String(cString: strerror(errno)))") }
    }

    private static func rename(_ from: String, to: String) throws(ScanError) {
        guard Glibc.rename(from, to) == 0 else { throw .storage("\(to): \(String(cString: strerror(errno)))") }
    }

    private static func sync(_ path: String) throws(ScanError) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .storage("\(path): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw .storage("\(path): fsync: \(String(cString: strerror(errno)))") }
    }

    private static func copyFile(_ from: String, to: String) throws(ScanError) {
        let source = open(from, O_RDONLY | O_CLOEXEC)
        guard source >= 0 else { throw .storage("\(from): \(String(cString: strerror(errno)))") }
        defer { close(source) }
        let target = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard target >= 0 else { throw .storage("\(to): \(String(cString: strerror(errno)))") }
        defer { close(target) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = read(source, &buffer, buffer.count)
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { throw .storage("\(from): \(String(cString: strerror(errno)))") }
            if count == 0 { return }
            var done = 0
            while done < count {
                let written = buffer.withUnsafeBytes { write(target, $0.baseAddress! + done, count - done) }
                if written < 0, errno == EINTR { continue }
                guard written > 0 else { throw .storage("\(to): \(String(cString: strerror(errno)))") }
                done += written
            }
        }
    }

    private static func removeFiles(in directory: String, where matches: (String) -> Bool) {
        guard let handle = opendir(directory) else { return }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if matches(name) { names.append(name) }
        }
        closedir(handle)
        for name in names { unlink(directory + "/" + name) }
    }

    private static func currentDirectory() -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        return getcwd(&buffer, buffer.count).map { String(cString: $0) } ?? "."
    }
}
