import Security

/// What `scan db import` reads from outside, and the orderings it applies: the first byte
/// picks what the rest is. 0: an OSV file, checked as an import checks it (any error must
/// be one line naming the file). 1: a CVSS v3 vector, whose score must lie in 0…10 in
/// tenths. 2: two versions (a newline between), compared in every scheme: the order must
/// be antisymmetric, a version equal to itself, and `nil` on one side on the other.
/// 3–9: what the inventory reads from an image: a dpkg status file, an apk database, an RPM
/// header blob, an ELF file's Go build info, a Python METADATA file, an npm package.json and
/// lockfile, an os-release file; errors must be one line, and what is found must have a
/// name and a version.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let rest = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    switch data[0] % 10 {
    case 0:
        do {
            let advisory = try AdvisoryImport.check(osv: rest, file: "input.json")
            precondition(!advisory.id.isEmpty && !advisory.modified.isEmpty, "an advisory without id or modified was accepted")
            if let score = advisory.score { precondition((0...10).contains(score), "score \(score)") }
        } catch {
            precondition(error.description.hasPrefix("input.json: ") && !error.description.contains("\n"), "error not one line naming the file: \(error)")
        }
    case 1:
        if let score = try? CVSS.baseScore(vector: String(decoding: rest, as: UTF8.self)) {
            precondition((0...10).contains(score) && (score * 10).rounded() == score * 10, "score \(score)")
        }
    case 3:
        let (packages, skipped) = DpkgStatus.parse(rest, location: "status")
        found(packages, errors: skipped)
    case 4:
        let (packages, skipped) = APKDatabase.parse(rest, location: "installed")
        found(packages, errors: skipped)
    case 5:
        do { found(try RPMHeader.parse(rest).package(location: "rpmdb.sqlite").map { [$0] } ?? []) }
        catch { oneLine(error) }
    case 6:
        do { found(try GoBuildInfo.parse(rest)?.packages(location: "binary") ?? []) }
        catch { oneLine(error) }
    case 7:
        do { found([try PythonMetadata.parse(rest, location: "METADATA")]) }
        catch { oneLine(error) }
    case 8:
        do { found(try NPMPackage.parse(packageJSON: rest, location: "package.json").map { [$0] } ?? []) }
        catch { oneLine(error) }
        do { found(try NPMPackage.parse(lockfile: rest, location: "package-lock.json").map(\.package)) }
        catch { oneLine(error) }
    case 9:
        _ = OSReleaseFile.parse(rest)
    default:
        let text = String(decoding: rest, as: UTF8.self)
        guard let newline = text.firstIndex(of: "\n") else { return 0 }
        let a = String(text[..<newline]), b = String(text[text.index(after: newline)...])
        for scheme in VersionScheme.allCases {
            let forward = scheme.compare(a, b), backward = scheme.compare(b, a)
            precondition(forward.map { -$0 } == backward, "\(scheme): \(a) vs \(b) gives \(String(describing: forward)), reversed \(String(describing: backward))")
            if let self_ = scheme.compare(a, a) { precondition(self_ == 0, "\(scheme): \(a) is not equal to itself") }
        }
    }
    return 0
}

/// Packages found in outside data have a name and a version; what was skipped is one line each.
func found(_ packages: [InstalledPackage], errors: [String] = []) {
    for package in packages { precondition(!package.name.isEmpty && !package.version.isEmpty, "a package without name or version: \(package)") }
    for line in errors { precondition(!line.contains("\n"), "a skipped line of several lines: \(line)") }
}

func oneLine(_ error: ScanError) {
    precondition(!error.description.contains("\n") && !error.description.isEmpty, "an error not one line: \(error)")
}
