import CNM
import Foundation
@testable import Runtime
import Testing
import TestSupport

/// The content store: import keeps every image's blobs (a docker-save archive gets an OCI
/// manifest of its own), removal and reconcile drop what no image references.
@Suite struct ContentStoreTests {
    private func withStore<T>(_ body: (ImageStore, String) throws -> T) throws -> T {
        let root = NSTemporaryDirectory() + uniqueName("nccontent")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        return try body(ImageStore(store: try LocalStore(root: root), root: root), root)
    }

    private func blobs(_ root: String) throws -> Set<String> {
        Set((try? FileManager.default.contentsOfDirectory(atPath: root + "/storage/blobs/sha256")) ?? [])
    }

    /// An OCI layout's manifest, config and layers are kept byte for byte: the manifest the
    /// store gives back is the layout's.
    @Test func importOfALayoutKeepsItsBlobs() throws {
        let layout = try TestImages.busybox().layout
        try withStore { images, root in
            let image = try images.importImages(from: layout, name: "bb")[0].record
            let manifest = try images.manifest(of: image)
            #expect(manifest.mediaType == "application/vnd.oci.image.manifest.v1+json")
            #expect(try Digest.of(manifest.bytes) == image.manifestDigest)
            // The manifest, the config and the layer (umoci's layout keeps older blobs too).
            let kept = try blobs(root)
            #expect(kept.count == 2 + image.layers.count)
            #expect(kept.isSubset(of: Set(try FileManager.default.contentsOfDirectory(atPath: layout + "/blobs/sha256"))))
            for name in kept {
                #expect(FileManager.default.contentsEqual(atPath: layout + "/blobs/sha256/" + name, andPath: root + "/storage/blobs/sha256/" + name))
            }
        }
    }

    /// A docker-save archive has no manifest: the store synthesizes an OCI one naming the
    /// config and the layer files as they were (media type by their first bytes), so the
    /// image can be pushed.
    @Test func importOfAnArchiveSynthesizesAManifest() throws {
        try withStore { images, _ in
            let image = try images.importImages(from: try TestImages.busybox().archive)[0].record
            let manifest = try images.manifest(of: image)
            let json = try #require(try JSONSerialization.jsonObject(with: Data(manifest.bytes)) as? [String: Any])
            #expect(json["mediaType"] as? String == "application/vnd.oci.image.manifest.v1+json")
            #expect((json["config"] as? [String: Any])?["digest"] as? String == image.id.description)
            let layers = try #require(json["layers"] as? [[String: Any]])
            #expect(layers.count == image.layers.count)
            for layer in layers {
                let digest = try Digest(parsing: layer["digest"] as! String, field: "digest")
                #expect(images.hasBlob(digest))
                let bytes = try Data(contentsOf: URL(fileURLWithPath: images.blobPath(digest)))
                #expect((layer["size"] as? NSNumber)?.intValue == bytes.count)
                let gzip = bytes.starts(with: [0x1f, 0x8b])
                #expect(layer["mediaType"] as? String == "application/vnd.oci.image.layer.v1.tar" + (gzip ? "+gzip" : ""))
            }
        }
    }

    /// `image rm` drops the blobs only the removed image used; reconcile drops blobs no
    /// image references and partial downloads.
    @Test func removalAndReconcileDropUnreferencedBlobs() throws {
        let paths = try TestImages.busybox()
        try withStore { images, root in
            _ = try images.importImages(from: paths.layout, name: "one")
            let kept = try blobs(root)
            _ = try images.importImages(from: paths.layout, name: "two")
            _ = try images.remove("one", force: false) { _ in nil }
            #expect(try blobs(root) == kept)  // "two" is the same image
            _ = try images.remove("two", force: false) { _ in nil }
            #expect(try blobs(root).isEmpty)

            _ = try images.importImages(from: paths.layout, name: "three")
            try images.storeBlob(Array("stray".utf8))
            try images.preparePartials()
            let partial = images.partialPath(try Digest.of(Array("x".utf8)))
            FileManager.default.createFile(atPath: partial, contents: Data("half".utf8))
            let stray = try Digest.of(Array("stray".utf8)).short
            let lines = try images.removeStaleStaging()
            #expect(lines.contains { $0.hasPrefix("blob \(stray): removed") })
            #expect(lines.contains { $0.hasPrefix("partial download") })
            #expect(try blobs(root) == kept)
            #expect(!FileManager.default.fileExists(atPath: partial))
        }
    }
}
