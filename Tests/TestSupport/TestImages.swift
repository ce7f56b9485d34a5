import Foundation

/// A tiny image of busybox-static (Debian's), built the way users build images: an OCI
/// layout by umoci and a `docker save` archive by skopeo. Built once into .build and
/// reused; a lock file keeps parallel test processes from building it twice.
public enum TestImages {
    public struct Paths: Sendable {
        /// An OCI image layout directory (umoci), tag `latest`.
        public let layout: String
        /// The same image as a docker-save archive (skopeo), tagged `nctest/busybox:latest`.
        public let archive: String
        /// An OCI bundle (config.json from `runc spec`, rootfs unpacked) for runtime mode.
        public let bundleRootfs: String
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var built: Paths?

    public static func busybox() throws -> Paths {
        lock.lock()
        defer { lock.unlock() }
        if let built { return built }
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let directory = package.appendingPathComponent(".build/test-images").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let script = """
        set -e
        exec 9>"$1/lock"; flock 9
        cd "$1"
        [ -f ready ] && exit 0
        rm -rf work && mkdir work && cd work
        umoci init --layout busybox
        umoci new --image busybox:latest
        umoci unpack --image busybox:latest bundle >/dev/null
        mkdir -p bundle/rootfs/bin bundle/rootfs/etc bundle/rootfs/tmp bundle/rootfs/home/app
        cp /bin/busybox bundle/rootfs/bin/busybox
        for applet in sh ls cat echo hostname mount id sleep true false ps seq head tail wget httpd nc mkdir stat touch chown readlink grep wc env; do
            ln -s busybox bundle/rootfs/bin/$applet
        done
        printf 'root:x:0:0:root:/root:/bin/sh\\napp:x:1000:1000:app:/home/app:/bin/sh\\n' > bundle/rootfs/etc/passwd
        printf 'root:x:0:\\napp:x:1000:\\nstaff:x:50:app\\n' > bundle/rootfs/etc/group
        chown 1000:1000 bundle/rootfs/home/app
        chmod 1777 bundle/rootfs/tmp
        umoci repack --image busybox:latest bundle
        umoci config --image busybox:latest --config.cmd /bin/sh --config.env PATH=/bin --config.workingdir /
        skopeo copy --quiet oci:busybox:latest docker-archive:busybox.tar:nctest/busybox:latest
        cd .. && rm -rf layout archive.tar && mv work/busybox layout && mv work/busybox.tar archive.tar
        rm -rf bundle && mkdir bundle && mv work/bundle/rootfs bundle/rootfs && rm -rf work
        touch ready
        """
        let result = try runCommand(["sh", "-c", script, "build-image", directory])
        guard result.status == 0 else { throw HarnessError("building the test image failed: \(result.stderr)") }
        let paths = Paths(layout: directory + "/layout", archive: directory + "/archive.tar", bundleRootfs: directory + "/bundle/rootfs")
        built = paths
        return paths
    }
}
