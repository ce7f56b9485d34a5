/// npm: an installed package's `node_modules/…/package.json`, and a project's
/// `package-lock.json` (lockfileVersion 2 and 3: its `packages` map, keyed by the path each
/// package is installed at).
public enum NPMPackage {
    /// nil when the file names no name or no version (a package.json of a directory that is
    /// not a package: they are not required of those).
    public static func parse(packageJSON bytes: [UInt8], location: String) throws(ScanError) -> InstalledPackage? {
        var name: String?, version: String?
        var scanner = JSONScanner(bytes)
        do {
            try scanner.document { member, key throws(JSONScanner.Failure) in
                if key == "name" { name = try member.stringIfAny() }
                else if key == "version" { version = try member.stringIfAny() }
            }
        } catch {
            throw .invalid("\(location): not JSON: \(error.reason)")
        }
        guard let name, !name.isEmpty, let version, !version.isEmpty else { return nil }
        return InstalledPackage(kind: .npm, name: name, version: version, location: location)
    }

    /// The packages a lockfile installs, with the path each goes to (`node_modules/a`,
    /// `node_modules/a/node_modules/@s/b`) so that the inventory can prefer the installed
    /// package.json when it is there. Left out: the project itself (`""`), workspace
    /// members (paths outside node_modules), links, and development-only dependencies
    /// (`dev: true`), which a production install leaves out.
    public static func parse(lockfile bytes: [UInt8], location: String) throws(ScanError) -> [(installPath: String, package: InstalledPackage)] {
        var version: Int?
        var entries: [(String, String?, String?, Bool)] = []
        var scanner = JSONScanner(bytes)
        do {
            try scanner.document { member, key throws(JSONScanner.Failure) in
                if key == "lockfileVersion" {
                    version = try member.integerIfAny()
                } else if key == "packages" {
                    try member.objectIfAny { packages, path throws(JSONScanner.Failure) in
                        var name: String?, version: String?, dev = false, link = false
                        try packages.objectIfAny { entry, field throws(JSONScanner.Failure) in
                            switch field {
                            case "name": name = try entry.stringIfAny()
                            case "version": version = try entry.stringIfAny()
                            case "dev": dev = try entry.boolIfAny() ?? false
                            case "link": link = try entry.boolIfAny() ?? false
                            default: break
                            }
                        }
                        entries.append((path, name, version, dev || link))
                    }
                }
            }
        } catch {
            throw .invalid("\(location): not JSON: \(error.reason)")
        }
        guard let version else { throw .invalid("\(location): no lockfileVersion") }
        guard version >= 2 else { throw .invalid("\(location): lockfileVersion \(version): only 2 and 3 (with `packages`) are read") }
        var out: [(installPath: String, package: InstalledPackage)] = []
        for (path, name, packageVersion, left) in entries where !left {
            let parts = path.split(separator: "/", omittingEmptySubsequences: false)
            guard let marker = parts.lastIndex(of: "node_modules"), marker + 1 < parts.count else { continue }
            let installedName = name ?? parts[(marker + 1)...].joined(separator: "/")
            guard !installedName.isEmpty, let packageVersion, !packageVersion.isEmpty else { continue }
            out.append((path, InstalledPackage(kind: .npm, name: installedName, version: packageVersion, location: location)))
        }
        return out
    }
}
