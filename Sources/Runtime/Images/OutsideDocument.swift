import CNM
import Security

/// The JSON documents netctl reads from outside, each parsed as the importer or the OCI
/// runtime parses it, with the checks that need no files: an image layout's index.json and
/// manifests, an image config, docker save's manifest.json, a bundle's config.json. Public
/// for tools that validate documents before importing them, and for the fuzz targets.
public enum OutsideDocument: String, CaseIterable, Sendable {
    case index, manifest, config, dockerManifest, runtimeSpec

    /// Parses `bytes` as this kind of document; throws the one-line error the importer or
    /// the runtime would give.
    public func parse(_ bytes: [UInt8]) throws {
        let name = rawValue
        switch self {
        case .index:
            let index = try decodeJSON(ImageIndex.self, bytes, what: name)
            for descriptor in index.manifests {
                _ = try ImageLayout.tags(of: descriptor, defaultName: "image", only: index.manifests.count == 1)
                _ = descriptor.digest.hex
            }
        case .manifest:
            let manifest = try decodeJSON(ImageManifest.self, bytes, what: name)
            _ = ([manifest.config] + manifest.layers).map { $0.digest.hex }
        case .config:
            let config = try decodeJSON(ImageConfig.self, bytes, what: name)
            // What `run` takes from it: exposed ports are read as `--expose` is.
            for port in (config.config?.exposedPorts ?? [:]).keys { _ = try ExposedPorts(parsing: port) }
        case .dockerManifest:
            let entries = try decodeJSON([DockerArchiveEntry].self, bytes, what: name)
            for entry in entries {
                _ = try (entry.repoTags ?? []).map(ImageReference.normalize)
                _ = ([entry.config] + entry.layers).map { ImageLayout.file($0, in: "/nonexistent", kind: "blob") }
            }
        case .runtimeSpec:
            let spec = try decodeJSON(RuntimeSpec.self, bytes, what: name)
            guard spec.ociVersion.hasPrefix("1.") else {
                throw RuntimeError("\(name): ociVersion \"\(spec.ociVersion)\" is not supported (expected 1.x)")
            }
            _ = try OCIRuntime.limits(spec, config: name)
            if spec.linux?.namespaces?.contains(where: { $0.type == "user" }) == true {
                _ = try OCIRuntime.idMaps(spec.linux, config: name)
            }
            _ = try MountOptions.propagation(spec.linux?.rootfsPropagation)
            for mount in spec.mounts ?? [] { _ = MountOptions.parse(mount.options ?? []) }
            for limit in spec.process?.rlimits ?? [] where OCIRuntime.rlimitNumbers[limit.type] == nil {
                throw RuntimeError("\(name): rlimit type \"\(limit.type)\" is unknown")
            }
            if let caps = spec.process?.capabilities {
                for list in [caps.bounding, caps.effective, caps.permitted, caps.inheritable, caps.ambient] {
                    _ = try Capability.mask(list ?? [], field: "process.capabilities")
                }
            }
        }
    }
}
