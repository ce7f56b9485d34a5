/// The table formats, for a terminal of `width` columns: a few header lines naming what
/// was scanned, the table, and a summary. Like Trivy's, findings are grouped by package
/// (the package named once) with the worst first; unlike Trivy's, there are no box
/// borders to eat the width, so `cut`, `awk` and `grep` still work on it. Cells too wide
/// for their column wrap; nothing is cut short.
enum TableReport {
    static func findings(_ report: ScanReport, width: Int) -> String {
        var lines = header(report)
        let groups = packageGroups(report.findings)
        if groups.isEmpty {
            lines.append("No vulnerabilities to report in \(plural(report.inventory.packages.count, "package")).")
        } else {
            let hasLayers = groups.contains { $0.package.layer != nil }
            var table = findingsTable(groups, layerColumn: hasLayers, width: width)
            // Too narrow for a LAYER column: the layer goes under the package instead,
            // leaving the room to versions and ids.
            if hasLayers, table.contains(where: { $0.count > width }) {
                table = findingsTable(groups, layerColumn: false, width: width)
            }
            lines += table
            lines.append("")
            lines.append(summary(report))
        }
        if !report.ignored.isEmpty {
            let ids = unique(report.ignored.map(\.advisory.id)).sorted()
            lines.append("\(plural(report.ignored.count, "finding")) ignored by the ignore file (reasons in --format json):")
            // One column short of the width, for the comma each line break stands for.
            let listed = wrapList(ids.joined(separator: ", "), max(20, width - 3))
            lines += listed.enumerated().map { index, line in "  " + line + (index < listed.count - 1 ? "," : "") }
        }
        lines += skipped(report)
        return lines.joined(separator: "\n") + "\n"
    }

    private static func findingsTable(_ groups: [Group], layerColumn: Bool, width: Int) -> [String] {
        var columns = [
            Column(title: "PACKAGE", minimum: 12), Column(title: "INSTALLED", minimum: 12), Column(title: "FIXED", minimum: 12),
            Column(title: "SEVERITY", minimum: 8), Column(title: "ID", minimum: 13), Column(title: "ALIASES", minimum: 14, isAliasList: true),
        ]
        if layerColumn { columns.append(Column(title: "LAYER", minimum: 12)) }
        var rows: [Row] = []
        for group in groups {
            let package = group.package
            for (index, finding) in group.findings.enumerated() {
                var cells = [
                    index == 0 ? package.name : "", index == 0 ? package.version : "",
                    finding.fixedVersion ?? "(no fix)", finding.advisory.severity.name, finding.advisory.id,
                    finding.advisory.aliases.joined(separator: ", "),
                ]
                if layerColumn { cells.append(index == 0 ? package.layer.map(shortLayer) ?? "" : "") }
                rows.append(.cells(cells))
            }
            // Language packages and Go binaries can be anywhere: say where, so the user
            // knows which copy (which binary's stdlib) to upgrade.
            let isOSPackage = [.dpkg, .apk, .rpm].contains(package.kind)
            let layer = layerColumn ? nil : package.layer.map(shortLayer)
            switch (isOSPackage, layer) {
            case (false, let layer?): rows.append(.note("in \(package.location), layer \(layer)"))
            case (false, nil): rows.append(.note("in \(package.location)"))
            case (true, let layer?): rows.append(.note("layer \(layer)"))
            case (true, nil): break
            }
        }
        return table(columns: &columns, rows: rows, width: width)
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
        let found = plural(report.findings.count, "vulnerability", "vulnerabilities")
        return "\(found) (\(bySeverity)) in \(report.affectedPackageCount) of \(plural(total, "package"))"
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
        return (a.layer ?? "", a.architecture ?? "", a.sourceName ?? "", a.sourceVersion ?? "")
            < (b.layer ?? "", b.architecture ?? "", b.sourceName ?? "", b.sourceVersion ?? "")
    }

    // MARK: - Layout

    struct Column {
        var title: String
        /// What it may shrink to (cells then wrap); never below the title or the widest cell.
        var minimum: Int
        var isAliasList = false
        var width = 0
    }

    enum Row {
        case cells([String])
        /// A line of its own under the row before, indented (`  in usr/bin/umoci`).
        case note(String)
    }

