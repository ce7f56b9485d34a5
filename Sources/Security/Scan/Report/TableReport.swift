/// The table formats, for a terminal of `width` columns: a few header lines naming what
/// was scanned, the table, and a summary. Columns take the width of their widest cell; when
/// that is too wide, aliases give way first (`CVE-2024-1234 +2`), then the widest of the
/// other text columns is cut in the middle (`0.0.0-2…7dbd1f`), keeping both ends of
/// versions and ids, which is where they differ.
enum TableReport {
    static func findings(_ report: ScanReport, width: Int) -> String {
        var lines = header(report)
        let groups = packageGroups(report.findings)
        let showLayer = groups.contains { $0.package.layer != nil }
        if groups.isEmpty {
            lines.append("No vulnerabilities to report in \(plural(report.inventory.packages.count, "package")).")
        } else {
            var columns = [
                Column(title: "PACKAGE", minimum: 12), Column(title: "INSTALLED", minimum: 12), Column(title: "FIXED", minimum: 12),
                Column(title: "SEVERITY", minimum: 8), Column(title: "ID", minimum: 13), Column(title: "ALIASES", minimum: 7, isAliasList: true),
            ]
            if showLayer { columns.append(Column(title: "LAYER", minimum: 12)) }
            var rows: [Row] = []
            for group in groups {
                for (index, finding) in group.findings.enumerated() {
                    var cells = [
                        index == 0 ? group.package.name : "", index == 0 ? group.package.version : "",
                        finding.fixedVersion ?? "(no fix)", finding.advisory.severity.name, finding.advisory.id,
                        finding.advisory.aliases.joined(separator: ", "),
                    ]
                    if showLayer { cells.append(index == 0 ? group.package.layer.map(shortLayer) ?? "" : "") }
                    rows.append(.cells(cells))
                }
                // Language packages and Go binaries can be anywhere: say where, so the
                // user knows which copy (which binary's stdlib) to upgrade.
                if ![.dpkg, .apk, .rpm].contains(group.package.kind) {
                    rows.append(.note("  in \(group.package.location)"))
                }
            }
            lines += table(columns: &columns, rows: rows, width: width)
            lines.append("")
            lines.append(summary(report))
        }
        if !report.ignored.isEmpty {
            let ids = unique(report.ignored.map(\.advisory.id))
            let named = ids.count <= 5 ? ids.joined(separator: ", ") : ids.prefix(5).joined(separator: ", ") + ", …"
            lines.append("Ignored by the ignore file: \(plural(report.ignored.count, "finding")) (\(named)); reasons in --format json.")
        }
        lines += skipped(report)
        return lines.joined(separator: "\n") + "\n"
    }

    static func packages(_ report: ScanReport, width: Int) -> String {
        var lines = header(report)
        let packages = report.inventory.packages.sorted(by: packageOrder)
        if packages.isEmpty {
            lines.append("No packages found.")
        } else {
            let showLayer = packages.contains { $0.layer != nil }
            var columns = [Column(title: "NAME", minimum: 12), Column(title: "VERSION", minimum: 12), Column(title: "TYPE", minimum: 6),
                           Column(title: "LOCATION", minimum: 12)]
            if showLayer { columns.append(Column(title: "LAYER", minimum: 12)) }
            let rows = packages.map { package in
                Row.cells([package.name, package.version, package.kind.rawValue, package.location]
                    + (showLayer ? [package.layer.map(shortLayer) ?? ""] : []))
            }
            lines += table(columns: &columns, rows: rows, width: width)
            lines.append("")
            var counts: [InstalledPackage.Kind: Int] = [:]
            for package in packages { counts[package.kind, default: 0] += 1 }
            let kinds = InstalledPackage.Kind.allCases.compactMap { kind in counts[kind].map { "\(kind.rawValue): \($0)" } }
            lines.append("\(plural(packages.count, "package")) (\(kinds.joined(separator: ", ")))")
        }
        lines += skipped(report)
        return lines.joined(separator: "\n") + "\n"
    }

    // MARK: - Pieces

    private static func header(_ report: ScanReport) -> [String] {
        var lines: [String] = []
        let os = report.os ?? report.inventory.os
        let system = os.map { $0.prettyName ?? [$0.id, $0.versionID].compactMap { $0 }.joined(separator: " ") }
        lines.append("Target:   \(report.target)" + (system.map { " (\($0))" } ?? ""))
        if let imageID = report.imageID { lines.append("Image:    \(shortImageID(imageID))") }
        lines.append("Database: \(report.databaseVersion)" + (report.databaseUpdated.map { " (updated \($0))" } ?? ""))
        lines.append("")
        return lines
    }

    /// `5 vulnerabilities (CRITICAL: 1, HIGH: 3, MEDIUM: 1, LOW: 0, UNKNOWN: 0) in 2 of 241 packages`
    static func summary(_ report: ScanReport) -> String {
        let counts = report.severityCounts
        let bySeverity = Severity.allCases.reversed().map { "\($0.name): \(counts[$0] ?? 0)" }.joined(separator: ", ")
        let total = report.inventory.packages.count
        return "\(plural(report.findings.count, "vulnerability", "vulnerabilities")) (\(bySeverity)) in \(report.affectedPackageCount) of \(plural(total, "package"))"
    }

    private static func skipped(_ report: ScanReport) -> [String] {
        let skipped = report.inventory.skipped
        guard !skipped.isEmpty else { return [] }
        var lines = ["Skipped \(plural(skipped.count, "entry", "entries")) that could not be read:"]
        lines += skipped.prefix(10).map { "  \($0)" }
        if skipped.count > 10 { lines.append("  … and \(skipped.count - 10) more (all of them in --format json)") }
        return lines
    }

