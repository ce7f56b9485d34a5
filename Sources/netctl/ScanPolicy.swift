import Glibc
import Runtime
import Security

/// `run --scan-policy SEVERITY` (or config.json's `"scan-policy"`): an image with a known
/// vulnerability at or above the severity does not run. The result is cached per image id
/// and advisory database, so an image already scanned costs one small file's read.
///
/// config.json: `"scan-policy": "high"`, or `{"severity": "high", "ignore-unfixed": true,
/// "ignore-file": "/etc/netctl/ignore"}`. The flag can only make the state root's policy
/// stricter (a lower severity), never turn it off.
enum ScanPolicy {
    struct Settings {
        var minimum: Severity
        var ignoreUnfixed = false
        var ignoreFile: String?
    }

    /// Hands `runtime` the check, when a policy applies.
    static func prepare(_ runtime: ContainerRuntime, flag: String?) throws {
        guard let settings = try settings(flag: flag, root: runtime.root) else { return }
        runtime.imageFound = { image in try check(image, runtime: runtime, settings: settings) }
    }

    static func settings(flag: String?, root: String) throws -> Settings? {
        let fromFlag = try flag.map { text -> Severity in
            guard let severity = Severity(rating: text), severity != .unknown else {
                throw CLIError("--scan-policy \"\(text)\": expected low, medium, high or critical")
            }
            return severity
        }
        guard var settings = try configured(root: root) else { return fromFlag.map { Settings(minimum: $0) } }
        // The flag can lower the state root's threshold, never raise it.
        if let fromFlag { settings.minimum = min(settings.minimum, fromFlag) }
        return settings
    }

    /// config.json's `scan-policy`, if the state root has one.
    static func configured(root: String) throws -> Settings? {
        let path = "\(root)/config.json"
        guard let policy = try TrustCLI.configMember("scan-policy", root: root) else { return nil }
        let expected = "expected a severity (low, medium, high, critical) or {\"severity\": …, \"ignore-unfixed\": true|false, \"ignore-file\": PATH}"
        // The one line names the value that is wrong, as the file has it.
        func bad(_ key: String, _ value: TrustJSON, _ expectation: String = expected) -> CLIError {
            let json = value.canonical
            var text = String(String.UnicodeScalarView(String(decoding: json.prefix(80), as: UTF8.self).unicodeScalars.map {
                $0.value < 0x20 || $0.value == 0x7f ? "?" : $0
            }))
            if json.count > 80 { text += "…" }
            return CLIError("\(path): \(key) \(text): \(expectation)")
        }
        if let text = policy.string {
            guard let severity = Severity(rating: text), severity != .unknown else { throw bad("scan-policy", policy) }
            return Settings(minimum: severity)
        }
        guard let members = policy.object else { throw bad("scan-policy", policy) }
        if let unknown = members.keys.sorted().first(where: { !["severity", "ignore-unfixed", "ignore-file"].contains($0) }) {
            throw bad("scan-policy", .string(unknown), "not a member (expected severity, ignore-unfixed, ignore-file)")
        }
        let severityValue = members["severity"] ?? .null
        guard let text = severityValue.string, let severity = Severity(rating: text), severity != .unknown else {
            throw bad("scan-policy.severity", severityValue, "expected low, medium, high or critical")
        }
        var settings = Settings(minimum: severity)
        if let unfixed = members["ignore-unfixed"] {
            guard let value = unfixed.bool else { throw bad("scan-policy.ignore-unfixed", unfixed, "expected true or false") }
            settings.ignoreUnfixed = value
        }
        if let file = members["ignore-file"] {
            guard let value = file.string, !value.isEmpty else { throw bad("scan-policy.ignore-file", file, "expected a path") }
            // Relative to the state root, where config.json is, not to wherever `run` is typed.
            settings.ignoreFile = value.hasPrefix("/") ? value : "\(root)/\(value)"
        }
        return settings
    }

    /// Refuses `image` when its findings (cached, or scanned now) break the policy.
    static func check(_ image: ImageRecord, runtime: ContainerRuntime, settings: Settings) throws {
        let directory = ScanCLI.directory(runtime.root)
        guard let version = AdvisoryDatabase.currentVersion(directory: directory) else {
            throw CLIError("scan policy \(settings.minimum.name.lowercased()): no advisory database in \(directory) to check image \(image.id.short) against (netctl scan db import PATH…)")
        }
        let cache = ScanResultCache(directory: directory)
        let entries: [ScanResultCache.Entry]
        if let cached = cache.load(image: image.id.description, databaseVersion: version) {
            entries = cached
        } else {
            let database = try ScanCLI.openDatabase(directory)
            let findings = try ScanCLI.run {
                let inventory = try InventoryScanner.inventory(of: ScanRoot(layers: runtime.images.unpackedLayers(of: image)))
                return try VulnerabilityScanner.findings(in: inventory, database: database)
            }
            // The policy judges what was found, whether or not it could be kept: a cache that
            // cannot be written costs the next run a scan, never a refusal.
            try? cache.store(findings, image: image.id.description, databaseVersion: database.version)
            entries = findings.map(ScanResultCache.Entry.init)
        }
        let ignore = try settings.ignoreFile.map { path in try ScanCLI.run { try IgnoreFile.load(path: path) } }
        let today = CalendarDay.today()
        let refused = entries.filter { entry in
            entry.severity >= settings.minimum && !(settings.ignoreUnfixed && entry.fixed == nil)
                && ignore?.entry(id: entry.id, aliases: entry.aliases, today: today) == nil
        }
        guard !refused.isEmpty else { return }
        let named = refused.prefix(3).map { entry in
            "\(entry.id) (\(entry.severity.name)) in \(entry.package) \(entry.installed)" + (entry.fixed.map { ", fixed in \($0)" } ?? ", no fix")
        }
        let more = refused.count > 3 ? "; and \(refused.count - 3) more" : ""
        let name = image.repoTags.first.map { "\($0) (\(image.id.short))" } ?? image.id.short
        throw CLIError("image \(name) refused by the scan policy (\(settings.minimum.name) and above): \(refused.count) vulnerabilit\(refused.count == 1 ? "y" : "ies"): \(named.joined(separator: "; "))\(more) (netctl scan \(image.id.short) for all)")
    }
}