    /// Columns as wide as their widest cell; when the table is wider than `width`, the
    /// aliases give way first, then the other columns, one character at a time, down to
    /// the minimums. A cell wider than its column wraps onto lines below rather
    /// than being cut: a version or id cut short cannot be copied.
    static func table(columns: inout [Column], rows: [Row], width: Int) -> [String] {
        let gap = 2
        for index in columns.indices {
            columns[index].width = rows.reduce(columns[index].title.count) { widest, row in
                if case .cells(let cells) = row { return max(widest, cells[index].count) }
                return widest
            }
            columns[index].minimum = max(columns[index].title.count, min(columns[index].minimum, columns[index].width))
        }
        func total() -> Int { columns.reduce(0) { $0 + $1.width } + gap * (columns.count - 1) }
        if let aliases = columns.firstIndex(where: \.isAliasList) {
            columns[aliases].width = max(columns[aliases].minimum, columns[aliases].width - max(0, total() - width))
        }
        // Each step narrows the column where it makes the fewest cells wrap that did not
        // already (a column with one long pseudo-version gives way before one whose every
        // cell is a Debian version of the same length); among equals the widest, leftmost.
        let cells = columns.indices.map { index in
            rows.compactMap { row -> Int? in if case .cells(let cells) = row { cells[index].count } else { nil } }
        }
        while total() > width {
            let shrinkable = columns.indices.filter { columns[$0].width > columns[$0].minimum }
            func cost(_ index: Int) -> Int { cells[index].filter { $0 == columns[index].width }.count }
            guard let chosen = shrinkable.min(by: { a, b in
                (cost(a), -columns[a].width, a) < (cost(b), -columns[b].width, b)
            }) else { break }
            columns[chosen].width -= 1
        }
        var lines = [line(columns.map(\.title), columns)]
        for row in rows {
            switch row {
            case .cells(let cells):
                let wrapped = cells.indices.map { index in
                    columns[index].isAliasList ? wrapList(cells[index], columns[index].width) : wrap(cells[index], columns[index].width)
                }
                let height = wrapped.map(\.count).max() ?? 1
                for number in 0..<height {
                    lines.append(line(wrapped.map { number < $0.count ? $0[number] : "" }, columns))
                }
            case .note(let text):
                let parts = wrap(text, max(8, width - 4))
                lines.append("  " + parts[0])
                lines += parts.dropFirst().map { "    " + $0 }
            }
        }
        return lines
    }

    private static func line(_ cells: [String], _ columns: [Column]) -> String {
        var out = ""
        for (index, cell) in cells.enumerated() {
            out += cell
            if index < cells.count - 1 { out += String(repeating: " ", count: max(0, columns[index].width - cell.count) + 2) }
        }
        while out.last == " " { out.removeLast() }
        return out
    }

    /// `text` in lines of at most `width`, broken after a `/` (paths), else a space, else
    /// one of `-+.~:_` (versions, ids), where that keeps at least half a line; else at the width.
    static func wrap(_ text: String, _ width: Int) -> [String] {
        guard text.count > width, width > 0 else { return [text] }
        var lines: [String] = []
        var rest = Substring(text)
        while rest.count > width {
            let window = rest.prefix(width)
            func breakAfter(_ separators: String) -> Substring.Index? {
                guard let cut = window.lastIndex(where: { separators.contains($0) }),
                      window.distance(from: window.startIndex, to: cut) + 1 >= (width + 1) / 2 else { return nil }
                return cut
            }
            if let cut = breakAfter("/") ?? breakAfter(" ") ?? breakAfter("-+.~:_") {
                lines.append(String(rest[cut] == " " ? rest[..<cut] : rest[...cut]))
                rest = rest[rest.index(after: cut)...]
            } else {
                lines.append(String(window))
                rest = rest.dropFirst(width)
            }
        }
        if !rest.isEmpty { lines.append(String(rest)) }
        return lines
    }

    /// `A, B, C` in lines of at most `width`: whole items per line (a line break stands for
    /// the comma), an item too long for a line of its own wrapped as `wrap` does.
    static func wrapList(_ text: String, _ width: Int) -> [String] {
        guard text.count > width else { return [text] }
        var lines: [String] = []
        var current = ""
        for item in text.split(separator: ", ").map(String.init) {
            let candidate = current.isEmpty ? item : current + ", " + item
            if candidate.count <= width {
                current = candidate
                continue
            }
            if !current.isEmpty { lines.append(current) }
            if item.count + 1 <= width {
                current = item
            } else {
                let parts = wrap(item, width)
                lines += parts.dropLast()
                current = parts.last ?? ""
            }
        }
        if !current.isEmpty { lines.append(current) }
        return lines
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
