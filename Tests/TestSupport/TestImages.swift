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

    /// The busybox image's layer blob (gzip), a base for crafted images that run.
    public static func busyboxLayer() throws -> String {
        let layout = try busybox().layout
        let index = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: layout + "/index.json"))) as! [String: Any]
        let manifestDigest = ((index["manifests"] as! [[String: Any]])[0]["digest"] as! String).dropFirst(7)
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(layout)/blobs/sha256/\(manifestDigest)"))) as! [String: Any]
        let layer = ((manifest["layers"] as! [[String: Any]])[0]["digest"] as! String).dropFirst(7)
        return "\(layout)/blobs/sha256/\(layer)"
    }
}
