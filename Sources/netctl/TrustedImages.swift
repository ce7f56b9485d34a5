import Glibc
import Registry
import Runtime
import Security

/// Content trust in the commands that move images: with it on (NETCTL_CONTENT_TRUST=1,
/// DOCKER_CONTENT_TRUST=1, or config.json's `"content-trust": {"mode": "enforced"}`), a
/// tag is resolved through its trust data and the image fetched or accepted by the digest
/// signed for it; `push` signs what it pushed. Off, nothing here reads anything beyond two
/// variables and config.json's presence.
enum TrustedImages {
    /// The trust settings when content trust is on, else nil.
    static func enabled(root: String, authFile: String? = nil) throws -> ContentTrust? {
        if environment("NETCTL_CONTENT_TRUST") == nil, environment("DOCKER_CONTENT_TRUST") == nil,
           access("\(root)/config.json", F_OK) != 0 {
            return nil
        }
        let trust = try TrustCLI.contentTrust(root: root, authFile: authFile)
        return trust.settings.enabled ? trust : nil
    }

    /// What `pull REF` fetches: REF itself without trust or when it names only a digest;
    /// with trust, the tag pinned to its signed digest (`name:tag@sha256:…`). A reference
    /// with both (`name:tag@sha256:…`) would store the tag: its digest must be the signed one.
    static func pullReference(_ reference: String, root: String, announce: Bool) throws -> String {
        guard let trust = try enabled(root: root) else { return reference }
        guard let name = try? ImageName(parsing: reference, defaultRegistry: trust.configuration.defaultRegistry),
              name.digest == nil || name.tag != nil else {
            return reference
        }
        let target = try verify(name, trust: trust)
        if let digest = name.digest, digest != target.digest {
            throw CLIError("\(reference): trust data signs \(target.digest) for tag \(name.tag ?? "latest"), not \(digest)")
        }
        if announce { print("Pull (1 of 1): \(target.pinned)") }
        return target.pinned
    }

    /// A tag's signed manifest, or the command's one-line refusal.
    static func verify(_ name: ImageName, trust: ContentTrust) throws -> TrustedTarget {
        var tagged = name
        if tagged.tag == nil { tagged.tag = "latest" }
        return try TrustCLI.run { try trust.verify(tagged) }
    }

    /// `push` with trust on signs the tag it pushed, as `docker push` does.
    static func signPushed(_ name: ImageName, digest: Digest, size: Int, root: String, authFile: String?, quiet: Bool) throws {
        guard let trust = try enabled(root: root, authFile: authFile), name.digest == nil else { return }
        if !quiet { print("Signing and pushing trust metadata") }
        var tagged = name
        if tagged.tag == nil { tagged.tag = "latest" }
        let roles = try TrustCLI.run { try trust.sign(tagged, digest: digest, length: Int64(size)) }
        if !quiet { print("Successfully signed \(ContentTrust.gun(of: tagged)):\(tagged.tag!) into \(roles.joined(separator: ", "))") }
    }

    /// `run IMAGE:TAG` with trust on: the image the tag's signed digest names, pulled first
    /// when the store lacks it (unless `--pull never`). True when it took the image over.
    static func prepareRun(_ runtime: ContainerRuntime, policy: RunPull.Policy, image: String) throws -> Bool {
        guard let trust = try enabled(root: runtime.root) else { return false }
        // An image id (or a prefix of one), or a digest reference, names content already.
        if let local = try? runtime.images.imageIfPresent(image), local.id.hex.hasPrefix(image) || image.hasPrefix("sha256:") { return false }
        guard let name = try? ImageName(parsing: image, defaultRegistry: trust.configuration.defaultRegistry), name.digest == nil else { return false }
        let target = try verify(name, trust: trust)
        // A multi-platform image is signed by its index's digest; the store keeps the
        // platform's manifest and the index digest as a repo digest.
        let repoDigest = "\(name.familiarName)@\(target.digest)"
        func isSigned(_ record: ImageRecord) -> Bool {
            record.manifestDigest == target.digest || record.repoDigests?.contains(repoDigest) == true
        }
        let signed = try runtime.images.images().first(where: isSigned)
        if signed == nil || policy == .always {
            guard policy != .never else {
                throw CLIError("image \(image): the store has no image with the signed digest \(target.digest) (pull it, or run with --pull missing)")
            }
            if signed == nil { PullProgress.standardError("Unable to find image '\(name.storedTag ?? image)@\(target.digest)' locally\n") }
            try RunPull.pull(target.pinned, into: runtime.images)
        }
        // The runtime looks the tag up again: make it name the signed image.
        guard let record = try runtime.images.images().first(where: isSigned) else {
            throw CLIError("image \(image): the pull did not leave the signed digest \(target.digest) in the store")
        }
        // The tag as the runtime resolves `image` (which may differ from the trust name's
        // when a default registry is configured), then checked: never run another image.
        let tag = try TrustCLI.run { () throws -> String in
            do { return try ImageReference.normalize(image) } catch let error as RuntimeError { throw CLIError(error.description) }
        }
        if !record.repoTags.contains(tag) { try runtime.images.tag(record.id.hex, as: tag) }
        guard try runtime.images.imageIfPresent(image)?.id == record.id else {
            throw CLIError("image \(image): does not resolve to the signed image \(record.id.short) (\(target.digest))")
        }
        return true
    }

    /// `image import` with trust on: each tag the archive gives must be signed for the
    /// manifest imported under it, else nothing is recorded.
    static func importCheck(root: String) throws -> ((ImageRecord) throws -> Void)? {
        guard let trust = try enabled(root: root) else { return nil }
        return { image in
            guard !image.repoTags.isEmpty else {
                throw CLIError("image \(image.id.short) has no tag, and content trust accepts images by signed tag only")
            }
            for tag in image.repoTags {
                let name = try TrustCLI.run { () throws -> ImageName in
                    do { return try ImageName(parsing: tag, defaultRegistry: trust.configuration.defaultRegistry) }
                    catch let error as RuntimeError { throw CLIError(error.description) }
                }
                let target = try verify(name, trust: trust)
                guard image.manifestDigest == target.digest else {
                    throw CLIError("\(tag): the imported manifest is \(image.manifestDigest.map(\.description) ?? "none"), but trust data signs \(target.digest) for it")
                }
            }
        }
    }
}
