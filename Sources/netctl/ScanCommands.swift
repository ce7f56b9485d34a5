import ArgumentParser
import Glibc
import Runtime
import Security

/// `netctl scan IMAGE|CONTAINER` and `netctl scan db import|info`: the software inside an
/// image or a container, and the known vulnerabilities of it from an advisory database
/// imported offline (OSV's format), as Trivy and Grype report them.
struct ScanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "List the known vulnerabilities of an image or a container, from an offline advisory database.",
        subcommands: [Target.self, Database.self],
        defaultSubcommand: Target.self
    )

    struct Target: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "image",
            abstract: "Scan an image or a container (the default: `netctl scan IMAGE|CONTAINER`).",
            discussion: """
                The image's layers are read as overlayfs merges them: a package a later layer
                removed is not reported, and each finding names the layer that added it. A
                container is its image plus what it changed (layer `container`).
                """
        )
        @OptionGroup var global: GlobalOptions
        @Option(name: .long, help: "table, json, sarif or cyclonedx (with --list-packages: table, json or cyclonedx).")
        var format = "table"
        @Option(name: .long, help: ArgumentHelp("Only these severities, comma-separated (CRITICAL,HIGH).", valueName: "LIST"))
        var severity: String?
        @Flag(name: .long, help: "Leave out vulnerabilities that have no fixed version yet.") var ignoreUnfixed = false
        @Option(name: .long, help: ArgumentHelp("Advisory ids to leave out, one per line: ID [exp:YYYY-MM-DD] [# reason] (.trivyignore's form).", valueName: "FILE"))
        var ignoreFile: String?
        @Option(name: .long, help: ArgumentHelp("Exit with this code when vulnerabilities remain after the filters.", valueName: "N"))
        var exitCode: Int32 = 0
        @Flag(name: .long, help: "List the packages found instead (an SBOM with --format cyclonedx).") var listPackages = false
        @Argument(help: ArgumentHelp("An image (name, id) or a container (name, id).", valueName: "IMAGE|CONTAINER"))
        var target: String

        func run() throws {
            let severities = try severity.map(Self.severities)
            if listPackages {
                guard let format = PackageListFormat(rawValue: format) else {
                    throw CLIError("--format \"\(format)\": expected table, json or cyclonedx with --list-packages")
                }
                let scanned = try ScanTargets.resolve(target, global: global)
                let inventory = try ScanCLI.run { try InventoryScanner.inventory(of: scanned.root) }
                let report = ScanReport(target: scanned.name, imageID: scanned.imageID, os: inventory.os, findings: [],
                                        inventory: inventory, databaseVersion: "", databaseUpdated: nil)
                print(ReportWriter.renderPackages(report, format: format, tool: ScanCLI.tool, width: ScanCLI.width), terminator: "")
                ScanCLI.warnSkipped(inventory)
                return
            }
            guard let format = ReportFormat(rawValue: format) else {
                throw CLIError("--format \"\(format)\": expected table, json, sarif or cyclonedx")
            }
            let ignore = try ignoreFile.map { path in try ScanCLI.run { try IgnoreFile.load(path: path) } }
            let scanned = try ScanTargets.resolve(target, global: global)
            let directory = ScanCLI.directory(global.rootPath)
            let database = try ScanCLI.openDatabase(directory)
            let (inventory, findings) = try ScanCLI.run {
                let inventory = try InventoryScanner.inventory(of: scanned.root)
                return (inventory, try VulnerabilityScanner.findings(in: inventory, database: database))
            }
            if let imageID = scanned.imageID {
                // The next `run --scan-policy` of this image need not scan it again.
                try? ScanResultCache(directory: directory).store(findings, image: imageID, databaseVersion: database.version)
            }
            let selected = severities.map { set in findings.filter { set.contains($0.advisory.severity) } } ?? findings
            // Not `info()`: its counts read every table (a tenth of a second at 200,000 advisories).
            let updated = try? database.updated()
            let unfiltered = ScanReport(target: scanned.name, imageID: scanned.imageID, os: inventory.os, findings: selected,
                                        inventory: inventory, databaseVersion: database.version, databaseUpdated: updated ?? nil)
            let report = FindingFilter(minimum: .unknown, ignoreUnfixed: ignoreUnfixed, ignoreFile: ignore).apply(to: unfiltered)
            print(ReportWriter.render(report, format: format, tool: ScanCLI.tool, width: ScanCLI.width), terminator: "")
            ScanCLI.warnSkipped(inventory)
            // An acceptance that has run out is worth a line: it ignores nothing any more.
            for entry in ignore?.expired(today: CalendarDay.today()) ?? [] {
                FileHandleOutput.standardError("warning: \(ignoreFile ?? ""):\(entry.line): \(entry.id) expired on \(entry.expires.map(\.description) ?? "?") and is reported again\n")
            }
            if !report.findings.isEmpty && exitCode != 0 { throw ExitCode(exitCode) }
        }

        static func severities(_ text: String) throws -> Set<Severity> {
            var set: Set<Severity> = []
            for word in text.split(separator: ",", omittingEmptySubsequences: false) {
                guard let severity = Severity(rating: String(word.filter { $0 != " " })) else {
                    throw CLIError("--severity \"\(text)\": \"\(word)\" is not a severity (expected UNKNOWN, LOW, MEDIUM, HIGH or CRITICAL, comma-separated)")
                }
                set.insert(severity)
            }
            return set
        }
    }

    struct Database: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "db",
            abstract: "Manage the advisory database (OSV records, imported offline).",
            subcommands: [Import.self, Info.self]
        )

        struct Import: ParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "import",
                abstract: "Import OSV advisories from directories of JSON files and zips (OSV's per-ecosystem all.zip).",
                discussion: """
                    The import is whole or nothing: the database in use stays in use until the new
                    one is complete. A record with the id of one already imported replaces it when
                    its `modified` time is newer.
                    """
            )
            @OptionGroup var global: GlobalOptions
            @Flag(name: .long, help: "Skip files that are not valid OSV records (named in the summary) instead of importing nothing.")
            var skipInvalid = false
            @Option(name: .long, help: "table or json.") var format = "table"
            @Argument(help: ArgumentHelp("Directories, JSON files or zips of OSV records.", valueName: "PATH")) var paths: [String]

            func run() throws {
                guard format == "table" || format == "json" else { throw CLIError("--format \"\(format)\": expected table or json") }
                // The state root made as every command makes it: an air-gapped host's first
                // command may well be this one.
                _ = try global.runtime()
                let directory = ScanCLI.directory(global.rootPath)
                let summary = try ScanCLI.run { try AdvisoryImport.run(paths: paths, directory: directory, skipInvalid: skipInvalid) }
                ScanResultCache(directory: directory).removeStale(databaseVersion: summary.version)
                if format == "json" { return try Output.json(summary) }
                print("Imported \(summary.advisories) advisories from \(summary.files) files (database \(summary.version))")
                for line in summary.skipped { print("skipped \(line)") }
                for (ecosystem, count) in summary.unsupported.sorted(by: { $0.key < $1.key }) {
                    print("not scanned: \(count) affected entries of \(ecosystem)")
                }
            }
        }

        struct Info: ParsableCommand {
            static let configuration = CommandConfiguration(commandName: "info", abstract: "Show the advisory database's sources, age, counts and size.")
            @OptionGroup var global: GlobalOptions
            @Option(name: .long, help: "table or json.") var format = "table"

            func run() throws {
                guard format == "table" || format == "json" else { throw CLIError("--format \"\(format)\": expected table or json") }
                let info = try ScanCLI.run { try ScanCLI.openDatabase(ScanCLI.directory(global.rootPath)).info() }
                if format == "json" { return try Output.json(info) }
                print("Version:     \(info.version)")
                print("Updated:     \(info.updated)" + (ScanCLI.age(of: info.updated).map { " (\($0) ago)" } ?? ""))
                print("Advisories:  \(info.advisories) (\(info.withdrawn) withdrawn)")
                print("Affected:    \(info.affectedEntries) entries")
                print("Size:        \(Size.human(Int64(info.bytes)))")
                print("Ecosystems:")
                Output.table(["ECOSYSTEM", "ENTRIES"], info.ecosystems.sorted { $0.key < $1.key }.map { [$0.key, String($0.value)] })
                print("Sources:")
                Output.table(["PATH", "ADVISORIES", "IMPORTED"], info.sources.map { [$0.path, String($0.advisories), $0.imported] })
            }
        }
    }
}

