import Glibc

extension Lab {
    /// The image file of a container: an OCI layout or docker-save archive, relative to the
    /// topology file; or `busybox`, built once into the lab directory from this machine's
    /// busybox-static, so a topology needs no image file of its own.
    func imagePath(_ image: String) throws -> String {
        let path = image.hasPrefix("/") ? image : "\(state.fileDirectory)/\(image)"
        if access(path, F_OK) == 0 { return path }
        guard image == "busybox" else {
            throw LabError("image \"\(image)\": no such file \(path) (expected an OCI layout or docker-save archive, or busybox)")
        }
        return try busyboxLayout()
    }

    /// The name an image is imported under on every host: `lab/<file name>`.
    func imageName(_ image: String) -> String {
        "lab/" + (image.split(separator: "/").last.map(String.init) ?? "image").lowercased()
    }

    /// An OCI image layout of one uncompressed layer: /bin/busybox and its applets, the
    /// way `umoci` or `docker save` would hand it over. Made once per lab; the hosts
    /// importing it at once take a lock.
    private func busyboxLayout() throws -> String {
        let directory = self.directory + "/images", layout = directory + "/busybox"
        try LabFiles.makeDirectories(directory)
        let lock = Glibc.open(directory + "/lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard lock >= 0 else { throw LabError("\(directory)/lock: \(String(cString: strerror(errno)))") }
        defer { close(lock) }
        flock(lock, LOCK_EX)
        if access(layout + "/index.json", F_OK) == 0 { return layout }
        guard access("/bin/busybox", X_OK) == 0 else {
            throw LabError("image \"busybox\": /bin/busybox not found (expected Debian's busybox-static)")
        }
        let rootfs = directory + "/rootfs", blobs = layout + "/blobs/sha256"
        try LabFiles.makeDirectories(rootfs + "/bin")
        try LabFiles.makeDirectories(rootfs + "/tmp")
        try LabFiles.makeDirectories(blobs)
        try tool(["cp", "/bin/busybox", rootfs + "/bin/busybox"])
        for applet in ["sh", "sleep", "ping", "ip", "ifconfig", "hostname", "cat", "ls", "echo", "wget", "nc", "httpd", "ps", "true", "env"] {
            _ = symlink("busybox", "\(rootfs)/bin/\(applet)")
        }
        let layer = directory + "/layer.tar"
        try tool(["tar", "--sort=name", "--owner=0", "--group=0", "--numeric-owner", "--mtime=@0", "-C", rootfs, "-cf", layer, "."])
        let layerDigest = try store(file: layer, in: blobs)
        let config = """
            {"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin"],"Cmd":["/bin/sh"],"WorkingDir":"/"},\
            "rootfs":{"type":"layers","diff_ids":["sha256:\(layerDigest.digest)"]}}
            """
        let configDigest = try store(text: config, in: blobs, scratch: directory + "/config.json")
        let manifest = """
            {"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",\
            "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:\(configDigest.digest)","size":\(configDigest.size)},\
            "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:\(layerDigest.digest)","size":\(layerDigest.size)}]}
            """
        let manifestDigest = try store(text: manifest, in: blobs, scratch: directory + "/manifest.json")
        try LabFiles.write(layout + "/oci-layout", Array(#"{"imageLayoutVersion":"1.0.0"}"#.utf8))
        try LabFiles.write(layout + "/index.json", Array("""
            {"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json",\
            "digest":"sha256:\(manifestDigest.digest)","size":\(manifestDigest.size),\
            "annotations":{"org.opencontainers.image.ref.name":"latest"}}]}
            """.utf8))
        return layout
    }

    /// Moves a file into the layout's blobs under its SHA-256.
    private func store(file: String, in blobs: String) throws -> (digest: String, size: Int) {
        let sum = try tool(["sha256sum", file])
        guard let digest = sum.split(separator: " ").first.map(String.init), digest.count == 64 else {
            throw LabError("sha256sum \(file): unexpected output \"\(sum)\"")
        }
        var info = stat()
        guard stat(file, &info) == 0, rename(file, "\(blobs)/\(digest)") == 0 else {
            throw LabError("\(file): \(String(cString: strerror(errno)))")
        }
        return (digest, Int(info.st_size))
    }

    private func store(text: String, in blobs: String, scratch: String) throws -> (digest: String, size: Int) {
        try LabFiles.write(scratch, Array(text.utf8))
        return try store(file: scratch, in: blobs)
    }

    @discardableResult
    private func tool(_ command: [String]) throws -> String {
        let result = try LabRunner.run(command)
        guard result.status == 0 else { throw LabError("\(command[0]) exited \(result.status): \(result.reason)") }
        return result.output
    }
}
