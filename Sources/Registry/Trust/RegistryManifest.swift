import Runtime

/// A tag's manifest as the registry holds it: what `trust sign` signs.
public enum RegistryManifest {
    /// The digest and length of the manifest (or index) `name` names, fetched whole and
    /// hashed here rather than taken from a header.
    public static func describe(_ name: ImageName, configuration: RegistryConfiguration) throws -> (digest: Digest, length: Int64) {
        let client = try configuration.client(for: name.registry)
        let request = HTTPRequest(method: "GET", url: client.url("/v2/\(name.repository)/manifests/\(name.manifestReference)"),
                                  headers: ["Accept: " + ManifestMediaType.accepted.joined(separator: ", ")])
        let response = try client.send(request, scopes: [.pull(name.repository)], limit: ReadLimit.document.bytes)
        try ImagePuller.check(response, what: "manifest \(name.manifestReference)", in: name)
        return (try Digest.of(response.body), Int64(response.body.count))
    }
}