/// What `scan` reads: a container (its image's layers and its own changes) or an image.
struct ScanTargets {
    var root: ScanRoot
    var name: String
    var imageID: String?

    static func resolve(_ reference: String, global: GlobalOptions) throws -> ScanTargets {
        let runtime = try global.runtime()
        do {
            if let container = try? runtime.container(reference) {
                let layers = try runtime.rootfsLayers(of: container)
                return ScanTargets(root: ScanRoot(layers: layers.map { ($0.directory, $0.name) }), name: container.name, imageID: nil)
            }
            let image = try runtime.images.image(reference)
            return ScanTargets(root: ScanRoot(layers: runtime.images.unpackedLayers(of: image)), name: reference, imageID: image.id.description)
        } catch let error as RuntimeError {
            throw CLIError("\(error.description) (expected an image or a container)")
        }
    }
}

/// What the scan commands and `run --scan-policy` share.
enum ScanCLI {
    /// The state root's `scan/`: the advisory database and the cache of results.
    static func directory(_ root: String) -> String { "\(root)/scan" }

    static func openDatabase(_ directory: String) throws -> AdvisoryDatabase {
        guard let database = try run({ try AdvisoryDatabase.open(directory: directory) }) else {
            throw CLIError("no advisory database in \(directory): import OSV records first (netctl scan db import PATH…)")
        }
        return database
    }

