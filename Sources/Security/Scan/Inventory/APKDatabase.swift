/// apk-tools' `lib/apk/db/installed`: one stanza per package, one `X:value` line per field
/// (apk-tools' database format: P name, V version, A architecture, o origin, then the
/// package's files); field letters are case-sensitive (`a:` is a file's ACL, `A:` the
/// architecture).
public enum APKDatabase {
    public static func parse(_ bytes: [UInt8], location: String) -> (packages: [InstalledPackage], skipped: [String]) {
        var packages: [InstalledPackage] = []
        var skipped: [String] = []
        var number = 0
        for stanza in ControlStanzas(bytes) {
            number += 1
            var name: String?, version: String?, architecture: String?, origin: String?
            var problem: String?
            for field in stanza.fields {
                switch field.name {
                case .malformed(let line): problem = problem ?? "line \(line): expected `X:value`, got \(DpkgStatus.quoted(field.value))"
                case .named(let letter):
                    guard letter.count == 1 else {
                        problem = problem ?? "field \(DpkgStatus.quoted(String(decoding: letter, as: UTF8.self))): expected one letter"
                        continue
                    }
                    switch letter.first! {
                    case UInt8(ascii: "P"): name = field.value
                    case UInt8(ascii: "V"): version = field.value
                    case UInt8(ascii: "A"): architecture = field.value
                    case UInt8(ascii: "o"): origin = field.value
                    default: break
                    }
                }
            }
            let entry = name.map { "entry \(number) (\(DpkgStatus.quoted($0)))" } ?? "entry \(number)"
            if problem == nil {
                if name?.isEmpty ?? true { problem = "no P: (name) line" }
                else if version?.isEmpty ?? true { problem = "no V: (version) line" }
            }
            if let problem {
                skipped.append("\(location): \(entry): \(problem)")
                continue
            }
            packages.append(InstalledPackage(kind: .apk, name: name!, version: version!,
                                             sourceName: origin.flatMap { $0.isEmpty ? nil : $0 } ?? name!,
                                             architecture: architecture, location: location))
        }
        return (packages, skipped)
    }
}
