import FoundationEssentials
import Glibc
import Runtime

/// What registries and a user's files hand netctl, each parsed by the code a pull, a push or
/// a login runs on it (never a copy of it), with the invariants that code promises checked:
/// image references, manifest GET answers (headers and body, as the transfer collects
/// them), manifests and indexes with platform selection, `WWW-Authenticate` challenges,
/// registry and token-server error bodies, image configs as a pull decodes them, the auth
/// file (Docker's config.json) and registries.json. Public for the fuzz targets, and for
/// tools that check such data before netctl meets it.
public enum RegistryOutsideData: String, CaseIterable, Sendable {
    case reference, response, manifest, challenge, errorBody, imageConfig, authFile, configuration

    /// The code behind `kind` broke a promise on some input: a netctl bug, not bad data.
    public struct Violation: Error, CustomStringConvertible {
        public var description: String
    }

    /// Parses `bytes` as this kind of data; throws the one-line error netctl would give, or
    /// a `Violation`. The file kinds write their input into `scratch` (a directory of the
    /// caller's: `registries.json`, `config.json` there are overwritten), since the product
    /// reads them from files.
    public func parse(_ bytes: [UInt8], scratch: String = "/tmp") throws {
        switch self {
        case .reference: try Self.reference(String(decoding: bytes, as: UTF8.self))
        case .response: try Self.response(bytes)
        case .manifest: try Self.manifest(bytes, headerType: nil)
        case .challenge: try Self.challenge(String(decoding: bytes, as: UTF8.self))
        case .errorBody: try Self.errorBody(bytes)
        case .imageConfig:
            let config = try decodeDocument(ImageConfig.self, bytes, what: "config")
            _ = config.rootfs.diffIDs.map(\.short)
        case .authFile: try Self.authFile(bytes, scratch: scratch)
        case .configuration: try Self.configuration(bytes, scratch: scratch)
        }
    }

    private static func violation(_ what: String) -> Violation { Violation(description: what) }

    // MARK: References

