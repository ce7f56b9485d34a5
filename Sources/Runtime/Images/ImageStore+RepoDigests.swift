extension ImageStore {
    /// Records that the image is in a registry as `repoDigest` (`127.0.0.1:5000/team/app@sha256:…`),
    /// as `docker push` adds to RepoDigests: it replaces an older digest of the same
    /// repository. Later pushes to other repositories of that registry mount its blobs from it.
    public func addRepoDigest(_ repoDigest: String, to id: Digest) throws {
        try store.locked {
            var image = try image(id: id)
            image.repoDigests = Self.mergedRepoDigests(image.repoDigests, [repoDigest])
            try store.put("images/\(id.hex)", image)
        }
    }
}