    /// Any scan failure as the command's one line.
    static func run<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as ScanError {
            throw CLIError(error.description)
        }
    }

    static var tool: ReportTool {
        var tool = ReportTool.netctl
        tool.version = Netctl.configuration.version
        return tool
    }

    /// The terminal's width for tables; into a pipe or a file, lines are not wrapped (one
    /// finding per line for grep and awk).
    static var width: Int {
        var size = winsize()
        guard isatty(1) == 1 else { return 1_000 }
        guard ioctl(1, UInt(TIOCGWINSZ), &size) == 0, size.ws_col >= 40 else { return 100 }
        return Int(size.ws_col)
    }

    /// `2026-12-02T09:42:20Z` → `3 hours`: how old the advisories are, which is what an
    /// offline database's user has to watch.
    static func age(of timestamp: String) -> String? {
        let numbers = timestamp.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
        guard numbers.count >= 6, timestamp.hasSuffix("Z") else { return nil }
        var parts = tm()
        parts.tm_year = Int32(numbers[0] - 1900)
        parts.tm_mon = Int32(numbers[1] - 1)
        parts.tm_mday = Int32(numbers[2])
        parts.tm_hour = Int32(numbers[3])
        parts.tm_min = Int32(numbers[4])
        parts.tm_sec = Int32(numbers[5])
        let seconds = max(0, time(nil) - timegm(&parts))
        for (unit, length) in [("day", 86_400), ("hour", 3_600), ("minute", 60)] where seconds >= length {
            let count = seconds / length
            return "\(count) \(unit)\(count == 1 ? "" : "s")"
        }
        return "\(seconds) second\(seconds == 1 ? "" : "s")"
    }

    /// What the inventory could not read, on stderr: the report is complete for the rest.
    static func warnSkipped(_ inventory: Inventory) {
        for line in inventory.skipped { FileHandleOutput.standardError("warning: skipped \(line)\n") }
    }
}
