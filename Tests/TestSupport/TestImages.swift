import Foundation

/// A tiny image of busybox-static (Debian's), built by tools/busybox-image.sh the way users
/// build images: an OCI layout by umoci and a `docker save` archive by skopeo. Built once
/// into .build and reused.
public enum TestImages {
    public struct Paths: Sendable {
        /// An OCI image layout directory (umoci), tag `latest`.
        public let layout: String
        /// The same image as a docker-save archive (skopeo), tagged `nctest/busybox:latest`.
        public let archive: String
        /// The image's rootfs, unpacked, for OCI bundles.
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
        let result = try runCommand([package.appendingPathComponent("tools/busybox-image.sh").path, directory])
        guard result.status == 0 else { throw HarnessError("building the test image failed: \(result.stderr)") }
        let paths = Paths(layout: directory + "/layout", archive: directory + "/archive.tar", bundleRootfs: directory + "/bundle/rootfs")
        built = paths
        return paths
    }
}
