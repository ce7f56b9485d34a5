import Glibc

/// Finds the images in an unpacked OCI image layout or docker-save archive: for each, its
/// tags, config and layers as files with the digests and sizes they must have.
enum ImageLayout {
    struct Blob {
        var path: String
        /// How errors name it: `blobs/sha256/…` or the archive's file name.
        var name: String
        var digest: Digest?
        var size: Int64?
        /// The layout or archive directory the blob must be found in.
        var directory: String

        /// The blob's path with every symlink resolved, refused unless it stays inside the
        /// layout: a layout or archive may hold `blobs/sha256/X -> /etc/shadow`, and what is
        /// read as a blob must never be a host file (its size and digest would show in errors).
        func containedPath() throws -> String {
            guard let real = realPath(path) else {
                throw errno == ENOENT ? RuntimeError("\(name) is missing") : RuntimeError.system(name)
            }
            guard let root = realPath(directory), real.hasPrefix(root == "/" ? "/" : root + "/") else {
                throw RuntimeError("\(name): resolves to \(real), outside the image; expected a file inside it")
            }
            return real
        }
    }

    struct Candidate {
        var tags: [String]
        var manifestDigest: Digest?
        /// The manifest of an OCI layout, and its media type: kept in the content store as
        /// it is. Nil for docker-save archives, which have none (one is synthesized).
        var manifest: Blob?
        var manifestMediaType: String?
        var config: Blob
        var layers: [Blob]
    }

    static func read(_ directory: String, defaultName: String) throws -> [Candidate] {
        if access("\(directory)/oci-layout", F_OK) == 0 { return try oci(directory, defaultName: defaultName) }
        if access("\(directory)/manifest.json", F_OK) == 0 { return try dockerArchive(directory) }
        throw RuntimeError("not an OCI image layout or a docker-save archive: it has neither oci-layout nor manifest.json")
    }

    // MARK: OCI image layout

    private struct LayoutFile: Decodable { var imageLayoutVersion: String }

    private static func oci(_ directory: String, defaultName: String) throws -> [Candidate] {
        let layout = try decodeJSON(LayoutFile.self, try readFile("\(directory)/oci-layout", name: "oci-layout", limit: .document), what: "oci-layout")
        guard layout.imageLayoutVersion.hasPrefix("1.") else {
            throw RuntimeError("oci-layout: imageLayoutVersion \"\(layout.imageLayoutVersion)\" is not supported (expected 1.x)")
        }
        let index = try decodeJSON(ImageIndex.self, try readFile("\(directory)/index.json", name: "index.json", limit: .document), what: "index.json")
        var candidates: [Candidate] = []
        for descriptor in index.manifests {
            try walk(descriptor, in: directory, tags: tags(of: descriptor, defaultName: defaultName, only: index.manifests.count == 1), depth: 0, into: &candidates)
        }
        return candidates
    }

    private static func walk(_ descriptor: Descriptor, in directory: String, tags: [String], depth: Int, into candidates: inout [Candidate]) throws {
        if let platform = descriptor.platform, platform.os != "linux" || platform.architecture != hostArchitecture { return }
        switch descriptor.mediaType {
        case MediaType.index, MediaType.dockerList:
            let blob = self.blob(descriptor, in: directory, kind: "index")
            guard depth < 4 else { throw RuntimeError("\(blob.name): image indexes nested too deeply") }
            let index = try decodeJSON(ImageIndex.self, try verified(blob), what: blob.name)
            for child in index.manifests {
                try walk(child, in: directory, tags: tags, depth: depth + 1, into: &candidates)
            }
        case MediaType.manifest, MediaType.dockerManifest, nil:
            let blob = self.blob(descriptor, in: directory, kind: "manifest")
            let manifest = try decodeJSON(ImageManifest.self, try verified(blob), what: blob.name)
            candidates.append(Candidate(
                tags: tags, manifestDigest: descriptor.digest, manifest: blob,
                manifestMediaType: descriptor.mediaType ?? manifest.mediaType ?? MediaType.manifest, config: self.blob(manifest.config, in: directory, kind: "config"),
                layers: manifest.layers.map { self.blob($0, in: directory, kind: "layer") }))
        case let other?:
            throw RuntimeError("blob \(descriptor.digest): media type \"\(other)\" is not an image manifest or index")
        }
    }

