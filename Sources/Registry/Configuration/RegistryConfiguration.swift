import FoundationEssentials
import Glibc
import Runtime

/// Which registry an unqualified name means, how each registry is reached (TLS trust from
/// certs.d, insecure registries, Docker Hub's API host), and as whom (the auth file).
///
/// Read from `$NETCTL_REGISTRIES_CONF` or `/etc/netctl/registries.json` (absent: the
/// defaults): `{"unqualified-search": ["docker.io"], "insecure": ["HOST:PORT"]}`. Per
/// registry, certs.d directories (`$NETCTL_CERTS_D`, colon-separated, else
/// `/etc/netctl/certs.d`, `/etc/docker/certs.d`, `/etc/containers/certs.d`) hold
/// `HOST:PORT/*.crt` CAs, trusted beside the system roots, and `*.cert` + `*.key` client
/// pairs, as Docker and podman lay them out.
public struct RegistryConfiguration: Sendable {
    /// Registries tried in order for an unqualified name (`busybox`); the first is the
    /// default registry.
    public var unqualifiedSearch: [String] = [ImageName.dockerHub]
    /// Registries spoken to without verifying their certificate, and over plain HTTP when
    /// they do not speak TLS (as Docker's `insecure-registries`). Loopback registries also
    /// fall back to plain HTTP, but a certificate they present is verified.
    public var insecure: [String] = []
    public var certsDirectories: [String]
    /// The system's roots, which certs.d CAs are trusted beside: a directory of them by
    /// subject hash (c_rehash's, which Debian's ca-certificates keeps).
    public var systemRoots = "/etc/ssl/certs"
    /// Where credentials are read (`--authfile`, else the environment's).
    public var authFile: AuthFile
    /// The configuration file that was read, if any.
    public private(set) var source: String?
    /// Why the configuration file could not be used: thrown by `endpoint(for:)`, so that a
    /// bad file stops registry commands with one line and bothers no other command.
    private var loadError: RegistryError?

    /// Files beyond these sizes are not what they claim to be.
    static let configurationLimit = ReadLimit(bytes: 1 << 20, kind: "a registries configuration")
    static let certificateLimit = ReadLimit(bytes: 1 << 20, kind: "a PEM certificate")

    /// The configuration in effect: the environment's files, and `authFile` (a
    /// `--authfile` flag) if given.
    public init(authFile: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.authFile = AuthFile.locate(authFile, environment: environment)
        if let list = environment["NETCTL_CERTS_D"], !list.isEmpty {
            certsDirectories = list.split(separator: ":").map(String.init)
        } else {
            certsDirectories = ["/etc/netctl/certs.d", "/etc/docker/certs.d", "/etc/containers/certs.d"]
        }
        let path = environment["NETCTL_REGISTRIES_CONF"].flatMap { $0.isEmpty ? nil : $0 } ?? "/etc/netctl/registries.json"
        do {
            try load(path)
        } catch let error as RegistryError {
            loadError = error
        } catch {
            loadError = RegistryError(.input, "registries configuration \(path): \(error)")
        }
    }

    public var defaultRegistry: String { unqualifiedSearch.first ?? ImageName.dockerHub }