    /// `ImageName(parsing:)` as `pull` and `push` call it. A name's description and its
    /// stored tag (the familiar form) parse back to the same registry, repository, tag and
    /// digest.
    static func reference(_ text: String) throws {
        for registry in [ImageName.dockerHub, "127.0.0.1:5000"] {
            let name: ImageName
            do { name = try ImageName(parsing: text, defaultRegistry: registry) } catch { continue }
            _ = (name.manifestReference, name.qualified)
            let again = try? ImageName(parsing: name.description)
            guard let again, again.registry == name.registry, again.repository == name.repository,
                  again.effectiveTag == name.effectiveTag, again.digest == name.digest, again.qualified else {
                throw violation("reference \"\(text)\": its description \"\(name.description)\" parses to \(again.map { "\"\($0)\"" } ?? "an error")")
            }
            if let stored = name.storedTag {
                let back = try? ImageName(parsing: stored)
                guard let back, back.registry == name.registry, back.repository == name.repository, back.effectiveTag == name.effectiveTag else {
                    throw violation("reference \"\(text)\": its stored tag \"\(stored)\" parses to \(back.map { "\"\($0)\"" } ?? "an error")")
                }
            }
        }
    }

    // MARK: Manifest answers

    /// A whole answer as libcurl hands it over: `HTTP/1.1 STATUS` and header lines, an
    /// empty line, the body. Headers go through the transfer's own header callback, the body
    /// through its collector (1 MiB, a manifest's limit), then what `ImagePuller` does with
    /// a manifest answer: the status check, and the document by its Content-Type.
    static func response(_ bytes: [UInt8]) throws {
        var end = 0
        var headerEnd = bytes.count
        var bodyStart = bytes.count
        var status = 200
        let state = ExchangeState(limit: 1 << 20, sink: nil)
        var lineStart = 0
        while end < bytes.count {
            if bytes[end] == 0x0a {
                let line = Array(bytes[lineStart...end])
                if line == [0x0a] || line == [0x0d, 0x0a] { headerEnd = lineStart; bodyStart = end + 1; break }
                if lineStart == 0, line.starts(with: Array("HTTP/".utf8)) {
                    // The status is libcurl's to parse; this takes the three digits it would.
                    let fields = String(decoding: line, as: UTF8.self).split(separator: " ")
                    if fields.count > 1, let code = Int(fields[1].prefix(3)), (100...599).contains(code) { status = code }
                }
                line.withUnsafeBytes { state.header($0) }
                lineStart = end + 1
            }
            end += 1
        }
        if headerEnd == bytes.count, lineStart < bytes.count {
            Array(bytes[lineStart...]).withUnsafeBytes { state.header($0) }
        }
        state.status = status
        // The body in chunks, as libcurl delivers it.
        var offset = bodyStart
        while offset < bytes.count {
            let chunk = Array(bytes[offset..<min(bytes.count, offset + 4096)])
            guard chunk.withUnsafeBytes({ state.receive($0) }) else { break }
            offset += chunk.count
        }
        for (name, value) in state.headers {
            guard name == name.lowercased(), !value.hasPrefix(" "), !value.hasSuffix("\r") else {
                throw violation("header \"\(name): \(value)\" kept unnormalized")
            }
        }
        let response = HTTPResponse(status: state.status, headers: state.headers, body: state.body)
        if let header = response.header("WWW-Authenticate") { try challenge(header) }
        let name = try ImageName(parsing: "127.0.0.1:5000/team/app:1.4")
        try ImagePuller.check(response, what: "manifest 1.4", in: name)
        try manifest(response.body, headerType: response.header("Content-Type"))
    }

    /// `ManifestDocument.decode` as a pull calls it, for the Content-Type given and every
    /// one a registry may send; an index then has the host's platform and each platform it
    /// describes selected, and what is selected must be one of its entries, for that platform.
    static func manifest(_ bytes: [UInt8], headerType: String?) throws {
        var types: [String?] = [headerType]
        if headerType == nil {
            types += (["application/json"] + ManifestMediaType.accepted.map { $0 + "; charset=utf-8" }).map { Optional($0) }
        }
        var failure: (any Error)?
        var decoded = false
        for type in types {
            let document: ManifestDocument
            do { document = try ManifestDocument.decode(bytes, headerType: type, what: "manifest") } catch { failure = error; continue }
            decoded = true
            switch document {
            case .manifest(let manifest, let mediaType):
                guard ManifestMediaType.accepted.contains(mediaType) else { throw violation("manifest decoded as \"\(mediaType)\"") }
                _ = ([manifest.config] + manifest.layers).map { ($0.digest.short, $0.size) }
            case .index(let index, let mediaType):
                guard ManifestMediaType.accepted.contains(mediaType) else { throw violation("index decoded as \"\(mediaType)\"") }
                try select(.host, in: index)
                for platform in index.manifests.compactMap(\.platform).prefix(16) {
                    if let parsed = try? Platform(parsing: platform.description) { try select(parsed, in: index) }
                }
            }
        }
        if let failure, !decoded { throw failure }
    }

    private static func select(_ platform: Platform, in index: ImageIndex) throws {
        let chosen: Descriptor
        do { chosen = try ManifestDocument.select(platform, in: index, what: "index") } catch let error as RegistryError where error.kind == .notFound { return }
        guard index.manifests.contains(where: { $0.digest == chosen.digest && $0.size == chosen.size && $0.platform == chosen.platform }) else {
            throw violation("index: \(platform) selected \(chosen.digest), which it does not list")
        }
        guard let found = chosen.platform, found.os == platform.os, found.architecture == platform.architecture,
              platform.variant == nil || found.variant == platform.variant else {
            throw violation("index: \(platform) selected \(chosen.digest) of platform \(chosen.platform?.description ?? "none")")
        }
    }

    // MARK: Authentication

    /// `AuthChallenge.parse`, and the challenge a client answers (`choose`). Every challenge
    /// parsed, written out again as RFC 7235 says, parses back to the same challenges.
    static func challenge(_ header: String) throws {
        let challenges = AuthChallenge.parse(header)
        for challenge in challenges {
            _ = (challenge.realm, challenge.service, challenge.scopes, challenge.error)
            guard !challenge.scheme.isEmpty, challenge.scheme == challenge.scheme.lowercased(),
                  challenge.parameters.keys.allSatisfy({ !$0.isEmpty && $0 == $0.lowercased() }) else {
                throw violation("challenge \"\(header)\": parsed as \(challenge)")
            }
        }
        let written = challenges.map { challenge in
            challenge.scheme + " " + challenge.parameters.sorted { $0.key < $1.key }.map { name, value in
                var quoted = "\""
                for scalar in value.unicodeScalars { if scalar == "\"" || scalar == "\\" { quoted += "\\" }; quoted.unicodeScalars.append(scalar) }
                return "\(name)=\(quoted)\""
            }.joined(separator: ", ")
        }.joined(separator: ", ")
        let again = AuthChallenge.parse(written)
        guard again == challenges else {
            throw violation("challenge \"\(header)\": parsed as \(challenges), written as \"\(written)\", parsed again as \(again)")
        }
        if let client = chooser {
            if let chosen = client.choose(challenges), !challenges.contains(chosen) {
                throw violation("challenge \"\(header)\": chose \(chosen), not one of them")
            }
        }
    }

    /// A client to call `choose` on (nothing is sent; nil when libcurl is not installed).
    private static let chooser: RegistryClient? =
        try? RegistryClient(endpoint: RegistryEndpoint(registry: "127.0.0.1:9", baseURL: "http://127.0.0.1:9"))

    /// An error answer's body, read by a pull's status check (`ImagePuller.check`) and by
    /// the authenticator (`RegistryErrorBody`, registry and token-server forms). The error
    /// says which status it was, and is of the kind the status means.
    static func errorBody(_ bytes: [UInt8]) throws {
        _ = RegistryErrorBody(bytes).summary
        let name = try ImageName(parsing: "127.0.0.1:5000/team/app:1.4")
        let expected: [(status: Int, kind: RegistryError.Kind)] = [(401, .denied), (404, .notFound), (500, .server)]
        for (status, kind) in expected {
            do {
                try ImagePuller.check(HTTPResponse(status: status, headers: [:], body: bytes), what: "manifest 1.4", in: name)
                throw violation("error body: HTTP \(status) passed the status check")
            } catch let error as RegistryError {
                guard error.kind == kind, error.message.contains("HTTP \(status)") else {
                    throw violation("error body: HTTP \(status) gave \(error.kind) \"\(error.message)\"")
                }
            }
        }
    }

    // MARK: Files

    /// Docker's config.json, as `AuthFile` reads it for each registry, then written as
    /// `login` writes it: the credentials stored read back as stored, and after `logout`
    /// none are left for that registry.
    static func authFile(_ bytes: [UInt8], scratch: String) throws {
        let path = scratch + "/config.json"
        try write(bytes, to: path)
        let file = AuthFile(path: path)
        var registries = ["docker.io", "127.0.0.1:5000", "ghcr.io"]
        if let document = JSONValue.object(parsing: bytes) {
            registries += (document["auths"]?.object?.keys.sorted() ?? []).prefix(8)
        }
        for registry in registries { _ = try file.entry(for: registry) }
        _ = try file.credentialStore()
        let credentials = RegistryCredentials(user: "fuzz", password: "p:ss\u{e9}\"word")
        for registry in ["127.0.0.1:5000", "docker.io"] {
            try file.store(credentials, for: registry)
            let stored = try file.entry(for: registry)
            guard stored == .credentials(credentials) else {
                throw violation("auth file \(String(decoding: bytes, as: UTF8.self)): login \(registry) reads back as \(stored)")
            }
            let removed = try file.remove(registry: registry)
            let after = try file.entry(for: registry)
            guard removed, after != .credentials(credentials) else {
                throw violation("auth file \(String(decoding: bytes, as: UTF8.self)): logout \(registry) left \(after)")
            }
        }
    }

    /// registries.json, as `RegistryConfiguration` reads it from `$NETCTL_REGISTRIES_CONF`,
    /// then each registry it names reached as a pull reaches it: an unqualified name
    /// resolved against it, its endpoint (certs.d and the auth file looked up).
    static func configuration(_ bytes: [UInt8], scratch: String) throws {
        let path = scratch + "/registries.json"
        try write(bytes, to: path)
        let configuration = RegistryConfiguration(environment: [
            "NETCTL_REGISTRIES_CONF": path, "NETCTL_CERTS_D": scratch + "/certs.d",
            "REGISTRY_AUTH_FILE": scratch + "/no-auth.json", "HOME": scratch,
        ])
        for registry in ([configuration.defaultRegistry] + configuration.unqualifiedSearch + configuration.insecure).prefix(16) {
            if let name = try? ImageName(parsing: "busybox", defaultRegistry: registry), name.registry != registry {
                throw violation("registries.json: busybox in \(registry) is named \(name)")
            }
            let endpoint = try configuration.endpoint(for: registry)
            _ = (endpoint.baseURL, endpoint.fallbackURL, configuration.isInsecure(registry), RegistryConfiguration.isLoopback(registry))
        }
    }

    private static func write(_ bytes: [UInt8], to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw RegistryError(.input, "\(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var offset = 0
        while offset < bytes.count {
            let count = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            guard count > 0 else { throw RegistryError(.input, "\(path): \(String(cString: strerror(errno)))") }
            offset += count
        }
    }
}