    /// `org.opencontainers.image.ref.name` is a whole reference (skopeo, buildah) or only
    /// a tag (umoci); a lone untagged manifest takes the archive's name.
    static func tags(of descriptor: Descriptor, defaultName: String, only: Bool) throws -> [String] {
        if let name = descriptor.annotations?[MediaType.containerdName] { return [try ImageReference.normalize(name)] }
        if let name = descriptor.annotations?[MediaType.refName] {
            let full = name.contains("/") || name.contains(":") ? name : "\(defaultName):\(name)"
            return [try ImageReference.normalize(full)]
        }
        return only ? [try ImageReference.normalize(defaultName)] : []
    }

    /// `kind` (index, manifest, config, layer) names it in errors: "config blob sha256:…".
    private static func blob(_ descriptor: Descriptor, in directory: String, kind: String) -> Blob {
        Blob(path: "\(directory)/blobs/sha256/\(descriptor.digest.hex)", name: "\(kind) blob \(descriptor.digest)",
             digest: descriptor.digest, size: descriptor.size, directory: directory)
    }

    /// A small blob (index, manifest, config), read whole and checked against its
    /// descriptor's size and digest.
    static func verified(_ blob: Blob) throws -> [UInt8] {
        if let size = blob.size, size > ReadLimit.document.bytes {
            throw RuntimeError("\(blob.name): larger than \(ReadLimit.document.description) (its descriptor says \(size) bytes), the most netctl reads of a JSON document")
        }
        let bytes = try readFile(try blob.containedPath(), name: blob.name, limit: .document)
        if let size = blob.size, Int64(bytes.count) != size {
            throw RuntimeError("\(blob.name): size is \(bytes.count) bytes, the descriptor says \(size)")
        }
        let actual = try Digest.of(bytes)
        if let digest = blob.digest, actual != digest {
            throw RuntimeError("\(blob.name): content does not match its digest (it hashes to \(actual))")
        }
        return bytes
    }

    static var hostArchitecture: String {
        #if arch(x86_64)
        return "amd64"
        #elseif arch(arm64)
        return "arm64"
        #else
        return "unknown"
        #endif
    }

    // MARK: docker save

    private static func dockerArchive(_ directory: String) throws -> [Candidate] {
        let entries = try decodeJSON([DockerArchiveEntry].self, try readFile("\(directory)/manifest.json", name: "manifest.json", limit: .document), what: "manifest.json")
        return try entries.map { entry in
            Candidate(
                tags: try (entry.repoTags ?? []).map(ImageReference.normalize), manifestDigest: nil, manifest: nil, manifestMediaType: nil,
                config: file(entry.config, in: directory, kind: "config"), layers: entry.layers.map { file($0, in: directory, kind: "layer") })
        }
    }

    /// A file named in manifest.json. Its name carries its digest when it is
    /// `blobs/sha256/HEX` or `HEX.json`; other layers are checked by their diff ID alone.
    static func file(_ name: String, in directory: String, kind: String) -> Blob {
        let parts = RootDirectory.components(of: name)
        var digest: Digest?
        if parts.count == 3, parts[0] == "blobs", parts[1] == "sha256" {
            digest = Digest(hexOnly: parts[2])
        } else if parts.count == 1, parts[0].hasSuffix(".json") {
            digest = Digest(hexOnly: String(parts[0].dropLast(5)))
        }
        return Blob(path: "\(directory)/\(parts.joined(separator: "/"))", name: "\(kind) \(name)", digest: digest, size: nil, directory: directory)
    }
}

/// `realpath(3)`: the path with every symlink, `.` and `..` resolved; nil with errno set.
func realPath(_ path: String) -> String? {
    guard let resolved = realpath(path, nil) else { return nil }
    defer { free(resolved) }
    return String(cString: resolved)
}