    /// How to reach `registry` (`docker.io`, `registry.example:5000`, `127.0.0.1:5000`).
    public func endpoint(for registry: String) throws -> RegistryEndpoint {
        if let loadError { throw loadError }
        let insecure = isInsecure(registry)
        let loopback = Self.isLoopback(registry)
        let host = registry == ImageName.dockerHub ? "registry-1.docker.io" : registry
        var endpoint = RegistryEndpoint(registry: registry, baseURL: "https://\(host)",
                                        fallbackURL: insecure || loopback ? "http://\(host)" : nil,
                                        verifyPeer: !insecure)
        // certs.d: the directory named as references name the registry (docker.io also as
        // its API host).
        let names = registry == ImageName.dockerHub ? [registry, host] : [registry]
        endpoint.trustDirectories = certsDirectories.flatMap { root in names.map { root + "/" + $0 } }
        var authorities: [[UInt8]] = []
        for directory in endpoint.trustDirectories {
            let files = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
            for file in files where file.hasSuffix(".crt") {
                authorities.append(try readSmallFile(directory + "/" + file, name: "CA certificate \(directory)/\(file)", limit: Self.certificateLimit))
            }
            for file in files where file.hasSuffix(".cert") && endpoint.clientCertificate == nil {
                let key = String(file.dropLast(".cert".count)) + ".key"
                guard files.contains(key) else {
                    throw RegistryError(.input, "registry \(registry): client certificate \(directory)/\(file) has no key \(directory)/\(key)")
                }
                endpoint.clientCertificate = directory + "/" + file
                endpoint.clientKey = directory + "/" + key
            }
        }
        if !authorities.isEmpty {
            var bundle: [UInt8] = []
            for authority in authorities {
                if let last = bundle.last, last != 0x0a { bundle.append(0x0a) }
                bundle += authority
            }
            endpoint.caBundle = bundle
            endpoint.rootsDirectory = systemRoots
        }
        endpoint.authFile = authFile.path
        switch try authFile.entry(for: registry) {
        case .credentials(let credentials): endpoint.credentials = credentials
        case .helper(let name): endpoint.credentialHelper = name
        case .none: break
        }
        return endpoint
    }

    /// A client for `registry`.
    public func client(for registry: String) throws -> RegistryClient {
        try RegistryClient(endpoint: endpoint(for: registry))
    }

    /// A client for `registry` that authenticates as `credentials` whatever the auth file
    /// says (`netctl login` trying credentials before it saves them).
    public func client(for registry: String, credentials: RegistryCredentials) throws -> RegistryClient {
        var endpoint = try endpoint(for: registry)
        endpoint.credentials = credentials
        endpoint.credentialHelper = nil
        return try RegistryClient(endpoint: endpoint)
    }

    func isInsecure(_ registry: String) -> Bool {
        insecure.contains(registry) || insecure.contains(String(hostName(of: "x://" + registry)))
    }

    /// 127.0.0.0/8, ::1 and localhost: plain HTTP is as private there as TLS.
    static func isLoopback(_ registry: String) -> Bool {
        let host = hostName(of: "x://" + registry)
        return host.hasPrefix("127.") || host == "localhost" || host == "[::1]"
    }

    private mutating func load(_ path: String) throws {
        guard access(path, F_OK) == 0 else { return }
        let bytes = try readSmallFile(path, name: "registries configuration \(path)", limit: Self.configurationLimit)
        guard let document = JSONValue.object(parsing: bytes) else {
            throw RegistryError(.input, "registries configuration \(path): not a JSON object (expected {\"unqualified-search\": [\"docker.io\"], \"insecure\": [\"HOST:PORT\"]})")
        }
        for (key, value) in document {
            guard let list = value.strings else {
                throw RegistryError(.input, "registries configuration \(path): \"\(key)\" is not a list of registries")
            }
            switch key {
            case "unqualified-search": unqualifiedSearch = list
            case "insecure": insecure = list
            default: throw RegistryError(.input, "registries configuration \(path): unknown key \"\(key)\" (expected \"unqualified-search\", \"insecure\")")
            }
        }
        source = path
    }
}

/// A file netctl is handed (the auth file, registries.json, certs.d files), whole: Runtime's
/// bounded reader, which refuses a FIFO or a device before reading (an auth file that is a
/// FIFO would block a pull for ever) and stops at `limit`; its error as a registry one.
func readSmallFile(_ path: String, name: String, limit: ReadLimit) throws -> [UInt8] {
    do {
        return try readFile(path, name: name, limit: limit)
    } catch let error as RuntimeError {
        throw RegistryError(.input, error.description)
    }
}
