/// An image reference as Docker parses it: `[HOST[:PORT]/]PATH[:TAG][@DIGEST]`
/// (distribution's reference grammar).
///
/// The first path component is a registry host when it has a `.` or a `:`, is `localhost`,
/// or has an uppercase letter; otherwise the name is unqualified and belongs to the default
/// registry (Docker Hub, where a one-component name is under `library/`). Tags are kept in
/// the store in Docker's familiar form: `busybox:latest`, `team/app:1`,
/// `registry.example:5000/team/app:1.4`.
public struct ImageName: Hashable, Sendable, CustomStringConvertible {
    /// `docker.io`, `registry.example:5000`, `[2001:db8::1]:5000`.
    public var registry: String
    /// The repository inside the registry: `library/busybox`, `team/app`.
    public var repository: String
    /// Nil when the reference gives only a digest, or nothing (then `latest` is meant).
    public var tag: String?
    public var digest: Digest?
    /// Whether the text named its registry: unqualified names may be searched for in
    /// several registries.
    public var qualified: Bool

    public static let dockerHub = "docker.io"

    /// Parses `text` as Docker does; an unqualified name belongs to `defaultRegistry`.
    /// Throws one line naming the text and what was expected.
    public init(parsing text: String, defaultRegistry: String = ImageName.dockerHub) throws {
        func invalid(_ why: String) -> RuntimeError {
            RuntimeError("invalid image reference \"\(text)\": \(why)")
        }
        guard !text.isEmpty else { throw invalid("it is empty; expected [HOST[:PORT]/]NAME[:TAG][@DIGEST]") }
        guard text.utf8.count <= 512 else { throw invalid("longer than 512 bytes") }
        var rest = Substring(text)
        if let at = rest.firstIndex(of: "@") {
            digest = try Digest(parsing: String(rest[rest.index(after: at)...]), field: "digest of \"\(text)\"")
            rest = rest[..<at]
        }
        // A tag follows the last colon, unless a slash comes after it (a registry's port).
        if let colon = rest.lastIndex(of: ":"), !rest[colon...].contains("/") {
            let tag = String(rest[rest.index(after: colon)...])
            guard Self.isTag(tag) else { throw invalid("tag \"\(tag)\": expected up to 128 of [A-Za-z0-9_.-], not starting with . or -") }
            self.tag = tag
            rest = rest[..<colon]
        }
        var components = rest.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        if components.count > 1, Self.isRegistryLike(components[0]) {
            let host = components.removeFirst()
            guard Self.isRegistryHost(host) else { throw invalid("registry \"\(host)\": expected HOST[:PORT]") }
            registry = host == "index.docker.io" || host == "registry-1.docker.io" ? Self.dockerHub : host
            qualified = true
        } else {
            registry = defaultRegistry
            qualified = false
        }
        for component in components where !Self.isPathComponent(component) {
            if component.contains(where: \.isUppercase) { throw invalid("repository names must be lowercase") }
            throw invalid("name component \"\(component)\": expected [a-z0-9] separated by one of . _ __ -")
        }
        if registry == Self.dockerHub && components.count == 1 { components.insert("library", at: 0) }
        repository = components.joined(separator: "/")
        guard (registry + "/" + repository).utf8.count <= 255 else { throw invalid("name longer than 255 bytes") }
    }

    /// The tag meant: the one given, or `latest` unless a digest was given.
    public var effectiveTag: String? { tag ?? (digest == nil ? "latest" : nil) }

    /// What a registry call names: the digest when there is one, else the tag.
    public var manifestReference: String { digest?.description ?? effectiveTag ?? "latest" }

    /// `busybox`, `team/app`, `registry.example:5000/team/app`: Docker's familiar name.
    public var familiarName: String {
        // `docker.io/a.b/c` keeps its registry: `a.b/c` would read back as registry a.b.
        guard registry == Self.dockerHub, !Self.isRegistryLike(String(repository.prefix { $0 != "/" })) else {
            return "\(registry)/\(repository)"
        }
        return repository.hasPrefix("library/") && repository.split(separator: "/").count == 2
            ? String(repository.dropFirst(8)) : repository
    }

    /// The tag as the store keeps it (`busybox:latest`), or nil for a digest-only reference.
    public var storedTag: String? { effectiveTag.map { "\(familiarName):\($0)" } }

    /// `registry.example:5000/team/app:1.4`, `docker.io/library/busybox@sha256:…`.
    public var description: String {
        var text = "\(registry)/\(repository)"
        if let tag { text += ":\(tag)" }
        if let digest { text += "@\(digest)" }
        if tag == nil && digest == nil { text += ":latest" }
        return text
    }

    // MARK: Grammar

    static func isRegistryLike(_ component: String) -> Bool {
        component.contains(".") || component.contains(":") || component == "localhost" || component.contains(where: \.isUppercase)
    }

    /// `HOST[:PORT]` with DNS-label host parts, or `[IPv6][:PORT]`.
    static func isRegistryHost(_ text: String) -> Bool {
        var host = Substring(text)
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return false }
            let inside = host[host.index(after: host.startIndex)..<close]
            guard !inside.isEmpty, inside.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else { return false }
            host = host[host.index(after: close)...]
            if host.isEmpty { return true }
            guard host.hasPrefix(":") else { return false }
            return isPort(host.dropFirst())
        }
        if let colon = host.firstIndex(of: ":") {
            guard isPort(host[host.index(after: colon)...]) else { return false }
            host = host[..<colon]
        }
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        return !labels.isEmpty && labels.allSatisfy { label in
            !label.isEmpty && label.utf8.count <= 63 && label.first != "-" && label.last != "-"
                && label.utf8.allSatisfy { isAlphanumeric($0) || $0 == 0x2d }
        }
    }

    static func isPort(_ text: Substring) -> Bool {
        // Digits only: Int("+5000") would take a sign into the registry's URL.
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let port = Int(text), (1...65535).contains(port) else { return false }
        return true
    }

    /// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
    static func isPathComponent(_ text: String) -> Bool {
        var bytes = Array(text.utf8)[...]
        func alnumRun() -> Bool {
            let start = bytes.startIndex
            while let byte = bytes.first, (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x30 && byte <= 0x39) { bytes = bytes.dropFirst() }
            return bytes.startIndex > start
        }
        guard alnumRun() else { return false }
        while let byte = bytes.first {
            switch byte {
            case 0x2e: bytes = bytes.dropFirst()
            case 0x5f: bytes = bytes.dropFirst(bytes.dropFirst().first == 0x5f ? 2 : 1)
            case 0x2d: while bytes.first == 0x2d { bytes = bytes.dropFirst() }
            default: return false
            }
            guard alnumRun() else { return false }
        }
        return true
    }

    /// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`
    static func isTag(_ text: String) -> Bool {
        guard let first = text.utf8.first, text.utf8.count <= 128, isAlphanumeric(first) || first == 0x5f else { return false }
        return text.utf8.allSatisfy { isAlphanumeric($0) || $0 == 0x5f || $0 == 0x2e || $0 == 0x2d }
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x30 && byte <= 0x39)
    }
}
