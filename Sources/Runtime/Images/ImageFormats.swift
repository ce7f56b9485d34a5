/// The JSON documents of OCI image layouts (image-spec 1.x) and docker-save archives, and
/// of registries' manifests and indexes, as far as running an image needs them.
package struct Descriptor: Codable {
    package var mediaType: String?
    package var digest: Digest
    package var size: Int64
    package var annotations: [String: String]?
    package var platform: Platform?
    /// Where a foreign (non-distributable) layer lives; a pull refuses those.
    package var urls: [String]?
}

/// index.json, or a manifest list inside it.
package struct ImageIndex: Codable {
    package var schemaVersion: Int
    package var mediaType: String?
    package var manifests: [Descriptor]
}

package struct ImageManifest: Codable {
    package var schemaVersion: Int
    package var mediaType: String?
    package var config: Descriptor
    package var layers: [Descriptor]
}

/// docker save's manifest.json: one entry per image.
struct DockerArchiveEntry: Codable {
    var config: String
    var repoTags: [String]?
    var layers: [String]

    enum CodingKeys: String, CodingKey {
        case config = "Config", repoTags = "RepoTags", layers = "Layers"
    }
}

/// The image configuration (application/vnd.oci.image.config.v1+json).
public struct ImageConfig: Codable, Sendable {
    public var architecture: String?
    public var os: String?
    public var variant: String?
    public var created: String?
    public var config: ExecutionConfig?
    public var rootfs: RootFS

    public struct RootFS: Codable, Sendable {
        public var type: String
        public var diffIDs: [Digest]

        enum CodingKeys: String, CodingKey { case type, diffIDs = "diff_ids" }
    }

    /// What the image asks for by default; `run` flags override it.
    public struct ExecutionConfig: Codable, Sendable {
        public var user: String?
        public var env: [String]?
        public var entrypoint: [String]?
        public var cmd: [String]?
        public var workingDir: String?
        public var exposedPorts: [String: Empty]?
        public var labels: [String: String]?
        public var stopSignal: String?

        public struct Empty: Codable, Sendable {}

        enum CodingKeys: String, CodingKey {
            case user = "User", env = "Env", entrypoint = "Entrypoint", cmd = "Cmd", workingDir = "WorkingDir"
            case exposedPorts = "ExposedPorts", labels = "Labels", stopSignal = "StopSignal"
        }
    }
}

enum MediaType {
    static let index = "application/vnd.oci.image.index.v1+json"
    static let manifest = "application/vnd.oci.image.manifest.v1+json"
    static let dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
    static let dockerList = "application/vnd.docker.distribution.manifest.list.v2+json"
    static let config = "application/vnd.oci.image.config.v1+json"
    static let layerTar = "application/vnd.oci.image.layer.v1.tar"
    static let layerGzip = "application/vnd.oci.image.layer.v1.tar+gzip"
    static let layerZstd = "application/vnd.oci.image.layer.v1.tar+zstd"
    static let refName = "org.opencontainers.image.ref.name"
    static let containerdName = "io.containerd.image.name"
}
