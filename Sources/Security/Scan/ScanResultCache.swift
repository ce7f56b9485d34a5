import Glibc

/// Scan results kept per image and advisory database (`scan/cache/IMAGE.DBVERSION`), so
/// that `run --scan-policy` on an image already scanned reads one small file instead of
/// inventorying the layers and querying SQLite. An image's content never changes under its
/// id, so only a new database makes a result stale; its name then no longer matches.
///
/// One finding per line, tab-separated: severity, advisory id, aliases (comma-separated),
/// package, installed version, fixed version. Cheap to read in full, and enough for any
/// policy's threshold, ignore file and `ignore-unfixed`.
public struct ScanResultCache: Sendable {
    public let directory: String

    /// `directory` is the state root's `scan/`.
    public init(directory: String) { self.directory = directory + "/cache" }

    public struct Entry: Hashable, Sendable {
        public var severity: Severity
        public var id: String
        public var aliases: [String]
        public var package: String
        public var installed: String
        public var fixed: String?
    }

    static let header = "netctl scan cache 1\n"
    static let limit = 64 << 20

    /// The results of `image` under `databaseVersion`; nil when it was not scanned with it.
    public func load(image: String, databaseVersion: String) -> [Entry]? {
        guard let bytes = try? TrustFiles.read(path(image: image, databaseVersion: databaseVersion), limit: Self.limit),
              bytes.starts(with: Self.header.utf8) else {
            return nil
        }
        var entries: [Entry] = []
        for line in bytes.dropFirst(Self.header.utf8.count).split(separator: UInt8(ascii: "\n")) {
            let fields = line.split(separator: UInt8(ascii: "\t"), omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
            guard fields.count == 6, let rank = Int(fields[0]), let severity = Severity(rawValue: rank) else { return nil }
            entries.append(Entry(severity: severity, id: fields[1], aliases: fields[2].isEmpty ? [] : fields[2].split(separator: ",").map(String.init),
                                 package: fields[3], installed: fields[4], fixed: fields[5].isEmpty ? nil : fields[5]))
        }
        return entries
    }

    /// Keeps `findings` (unfiltered) for `image` under `databaseVersion`, and drops what was
    /// kept for that image under other databases.
    public func store(_ findings: [Finding], image: String, databaseVersion: String) throws(ScanError) {
        var text = Self.header
        for finding in findings {
            let fields = [String(finding.advisory.severity.rawValue), finding.advisory.id, finding.advisory.aliases.joined(separator: ","),
                          finding.package.name, finding.package.version, finding.fixedVersion ?? ""]
            text += fields.map(Self.clean).joined(separator: "\t") + "\n"
        }
        let target = path(image: image, databaseVersion: databaseVersion)
        do {
            try TrustFiles.replace(target, with: Array(text.utf8), mode: 0o600, directoryMode: 0o700)
        } catch {
            throw .storage(error.description)
        }
        let prefix = Self.key(image) + "."
        remove { $0.hasPrefix(prefix) && "\(directory)/\($0)" != target }
    }

    /// Drops the results of databases other than `databaseVersion` (after an import).
    public func removeStale(databaseVersion: String) {
        let suffix = "." + Self.key(databaseVersion)
        remove { !$0.hasSuffix(suffix) }
    }

    private func remove(where condition: (String) -> Bool) {
        guard let listing = opendir(directory) else { return }
        defer { closedir(listing) }
        while let entry = readdir(listing) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != ".", name != "..", condition(name) { unlink("\(directory)/\(name)") }
        }
    }

    func path(image: String, databaseVersion: String) -> String {
        "\(directory)/\(Self.key(image)).\(Self.key(databaseVersion))"
    }

    /// `sha256:abc…` → `abc…`; anything but letters, digits, `-` and `_` becomes `_`.
    static func key(_ text: String) -> String {
        let bare = text.hasPrefix("sha256:") ? String(text.dropFirst(7)) : text
        return String(bare.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") ? $0 : "_" })
    }

    static func clean(_ field: String) -> String {
        String(field.map { $0 == "\t" || $0 == "\n" || $0 == "\r" ? " " : $0 })
    }
}
