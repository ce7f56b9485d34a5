import CNM
import Foundation
@testable import Registry
import Runtime
import Testing
import TestSupport

/// An image store in a state root of its own, removed after (pull tests).
func withStore<T>(_ body: (ImageStore, String) throws -> T) throws -> T {
    let root = NSTemporaryDirectory() + uniqueName("ncpull")
    try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: root) }
    return try body(ImageStore(store: try LocalStore(root: root), root: root), root)
}

/// Pulls from a real docker-registry into a real image store, of images skopeo pushed.
@Suite struct PullTests {
    /// What the busybox layout holds: its manifest's digest and its one layer's digest.
    private func busyboxManifest() throws -> (manifest: Digest, layer: Digest, size: Int64) {
        let layout = try TestImages.busybox().layout
        let index = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: layout + "/index.json"))) as! [String: Any]
        let top = (index["manifests"] as! [[String: Any]])[0]
        let manifest = try Digest(parsing: top["digest"] as! String, field: "digest")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: layout + "/blobs/sha256/" + manifest.hex))
        let layers = (try JSONSerialization.jsonObject(with: bytes) as! [String: Any])["layers"] as! [[String: Any]]
        return (manifest, try Digest(parsing: layers[0]["digest"] as! String, field: "digest"), (layers[0]["size"] as! NSNumber).int64Value)
    }

    /// The image skopeo pushed comes back with the same manifest digest, every blob in the
    /// content store, the tag and the RepoDigest recorded; a second pull finds it up to date,
    /// and so does a pull by digest.
    @Test func pullsWhatSkopeoPushed() throws {
        try withRegistry { server in
            try RegistryImages.push(layout: try TestImages.busybox().layout, to: "\(server.address)/team/app:1")
            let expected = try busyboxManifest()
            try withStore { images, root in
                let lines = Lines()
                let puller = ImagePuller(images: images, progress: PullProgress(mode: .lines, write: lines.append))
                let result = try puller.pull("\(server.address)/team/app:1")
                #expect(!result.upToDate)
                #expect(result.digest == expected.manifest)
                #expect(result.image.repoTags == ["\(server.address)/team/app:1"])
                #expect(result.image.repoDigests == ["\(server.address)/team/app@\(expected.manifest)"])
                #expect(result.image.manifestDigest == expected.manifest)
                let manifest = try images.manifest(of: result.image)
                #expect(try Digest.of(manifest.bytes) == expected.manifest)
                #expect(images.hasBlob(result.image.id) && images.hasBlob(expected.layer))
                #expect(try images.image("\(server.address)/team/app:1").id == result.image.id)
                #expect(FileManager.default.fileExists(atPath: images.layerPath(result.image.chainIDs![0]) + "/bin/busybox"))
                #expect(lines.text.contains("\(expected.layer.short): Pull complete"))
                #expect(lines.text.hasSuffix("Status: Downloaded newer image for \(server.address)/team/app:1\n\(server.address)/team/app:1\n"))

                #expect(try puller.pull("\(server.address)/team/app:1").upToDate)
                let byDigest = try puller.pull("\(server.address)/team/app@\(expected.manifest)")
                #expect(byDigest.upToDate && byDigest.image.id == result.image.id)
                #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/storage/tmp/blobs").isEmpty)
            }
        }
    }

    /// An index of an arm64 and an amd64 image pulls the amd64 one by default, the arm64 one
    /// with its platform.
    @Test func multiPlatformIndexPullsTheHostsImage() throws {
        try withRegistry { server in
            let directory = NSTemporaryDirectory() + uniqueName("ncmulti")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let multi = try RegistryImages.multiPlatform(from: try TestImages.busybox().layout, at: directory)
            try RegistryImages.push(layout: multi.layout, reference: "latest", to: "\(server.address)/team/multi:1", all: true)
            try withStore { images, _ in
                let amd = try ImagePuller(images: images, platform: Platform(parsing: "linux/amd64")).pull("\(server.address)/team/multi:1")
                #expect(amd.digest.description == multi.index)
                #expect(amd.image.manifestDigest?.description == multi.amd64)
                #expect(amd.image.config.architecture == "amd64")
                let arm = try ImagePuller(images: images, platform: Platform(parsing: "linux/arm64")).pull("\(server.address)/team/multi:1")
                #expect(arm.image.manifestDigest?.description == multi.arm64)
                #expect(arm.image.config.architecture == "arm64")
                #expect(throws: RegistryError.self) {
                    try ImagePuller(images: images, platform: Platform(parsing: "linux/s390x")).pull("\(server.address)/team/multi:1")
                }
            }
        }
    }

    /// A tag the registry does not have, a reference that does not parse: one line each,
    /// nothing stored.
    @Test func unknownTagAndBadReferenceAreOneLine() throws {
        try withRegistry { server in
            try RegistryImages.push(layout: try TestImages.busybox().layout, to: "\(server.address)/team/app:1")
            try withStore { images, root in
                let puller = ImagePuller(images: images, configuration: isolatedConfiguration())
                let missing = try #require(throws: RegistryError.self) { try puller.pull("\(server.address)/team/app:nope") }
                #expect(missing.kind == .notFound)
                #expect(missing.message.hasPrefix("pull \(server.address)/team/app:nope: manifest nope not found in \(server.address)/team/app"))
                #expect(!missing.message.contains("\n"))
                let bad = try #require(throws: RegistryError.self) { try puller.pull("\(server.address)/Team/App") }
                #expect(bad.kind == .input)
                #expect(bad.message.contains("must be lowercase"))
                #expect(try images.images().isEmpty)
            }
        }
    }

    /// A partial download a killed pull left is resumed (the registry serves ranges); one
    /// whose bytes were tampered with fails the digest check, stores nothing and is
    /// dropped, so the next pull succeeds.
    @Test func partialDownloadsResumeAndAreVerified() throws {
        try withRegistry { server in
            let layout = try TestImages.busybox().layout
            try RegistryImages.push(layout: layout, to: "\(server.address)/team/app:1")
            let expected = try busyboxManifest()
            let blob = try Data(contentsOf: URL(fileURLWithPath: layout + "/blobs/sha256/" + expected.layer.hex))
            try withStore { images, _ in
                try images.preparePartials()
                try blob.prefix(blob.count / 2).write(to: URL(fileURLWithPath: images.partialPath(expected.layer)))
                let resumed = try ImagePuller(images: images, configuration: isolatedConfiguration()).pull("\(server.address)/team/app:1")
                #expect(images.hasBlob(expected.layer))
                #expect(try Digest.of(Array(Data(contentsOf: URL(fileURLWithPath: images.blobPath(expected.layer))))) == expected.layer)
                #expect(!FileManager.default.fileExists(atPath: images.partialPath(expected.layer)))
                #expect(resumed.image.chainIDs.map { $0.allSatisfy(images.hasLayer) } == true)
            }
            try withStore { images, _ in
                try images.preparePartials()
                try Data(repeating: 0x41, count: blob.count / 2).write(to: URL(fileURLWithPath: images.partialPath(expected.layer)))
                let error = try #require(throws: RegistryError.self) { try ImagePuller(images: images, configuration: isolatedConfiguration()).pull("\(server.address)/team/app:1") }
                #expect(error.message == "pull \(server.address)/team/app:1: layer \(expected.layer): content does not match its digest (it hashes to \(try Digest.of(Array(Data(repeating: 0x41, count: blob.count / 2)) + blob.suffix(from: blob.count / 2))))")
                #expect(try images.images().isEmpty)
                #expect(!images.hasBlob(expected.layer))
                #expect(try ImagePuller(images: images, configuration: isolatedConfiguration()).pull("\(server.address)/team/app:1").image.repoTags == ["\(server.address)/team/app:1"])
            }
        }
    }

    /// A manifest the registry accepts but a pull cannot use (an artifact whose config is
    /// not an image config; schema 1; a foreign layer) is refused in one line naming the
    /// media type.
    @Test func unsupportedMediaTypesAreRefused() throws {
        try withRegistry { server in
            let client = try isolatedConfiguration().client(for: server.address)
            let config = Array(#"{"hello":"artifact"}"#.utf8)
            let digest = try Digest.of(config)
            let start = try client.send(HTTPRequest(method: "POST", url: client.url("/v2/team/art/blobs/uploads/")), scopes: [.push("team/art")])
            let location = client.resolve(location: try #require(start.header("Location")))
            let put = try client.send(HTTPRequest(method: "PUT", url: location + (location.contains("?") ? "&" : "?") + "digest=\(digest)",
                                                  headers: ["Content-Type: application/octet-stream"], body: .bytes(config)), scopes: [.push("team/art")])
            #expect(put.status == 201)
            let manifest = #"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.example.thing.v1+json","digest":"\#(digest)","size":\#(config.count)},"layers":[]}"#
            let stored = try client.send(HTTPRequest(method: "PUT", url: client.url("/v2/team/art/manifests/1"),
                                                     headers: ["Content-Type: application/vnd.oci.image.manifest.v1+json"], body: .bytes(Array(manifest.utf8))),
                                         scopes: [.push("team/art")])
            #expect(stored.status == 201)
            try withStore { images, _ in
                let error = try #require(throws: RegistryError.self) { try ImagePuller(images: images, configuration: isolatedConfiguration()).pull("\(server.address)/team/art:1") }
                #expect(error.kind == .badContent)
                #expect(error.message.contains(#"config media type "application/vnd.example.thing.v1+json" is not supported"#))
                #expect(try images.images().isEmpty)
            }
        }
        let schema1 = try #require(throws: RegistryError.self) {
            _ = try ManifestDocument.decode(Array(#"{"schemaVersion":1,"name":"a","tag":"b","fsLayers":[]}"#.utf8),
                                            headerType: "application/vnd.docker.distribution.manifest.v1+prettyjws", what: "manifest b")
        }
        #expect(schema1.message.hasPrefix(#"manifest b: media type "application/vnd.docker.distribution.manifest.v1+prettyjws" is not supported (expected "#))
        let layer = "sha256:" + String(repeating: "a", count: 64)
        let foreign = try #require(throws: RegistryError.self) {
            _ = try ManifestDocument.decode(Array(#"{"schemaVersion":2,"config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"\#(layer)","size":1},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip","digest":"\#(layer)","size":1}]}"#.utf8),
                                            headerType: "application/vnd.docker.distribution.manifest.v2+json", what: "manifest c")
        }
        #expect(foreign.message.contains(#"media type "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" is not supported"#))
    }
}

/// Progress lines collected for a test.
private final class Lines: @unchecked Sendable {
    private let lock = NSLock()
    private var collected = ""
    var text: String { lock.withLock { collected } }
    func append(_ text: String) { lock.withLock { collected += text } }
}
