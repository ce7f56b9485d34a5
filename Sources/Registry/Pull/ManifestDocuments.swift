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

/// A content descriptor as manifests and indexes carry it.
struct RemoteDescriptor: Codable {
    var mediaType: String?
    var digest: Digest
    var size: Int64
    var platform: Platform?
    var urls: [String]?
}

struct RemoteIndex: Codable {
    var schemaVersion: Int
    var mediaType: String?
    var manifests: [RemoteDescriptor]
}

struct RemoteManifest: Codable {
    var schemaVersion: Int
    var mediaType: String?
    var config: RemoteDescriptor
    var layers: [RemoteDescriptor]
}

/// `os/arch[/variant]`, as `--platform` takes it and indexes describe their manifests.
public struct Platform: Codable, Sendable, Equatable, CustomStringConvertible {
    public var os: String
    public var architecture: String
    public var variant: String?

    public init(os: String, architecture: String, variant: String? = nil) {
        self.os = os
        self.architecture = architecture
        self.variant = variant
    }

    /// `linux/amd64`, `linux/arm64/v8`; refused in one line otherwise.
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard (2...3).contains(parts.count), parts.allSatisfy({ !$0.isEmpty }) else {
            throw RegistryError(.input, "platform \"\(text)\": expected OS/ARCH[/VARIANT], like linux/amd64")
        }
        self.init(os: parts[0], architecture: parts[1], variant: parts.count == 3 ? parts[2] : nil)
    }

    /// The host's: linux and the architecture netctl was built for.
    public static var host: Platform {
        #if arch(x86_64)
        Platform(os: "linux", architecture: "amd64")
        #elseif arch(arm64)
        Platform(os: "linux", architecture: "arm64")
        #else
        Platform(os: "linux", architecture: "unknown")
        #endif
    }

    public var description: String { [os, architecture, variant].compactMap { $0 }.joined(separator: "/") }

    /// An index entry for `self`: os and architecture equal; the variant too when one was
    /// asked for.
    func matches(_ other: Platform) -> Bool {
        other.os == os && other.architecture == architecture && (variant == nil || other.variant == variant)
    }
}

/// A manifest GET's answer, decoded by its media type.
enum ManifestDocument {
    case index(RemoteIndex, mediaType: String)
    case manifest(RemoteManifest, mediaType: String)

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
            return .index(try decodeDocument(RemoteIndex.self, bytes, what: what), mediaType: mediaType!)
        case ManifestMediaType.ociManifest?, ManifestMediaType.dockerManifest?:
            let manifest = try decodeDocument(RemoteManifest.self, bytes, what: what)
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
    static func select(_ platform: Platform, in index: RemoteIndex, what: String) throws -> RemoteDescriptor {
        if let found = index.manifests.first(where: { $0.platform.map(platform.matches) ?? false }) { return found }
        let offered = index.manifests.compactMap { $0.platform?.description }
        throw RegistryError(.notFound, "\(what): no manifest for platform \(platform) (it has \(offered.isEmpty ? "none described" : offered.joined(separator: ", ")))")
    }

    private struct Shape: Decodable {
        var mediaType: String?
        var manifests: [RemoteDescriptor]?
        var config: RemoteDescriptor?
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