    struct Group {
        var package: InstalledPackage
        var findings: [Finding]
        var worst: Severity { findings.first?.advisory.severity ?? .unknown }
    }

    /// Findings by package: packages with the worst finding first (then by name), each
    /// package's findings worst first, then by id.
    static func packageGroups(_ findings: [Finding]) -> [Group] {
        var byPackage: [InstalledPackage: [Finding]] = [:]
        for finding in findings { byPackage[finding.package, default: []].append(finding) }
        let groups = byPackage.map { package, findings in
            Group(package: package, findings: findings.sorted(by: findingOrder))
        }
        return groups.sorted { a, b in
            if a.worst != b.worst { return a.worst > b.worst }
            return packageOrder(a.package, b.package)
        }
    }

    static func findingOrder(_ a: Finding, _ b: Finding) -> Bool {
        if a.advisory.severity != b.advisory.severity { return a.advisory.severity > b.advisory.severity }
        if a.advisory.id != b.advisory.id { return a.advisory.id < b.advisory.id }
        return (a.fixedVersion ?? "", a.ecosystem) < (b.fixedVersion ?? "", b.ecosystem)
    }

    static func packageOrder(_ a: InstalledPackage, _ b: InstalledPackage) -> Bool {
        let kinds = InstalledPackage.Kind.allCases
        let ka = kinds.firstIndex(of: a.kind)!, kb = kinds.firstIndex(of: b.kind)!
        if a.name != b.name { return a.name < b.name }
        if ka != kb { return ka < kb }
        if a.version != b.version { return a.version < b.version }
        if a.location != b.location { return a.location < b.location }
        return (a.layer ?? "", a.architecture ?? "") < (b.layer ?? "", b.architecture ?? "")
    }

    // MARK: - Layout

    struct Column {
        var title: String
        var minimum: Int
        var isAliasList = false
        var width = 0
    }

    enum Row {
        case cells([String])
        /// A line of its own under the row before (cut to the width).
        case note(String)
    }

    static func table(columns: inout [Column], rows: [Row], width: Int) -> [String] {
        let gap = 2
        for index in columns.indices {
            columns[index].width = rows.reduce(columns[index].title.count) { widest, row in
                if case .cells(let cells) = row { return max(widest, cells[index].count) }
                return widest
            }
            columns[index].minimum = min(columns[index].minimum, columns[index].width)
        }
        func total() -> Int { columns.reduce(0) { $0 + $1.width } + gap * (columns.count - 1) }
        // Aliases give way first, then the widest other column, one character at a time.
        if let aliases = columns.firstIndex(where: \.isAliasList) {
            columns[aliases].width = max(columns[aliases].minimum, columns[aliases].width - max(0, total() - width))
        }
        while total() > width {
            let shrinkable = columns.indices.filter { columns[$0].width > columns[$0].minimum }
            guard let widest = shrinkable.max(by: { columns[$0].width < columns[$1].width }) else { break }
            columns[widest].width -= 1
        }
        var lines = [line(columns.map(\.title), columns)]
        for row in rows {
            switch row {
            case .cells(let cells):
                let fitted = cells.indices.map { index in
                    columns[index].isAliasList ? fitAliases(cells[index], columns[index].width) : cutMiddle(cells[index], columns[index].width)
                }
                lines.append(line(fitted, columns))
            case .note(let text):
                lines.append(cutMiddle(text, width))
            }
        }
        return lines
    }

    private static func line(_ cells: [String], _ columns: [Column]) -> String {
        var out = ""
        for (index, cell) in cells.enumerated() {
            out += cell
            if index < cells.count - 1 { out += String(repeating: " ", count: columns[index].width - cell.count + 2) }
        }
        while out.last == " " { out.removeLast() }
        return out
    }

    /// `A, B, C` in `width` columns: as many whole aliases as fit, then `+N` for the rest.
    static func fitAliases(_ text: String, _ width: Int) -> String {
        guard text.count > width else { return text }
        let aliases = text.split(separator: ", ").map(String.init)
        for kept in stride(from: aliases.count - 1, through: 1, by: -1) {
            let candidate = aliases.prefix(kept).joined(separator: ", ") + " +\(aliases.count - kept)"
            if candidate.count <= width { return candidate }
        }
        return cutMiddle(aliases[0] + (aliases.count > 1 ? " +\(aliases.count - 1)" : ""), width)
    }

    /// `text` in at most `width` characters, its middle replaced by `…` when too long.
    static func cutMiddle(_ text: String, _ width: Int) -> String {
        guard text.count > width else { return text }
        guard width > 1 else { return String(repeating: "…", count: max(0, width)) }
        let tail = (width - 1) / 2
        let head = width - 1 - tail
        return String(text.prefix(head)) + "…" + String(text.suffix(tail))
    }

    /// `sha256:3f4ca61aafcd…` → `3f4ca61aafcd`, as `docker images` shortens ids.
    static func shortLayer(_ diffID: String) -> String {
        let hex = diffID.split(separator: ":", maxSplits: 1).last.map(String.init) ?? diffID
        return String(hex.prefix(12))
    }

    static func shortImageID(_ id: String) -> String {
        guard let colon = id.firstIndex(of: ":") else { return String(id.prefix(12)) }
        return String(id[...colon]) + String(id[id.index(after: colon)...].prefix(12))
    }

    static func plural(_ count: Int, _ one: String, _ many: String? = nil) -> String {
        "\(count) \(count == 1 ? one : many ?? one + "s")"
    }

    static func unique(_ items: [String]) -> [String] {
        var seen: Set<String> = []
        return items.filter { seen.insert($0).inserted }
    }
}
