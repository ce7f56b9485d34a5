import CNM
import Foundation
@testable import Registry
import Runtime
import Testing
import TestSupport

/// Pulls through the fault proxy: a blob whose bytes do not match its digest, a
/// connection cut mid-layer.
@Suite struct PullFaultTests {
    /// The busybox layout's config bytes and layer digest.
    private func busybox() throws -> (config: [UInt8], layer: Digest) {
        let layout = try TestImages.busybox().layout
        func json(_ digest: String) throws -> [String: Any] {
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: layout + "/blobs/sha256/" + digest.dropFirst(7)))) as! [String: Any]
        }
        let index = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: layout + "/index.json"))) as! [String: Any]
        let manifest = try json((index["manifests"] as! [[String: Any]])[0]["digest"] as! String)
        let config = (manifest["config"] as! [String: Any])["digest"] as! String
        let layer = ((manifest["layers"] as! [[String: Any]])[0])["digest"] as! String
        return (Array(try Data(contentsOf: URL(fileURLWithPath: layout + "/blobs/sha256/" + config.dropFirst(7)))),
                try Digest(parsing: layer, field: "digest"))
    }

    private func files(_ path: String) -> [String] { (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] }

    /// A tampered config or layer: "content does not match its digest", one line, no image,
    /// no blob of it kept, no staging left; once the proxy passes bytes unchanged, the
    /// same store pulls the image.
    @Test func tamperedBlobIsRefusedAndNothingIsStored() throws {
        try withRegistry(RegistryServer.Options(fault: .passThrough)) { server in
            try RegistryImages.push(layout: try TestImages.busybox().layout, to: "\(server.registryAddress)/team/app:1")
            let image = try busybox()
            let reference = "\(server.address)/team/app:1"
            try server.setFault(.tamperBlob)
            try withStore { images, root in
                let config = try #require(throws: RegistryError.self) { try ImagePuller(images: images, configuration: isolatedConfiguration()).pull(reference) }
                #expect(config.message.hasPrefix("pull \(reference): config sha256:"))
                #expect(config.message.contains("content does not match its digest"))
                // With the config kept already, the layer is what the proxy spoils.
                try images.storeBlob(image.config)
                let layer = try #require(throws: RegistryError.self) { try ImagePuller(images: images, configuration: isolatedConfiguration()).pull(reference) }
                #expect(layer.kind == .badContent)
                #expect(layer.message.hasPrefix("pull \(reference): layer \(image.layer): content does not match its digest (it hashes to sha256:"))
                #expect(!layer.message.contains("\n"))
                #expect(try images.images().isEmpty)
                #expect(!images.hasBlob(image.layer))
                #expect(files(root + "/storage/tmp/blobs").isEmpty)
                #expect(files(root + "/storage/tmp").allSatisfy { !$0.hasPrefix("pull-") })
                #expect(files(root + "/storage/layers").isEmpty)

                try server.setFault(.passThrough)
                #expect(try ImagePuller(images: images, configuration: isolatedConfiguration()).pull(reference).image.repoTags == [reference])
            }
        }
    }

    /// A connection cut mid-layer is resumed from the bytes that arrived: the proxy cuts
    /// every whole-blob GET after 300 kB, so only a Range request (which it passes) gets the
    /// rest. Cut before any byte, every time, the pull fails in one line with nothing
    /// recorded, and succeeds once the connection holds.
    @Test func cutMidLayerResumes() throws {
        try withRegistry(RegistryServer.Options(fault: .passThrough)) { server in
            try RegistryImages.push(layout: try TestImages.busybox().layout, to: "\(server.registryAddress)/team/app:1")
            let image = try busybox()
            let reference = "\(server.address)/team/app:1"
            try withStore { images, _ in
                try images.storeBlob(image.config)
                try server.setFault(.cutBlob(afterBytes: 300_000, count: 100))
                let pulled = try ImagePuller(images: images, configuration: isolatedConfiguration()).pull(reference)
                #expect(server.proxyStatistics.faults >= 1)
                #expect(pulled.image.chainIDs.map { $0.allSatisfy(images.hasLayer) } == true)
                #expect(images.hasBlob(image.layer))
                #expect(!FileManager.default.fileExists(atPath: images.partialPath(image.layer)))
            }
            try withStore { images, root in
                try images.storeBlob(image.config)
                try server.setFault(.cutBlob(afterBytes: 0, count: 1000))
                let error = try #require(throws: RegistryError.self) { try ImagePuller(images: images, configuration: isolatedConfiguration()).pull(reference) }
                #expect(error.message.hasPrefix("pull \(reference): "))
                #expect(!error.message.contains("\n"))
                #expect(try images.images().isEmpty)
                #expect(!images.hasBlob(image.layer))
                #expect(files(root + "/storage/layers").isEmpty)

                try server.setFault(.passThrough)
                #expect(try ImagePuller(images: images, configuration: isolatedConfiguration()).pull(reference).image.repoTags == [reference])
            }
        }
    }
}
