import Glibc

/// What software a root holds: one walk of its layers (or its one directory) finds the
/// package databases, language packages' metadata and executables; then only those files
/// are read, each bounded. A file that cannot be read is one line of `skipped`.
public enum InventoryScanner {
    // Read limits: package databases and lockfiles, then metadata files, then os-release.
    static let databaseLimit = 64 << 20
    static let metadataLimit = 1 << 20
    static let smallLimit = 64 << 10

    public static func inventory(of root: ScanRoot) throws(ScanError) -> Inventory {
        let tree = RootTree()
        for (index, layer) in root.layers.enumerated() {
            try tree.apply(layer: index, directory: layer.directory, layered: root.isLayered)
        }
        var inventory = Inventory(skipped: tree.skipped)
        let candidates = tree.candidates()
        let files = ScanFiles(directories: root.layers.map(\.directory))
        let installedNPM = Set(candidates.lazy.filter { $0.kind == .npmPackage }.map(\.path))

        let releases = candidates.filter { $0.kind == .osRelease }
        if let release = releases.first(where: { $0.path == "etc/os-release" }) ?? releases.first {
            switch files.read(release.path, layer: release.layers.last!, limit: smallLimit) {
            case .success(let bytes): inventory.os = OSReleaseFile.parse(bytes)
            case .failure(let error): inventory.skipped.append(error.description)
            }
        }

        for candidate in candidates where candidate.kind != .osRelease {
            let reader = PackageReader(files: files, candidate: candidate, installedNPM: installedNPM)
            guard let top = reader.packages(layer: candidate.layers.last!, skipped: &inventory.skipped) else { continue }
            inventory.packages += attribute(top, candidate: candidate, reader: reader, layers: root.layers)
        }
        inventory.packages.sort {
            ($0.location, $0.name, $0.version, $0.architecture ?? "") < ($1.location, $1.name, $1.version, $1.architecture ?? "")
        }
        return inventory
    }

    /// Each package of the top version of a file goes to the lowest layer from which it is
    /// there unchanged all the way up: a package db rewritten by every `apt-get install`
    /// keeps each package with the layer that installed (or last upgraded) it.
    private static func attribute(_ top: [InstalledPackage], candidate: RootTree.Candidate, reader: PackageReader,
                                  layers: [ScanRoot.Layer]) -> [InstalledPackage] {
        let history = candidate.layers
        guard layers[history.last!].diffID != nil else { return top }
        var attributed = top.map { ($0, history.count - 1) }
        var open = Set(attributed.indices)
        var position = history.count - 2
        while position >= 0 && !open.isEmpty {
            var ignored: [String] = []
            let below = Set((reader.packages(layer: history[position], skipped: &ignored) ?? []).map(Self.key))
            for index in open {
                if below.contains(Self.key(attributed[index].0)) { attributed[index].1 = position } else { open.remove(index) }
            }
            position -= 1
        }
        return attributed.map { package, position in
            var package = package
            package.layer = layers[history[position]].diffID
            return package
        }
    }

    /// What makes a package the same one in two versions of a file.
    private static func key(_ package: InstalledPackage) -> String {
        "\(package.name)\u{0}\(package.architecture ?? "")\u{0}\(package.version)\u{0}\(package.sourceVersion ?? "")"
    }

    /// The packages one candidate file holds, in the version a given layer wrote.
    private struct PackageReader {
        let files: ScanFiles
        let candidate: RootTree.Candidate
        let installedNPM: Set<String>

        /// nil when the file held nothing to report (not a Go binary, a directory's
        /// package.json); reasons for what could not be read go to `skipped`.
        func packages(layer: Int, skipped: inout [String]) -> [InstalledPackage]? {
            let path = candidate.path
            switch candidate.kind {
            case .osRelease:
                return nil
            case .dpkgStatus, .dpkgStatusPart:
                guard let bytes = read(layer, InventoryScanner.databaseLimit, &skipped) else { return nil }
                let parsed = DpkgStatus.parse(bytes, location: path)
                skipped += parsed.skipped
                return parsed.packages
            case .apkInstalled:
                guard let bytes = read(layer, InventoryScanner.databaseLimit, &skipped) else { return nil }
                let parsed = APKDatabase.parse(bytes, location: path)
                skipped += parsed.skipped
                return parsed.packages
            case .rpmSQLite:
                switch files.openFile(path, layer: layer) {
                case .failure(let error):
                    skipped.append(error.description)
                    return nil
                case .success(let fd):
                    defer { close(fd) }
                    let wal = try? files.openFile(path + "-wal", layer: layer).get()
                    defer { if let wal { close(wal) } }
                    do {
                        let parsed = try RPMDatabase.read(fd: fd, wal: wal, location: path)
                        skipped += parsed.skipped
                        return parsed.packages
                    } catch {
                        skipped.append(error.description)
                        return nil
                    }
                }
            case .rpmUnsupported:
                skipped.append("\(path): a Berkeley DB or ndb RPM database, not read (only rpmdb.sqlite is)")
                return nil
            case .pythonMetadata:
                // The headers are at the start: read a little first, the rest only if needed.
                guard let head = read(layer, InventoryScanner.smallLimit, &skipped, wholeOnly: false) else { return nil }
                if let package = try? PythonMetadata.parse(head, location: path) { return [package] }
                guard let bytes = head.count < InventoryScanner.smallLimit ? head : read(layer, InventoryScanner.metadataLimit, &skipped) else { return nil }
                do {
                    return [try PythonMetadata.parse(bytes, location: path)]
                } catch {
                    skipped.append(error.description)
                    return nil
                }
            case .npmPackage:
                guard let bytes = read(layer, InventoryScanner.metadataLimit, &skipped) else { return nil }
                do {
                    return try NPMPackage.parse(packageJSON: bytes, location: path).map { [$0] }
                } catch {
                    skipped.append(error.description)
                    return nil
                }
            case .npmLockfile:
                guard let bytes = read(layer, InventoryScanner.databaseLimit, &skipped) else { return nil }
                let directory = path.split(separator: "/").dropLast().joined(separator: "/")
                do {
                    // A package installed beside the lockfile is reported from its package.json.
                    return try NPMPackage.parse(lockfile: bytes, location: path).compactMap { entry in
                        let installed = (directory.isEmpty ? "" : directory + "/") + entry.installPath + "/package.json"
                        return installedNPM.contains(installed) ? nil : entry.package
                    }
                } catch {
                    skipped.append(error.description)
                    return nil
                }
            case .executable:
                switch files.openFile(path, layer: layer) {
                case .failure:
                    return nil  // unreadable executables are not package data
                case .success(let fd):
                    defer { close(fd) }
                    do {
                        return try GoBuildInfo.parse(FileByteSource(fd: fd))?.packages(location: path)
                    } catch {
                        skipped.append("\(path): \(error)")
                        return nil
                    }
                }
            }
        }

        private func read(_ layer: Int, _ limit: Int, _ skipped: inout [String], wholeOnly: Bool = true) -> [UInt8]? {
            switch files.read(candidate.path, layer: layer, limit: limit, wholeOnly: wholeOnly) {
            case .success(let bytes): return bytes
            case .failure(let error):
                skipped.append(error.description)
                return nil
            }
        }
    }
}
