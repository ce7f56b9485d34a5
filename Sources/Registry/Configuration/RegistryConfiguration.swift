import Glibc
import Runtime

/// Which registry an unqualified name means, how each registry is reached (TLS trust from
/// certs.d, insecure registries), and where credentials are kept.
///
/// PLACEHOLDER (lead): loopback registries are spoken to over plain HTTP, everything else
/// over HTTPS with libcurl's default trust. The transport engineer replaces this with the
/// whole configuration (file, certs.d, insecure fallback, auth file).
public struct RegistryConfiguration: Sendable {
    /// Registries tried in order for an unqualified name (`busybox`); the first is the
    /// default registry.
    public var unqualifiedSearch: [String] = [ImageName.dockerHub]
    public var insecure: [String] = []

    public init() {}

    public var defaultRegistry: String { unqualifiedSearch.first ?? ImageName.dockerHub }

    /// How to reach `registry`.
    public func endpoint(for registry: String) throws -> RegistryEndpoint {
        if registry == ImageName.dockerHub {
            return RegistryEndpoint(registry: registry, baseURL: "https://registry-1.docker.io")
        }
        if registry.hasPrefix("127.") || registry.hasPrefix("localhost") || registry.hasPrefix("[::1]") || insecure.contains(registry) {
            return RegistryEndpoint(registry: registry, baseURL: "http://\(registry)")
        }
        return RegistryEndpoint(registry: registry, baseURL: "https://\(registry)")
    }

    /// A client for `registry`.
    public func client(for registry: String) throws -> RegistryClient {
        try RegistryClient(endpoint: endpoint(for: registry))
    }
}
