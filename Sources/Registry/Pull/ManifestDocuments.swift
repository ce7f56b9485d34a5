import FoundationEssentials
import Runtime

/// The media types a pull reads, and what it refuses.
public enum ManifestMediaType {
    public static let ociManifest = "application/vnd.oci.image.manifest.v1+json"
    public static let ociIndex = "application/vnd.oci.image.index.v1+json"
    public static let dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
    public static let dockerList = "application/vnd.docker.distribution.manifest.list.v2+json"

    /// The Accept of a manifest GET: the four a pull reads.
    public static let accepted = [ociManifest, ociIndex, dockerManifest, dockerList]

    static let configs = ["application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json"]
    static let layers = [
        "application/vnd.oci.image.layer.v1.tar", "application/vnd.oci.image.layer.v1.tar+gzip",
        "application/vnd.oci.image.layer.v1.tar+zstd", "application/vnd.docker.image.rootfs.diff.tar.gzip",
    ]
}

/// A manifest GET's answer, decoded by its media type.
enum ManifestDocument {
    case index(ImageIndex, mediaType: String)
    case manifest(ImageManifest, mediaType: String)

    /// `headerType` is the answer's Content-Type; when it is missing or generic the
    /// document's own mediaType field says, else its shape.
    static func decode(_ bytes: [UInt8], headerType: String?, what: String) throws -> ManifestDocument {
        let declared = try decodeDocument(Shape.self, bytes, what: what)
        var mediaType = headerType.map { String(($0.split(separator: ";").first ?? "").filter { $0 != " " && $0 != "\t" }) }
        if mediaType == nil || mediaType == "application/json" || mediaType == "application/octet-stream" || mediaType == "text/plain" {
            mediaType = declared.mediaType ?? (declared.manifests != nil ? ManifestMediaType.ociIndex : declared.config != nil ? ManifestMediaType.ociManifest : nil)
        }
        switch mediaType {
        case ManifestMediaType.ociIndex?, ManifestMediaType.dockerList?:
            return .index(try decodeDocument(ImageIndex.self, bytes, what: what), mediaType: mediaType!)
        case ManifestMediaType.ociManifest?, ManifestMediaType.dockerManifest?:
            let manifest = try decodeDocument(ImageManifest.self, bytes, what: what)
            guard manifest.schemaVersion == 2 else {
                throw RegistryError(.badContent, "\(what): schemaVersion \(manifest.schemaVersion) is not supported (expected 2)")
            }
            if let type = manifest.config.mediaType, !ManifestMediaType.configs.contains(type) {
                throw RegistryError(.badContent, "\(what): config media type \"\(type)\" is not supported (expected an image config: \(ManifestMediaType.configs.joined(separator: ", ")))")
            }
            for layer in manifest.layers {
                let type = layer.mediaType ?? ""
                guard ManifestMediaType.layers.contains(type) else {
                    throw RegistryError(.badContent, "\(what): layer \(layer.digest.short): media type \"\(type)\" is not supported (expected one of \(ManifestMediaType.layers.joined(separator: ", ")))")
                }
                if layer.urls?.isEmpty == false {
                    throw RegistryError(.badContent, "\(what): layer \(layer.digest.short) is a foreign layer (urls), which netctl does not fetch")
                }
            }
            return .manifest(manifest, mediaType: mediaType!)
        default:
            throw RegistryError(.badContent, "\(what): media type \"\(mediaType ?? "none")\" is not supported (expected \(ManifestMediaType.accepted.joined(separator: ", ")))")
        }
    }

    /// The manifest of `platform` in an index (the first that matches, as Docker takes it).
    static func select(_ platform: Platform, in index: ImageIndex, what: String) throws -> Descriptor {
        if let found = index.manifests.first(where: { $0.platform.map(platform.matches) ?? false }) { return found }
        let offered = index.manifests.compactMap { $0.platform?.description }
        throw RegistryError(.notFound, "\(what): no manifest for platform \(platform) (it has \(offered.isEmpty ? "none described" : offered.joined(separator: ", ")))")
    }

    private struct Shape: Decodable {
        var mediaType: String?
        var manifests: [Descriptor]?
        var config: Descriptor?
    }
}

/// A registry's JSON document decoded, its error one line naming the field (Runtime's
/// `decodeJSON`), as a registry error: what the registry sent does not check out.
func decodeDocument<T: Decodable>(_ type: T.Type, _ bytes: [UInt8], what: String) throws -> T {
    do {
        return try decodeJSON(type, bytes, what: what)
    } catch let error as RuntimeError {
        throw RegistryError(.badContent, error.description)
    }
}
