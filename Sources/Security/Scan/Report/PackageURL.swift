/// A package URL (github.com/package-url/purl-spec): the one name for a package that SBOM
/// tools, vulnerability databases and CycloneDX agree on. `description` is the canonical
/// string, built as the spec's "How to build a PURL" says, with the type rules of the six
/// types netctl inventories (deb, apk, rpm, pypi, npm, golang).
public struct PackageURL: Hashable, Sendable, CustomStringConvertible {
    public var type: String
    /// Slash-separated segments (`@angular`, `github.com/gorilla`), nil when the type has none.
    public var namespace: String?
    public var name: String
    public var version: String?
    public var qualifiers: [String: String]
    public var subpath: String?

    public init(type: String, namespace: String? = nil, name: String, version: String? = nil,
                qualifiers: [String: String] = [:], subpath: String? = nil) {
        self.type = type
        self.namespace = namespace
        self.name = name
        self.version = version
        self.qualifiers = qualifiers
        self.subpath = subpath
    }

    public var description: String {
        let type = type.lowercased()
        var namespace = namespace
        var name = name
        // The type rules: distributions' vendor and package names are case-insensitive and
        // written lowercase (rpm names are case-sensitive); PyPI folds case and treats `_`
        // as `-`. Go's module paths stay as they are: the golang definition asks for
        // lowercase but calls them case-sensitive, and `github.com/Azure/…` lowercased is
        // a different module to the Go proxy.
        switch type {
        case "deb", "apk":
            namespace = namespace?.lowercased()
            name = name.lowercased()
        case "rpm":
            namespace = namespace?.lowercased()
        case "pypi":
            name = name.lowercased().replacingAll("_", with: "-")
        default:
            break
        }
        var out = "pkg:" + type + "/"
        let segments = (namespace ?? "").split(separator: "/", omittingEmptySubsequences: true)
        for segment in segments { out += Self.encoded(segment) + "/" }
        out += Self.encoded(name.trimmingSlashes)
        if let version, !version.isEmpty { out += "@" + Self.encoded(version) }
        let pairs = qualifiers.filter { !$0.value.isEmpty }.map { $0.key.lowercased() + "=" + Self.encoded($0.value) }.sorted()
        if !pairs.isEmpty { out += "?" + pairs.joined(separator: "&") }
        let subpathSegments = (subpath ?? "").split(separator: "/").filter { $0 != "." && $0 != ".." }
        if !subpathSegments.isEmpty { out += "#" + subpathSegments.map { Self.encoded($0) }.joined(separator: "/") }
        return out
    }

    /// The spec's character encoding: alphanumerics, `.-_~` and `:` stay, every other
    /// byte of the UTF-8 form becomes `%XX` (so `@` of an npm scope is `%40`, `+` of a
    /// Debian version `%2B`).
    static func encoded<S: StringProtocol>(_ text: S) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: ":"):
                bytes.append(byte)
            default:
                bytes += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 15)]]
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension InstalledPackage {
    /// The package's purl, with the distribution from `os` for OS packages:
    /// `pkg:deb/debian/libc6@2.36-9%2Bdeb12u3?arch=amd64&distro=debian-12`,
    /// `pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64&distro=alpine-3.19.1`,
    /// `pkg:rpm/rhel/bash@5.1.8-6.el9?arch=x86_64&distro=rhel-9.3&epoch=1`,
    /// `pkg:pypi/django-allauth@12.23`, `pkg:npm/%40angular/animation@12.3.1`,
    /// `pkg:golang/github.com/gorilla/context@v1.1.1`, `pkg:golang/stdlib@1.19.8`.
    public func packageURL(os: OSRelease?) -> PackageURL {
        let distro = os.map { release in release.versionID.map { "\(release.id)-\($0)" } ?? release.id }
        func qualifiers(_ extra: [String: String] = [:]) -> [String: String] {
            var out = extra
            if let architecture { out["arch"] = architecture }
            if let distro { out["distro"] = distro }
            return out
        }
        switch kind {
        case .dpkg:
            return PackageURL(type: "deb", namespace: os?.id ?? "debian", name: name, version: version, qualifiers: qualifiers())
        case .apk:
            return PackageURL(type: "apk", namespace: os?.id ?? "alpine", name: name, version: version, qualifiers: qualifiers())
        case .rpm:
            // The rpm type keeps the epoch out of the version, in a qualifier of its own.
            var plain = version
            var extra: [String: String] = [:]
            if let colon = version.firstIndex(of: ":"), version[..<colon].allSatisfy(\.isASCIIDigitCharacter), colon != version.startIndex {
                extra["epoch"] = String(version[..<colon])
                plain = String(version[version.index(after: colon)...])
            }
            return PackageURL(type: "rpm", namespace: os?.id ?? "rpm", name: name, version: plain, qualifiers: qualifiers(extra))
        case .python:
            return PackageURL(type: "pypi", name: name, version: version)
        case .npm:
            if name.hasPrefix("@"), let slash = name.firstIndex(of: "/") {
                return PackageURL(type: "npm", namespace: String(name[..<slash]), name: String(name[name.index(after: slash)...]), version: version)
            }
            return PackageURL(type: "npm", name: name, version: version)
        case .go:
            // `(devel)` is what Go records for a main module built from a work tree: no version.
            let known = version == "(devel)" || version.isEmpty ? nil : version
            if let slash = name.lastIndex(of: "/") {
                return PackageURL(type: "golang", namespace: String(name[..<slash]), name: String(name[name.index(after: slash)...]), version: known)
            }
            return PackageURL(type: "golang", name: name, version: known)
        }
    }

    /// `packageURL(os:)` as its canonical string.
    public func purl(os: OSRelease?) -> String { packageURL(os: os).description }
}

fileprivate extension Character {
    var isASCIIDigitCharacter: Bool { isASCII && isNumber }
}

fileprivate extension StringProtocol {
    var trimmingSlashes: Substring {
        let trimmed = drop(while: { $0 == "/" })
        var end = trimmed.endIndex
        while end > trimmed.startIndex, trimmed[trimmed.index(before: end)] == "/" { end = trimmed.index(before: end) }
        return Substring(trimmed[..<end])
    }

    func replacingAll(_ character: Character, with replacement: Character) -> String {
        String(map { $0 == character ? replacement : $0 })
    }
}
