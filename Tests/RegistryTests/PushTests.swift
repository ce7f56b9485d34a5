import Foundation
@testable import Registry
import Runtime
import Testing
import TestSupport

/// The pusher against a real docker-registry, its work read back by skopeo: blobs written
/// into a directory of the test's own stand in for the content store.
@Suite struct PushTests {
    /// The busybox test image goes up whole, skopeo sees the manifest digest the pusher
    /// reported; pushed again, every layer is already there; pushed to a second repository
    /// of the same registry, its layers are mounted from the first.
    @Test func pushesSkipsAndMounts() throws {
        let source = try PushFixtures.busyboxSource()
        try withRegistry { server in
            let pusher = ImagePusher(client: try isolatedConfiguration().client(for: server.address))
            let events = EventLog()
            let name = try ImageName(parsing: "\(server.address)/team/bb:1")
            let first = try pusher.push(source, to: name, report: events.add)
            #expect(first.digest == (try Digest.of(source.manifest)))
            #expect(first.repoDigest == "\(server.address)/team/bb@\(first.digest)")
            #expect(!events.all.isEmpty && events.all.allSatisfy { $0.outcome == .pushed }, "\(events.all)")
            #expect(try Skopeo.digest(of: "\(server.address)/team/bb:1") == first.digest.description)

            let again = EventLog()
            _ = try pusher.push(source, to: name, report: again.add)
            #expect(again.all.count == events.all.count && again.all.allSatisfy { $0.outcome == .exists }, "\(again.all)")

            var known = source
            known.repoDigests = [first.repoDigest]
            let mounted = EventLog()
            let other = try pusher.push(known, to: try ImageName(parsing: "\(server.address)/team/other:2"), report: mounted.add)
            #expect(other.digest == first.digest)
            #expect(mounted.all.count == events.all.count && mounted.all.allSatisfy { $0.outcome == .mounted(from: "team/bb") }, "\(mounted.all)")
            #expect(mounted.all.first?.line.hasSuffix(": Mounted from team/bb") == true)
            #expect(try Skopeo.digest(of: "\(server.address)/team/other:2") == first.digest.description)

            // A repository the registry does not have: the mount's 202 opens the upload.
            var elsewhere = source
            elsewhere.repoDigests = ["\(server.address)/team/nothing@\(first.digest)", "other.example/team/bb@\(first.digest)"]
            let uploaded = EventLog()
            _ = try pusher.push(elsewhere, to: try ImageName(parsing: "\(server.address)/team/third:1"), report: uploaded.add)
            #expect(uploaded.all.count == events.all.count && uploaded.all.allSatisfy { $0.outcome == .pushed }, "\(uploaded.all)")
            #expect(try Skopeo.digest(of: "\(server.address)/team/third:1") == first.digest.description)

            // By digest: the manifest is there under its digest; a digest that is not the
            // image's is refused before anything is sent.
            _ = try pusher.push(source, to: try ImageName(parsing: "\(server.address)/team/pinned@\(first.digest)"))
            #expect(try Skopeo.digest(of: "\(server.address)/team/pinned@\(first.digest)") == first.digest.description)
            let wrong = "sha256:" + String(repeating: "0", count: 64)
            let error = try #require(throws: RegistryError.self) {
                try pusher.push(source, to: try ImageName(parsing: "\(server.address)/team/pinned@\(wrong)"))
            }
            #expect(error.kind == .input)
            #expect(error.message == "push \(server.address)/team/pinned@\(wrong): the image's manifest is \(first.digest), not the digest given")
        }
    }

    /// A multi-MB layer sent in small PATCHes (a size that is not a multiple of the chunk)
    /// comes back through skopeo with the same digest.
    @Test func chunkedUploadRoundTrips() throws {
        let directory = try TemporaryDirectory("netctl-push-chunks-")
        let layer = (0..<(5 << 20) + 1234).map { _ in UInt8.random(in: 0...255) }
        let source = try PushFixtures.image(in: directory.path, layers: [layer])
        let layerDigest = try Digest.of(layer)
        try withRegistry { server in
            let pusher = ImagePusher(client: try isolatedConfiguration().client(for: server.address))
            let reference = "\(server.address)/team/big:c"
            let result = try pusher.push(source, to: try ImageName(parsing: reference), options: PushOptions(chunkSize: 1 << 20))
            // dir: keeps blobs and manifest as they are (oci: would compress a tar layer).
            let copy = directory.path + "/copy"
            let copied = try Skopeo.run(["copy", "--src-tls-verify=false", "docker://\(reference)", "dir:\(copy)"])
            #expect(copied.status == 0, "\(copied.stderr)")
            let back = try Data(contentsOf: URL(fileURLWithPath: "\(copy)/\(layerDigest.hex)"))
            #expect(back.count == layer.count)
            #expect(try Digest.of(Array(back)) == layerDigest)
            let manifest = try Data(contentsOf: URL(fileURLWithPath: "\(copy)/manifest.json"))
            #expect(try Digest.of(Array(manifest)) == result.digest)
        }
    }

    /// What the pusher refuses, each in one line, before anything is uploaded.
    @Test func refusesWhatItCannotPush() throws {
        let directory = try TemporaryDirectory("netctl-push-bad-")
        let source = try PushFixtures.image(in: directory.path, layers: [Array("layer".utf8)])
        try withRegistry { server in
            let pusher = ImagePusher(client: try isolatedConfiguration().client(for: server.address))
            let name = try ImageName(parsing: "\(server.address)/team/bad:1")

            var index = source
            index.mediaType = "application/vnd.oci.image.index.v1+json"
            let unsupported = try #require(throws: RegistryError.self) { try pusher.push(index, to: name) }
            #expect(unsupported.kind == .badContent)
            #expect(unsupported.message.hasPrefix("push \(server.address)/team/bad:1: manifest: media type \"application/vnd.oci.image.index.v1+json\" is not supported"))

            var missing = source
            let nowhere = directory.path + "/nowhere"
            missing.blobPath = { "\(nowhere)/\($0.hex)" }
            let gone = try #require(throws: RegistryError.self) { try pusher.push(missing, to: name) }
            #expect(gone.message.contains("is not in the content store"))
            #expect(!gone.message.contains("\n"))

            // Nothing of either reached the registry.
            let tags = try Skopeo.run(["list-tags", "--tls-verify=false", "docker://\(server.address)/team/bad"])
            #expect(tags.status != 0 || !tags.stdout.contains("\"1\""))
        }
    }
}

/// Events from the uploading threads.
final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [PushEvent] = []
    var add: @Sendable (PushEvent) -> Void { { [self] event in lock.lock(); events.append(event); lock.unlock() } }
    var all: [PushEvent] { lock.lock(); defer { lock.unlock() }; return events }
}

/// A directory removed when the value goes.
final class TemporaryDirectory {
    let path: String
    init(_ prefix: String) throws {
        path = NSTemporaryDirectory() + uniqueName(prefix)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

enum PushFixtures {
    /// The busybox test image's OCI layout as a push source: its blobs where umoci wrote them.
    static func busyboxSource() throws -> PushSource {
        let layout = try TestImages.busybox().layout
        let index = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: layout + "/index.json"))) as! [String: Any]
        let descriptor = (index["manifests"] as! [[String: Any]])[0]
        let digest = try Digest(parsing: descriptor["digest"] as! String, field: "digest")
        let manifest = try Data(contentsOf: URL(fileURLWithPath: "\(layout)/blobs/sha256/\(digest.hex)"))
        return PushSource(manifest: Array(manifest), mediaType: descriptor["mediaType"] as! String,
                          blobPath: { "\(layout)/blobs/sha256/\($0.hex)" })
    }

    /// An OCI image of `layers` (bytes taken as they are: the registry does not look inside)
    /// written as blobs into `directory`.
    static func image(in directory: String, layers: [[UInt8]]) throws -> PushSource {
        let blobs = directory + "/blobs"
        try FileManager.default.createDirectory(atPath: blobs, withIntermediateDirectories: true)
        func write(_ bytes: [UInt8]) throws -> Digest {
            let digest = try Digest.of(bytes)
            try Data(bytes).write(to: URL(fileURLWithPath: "\(blobs)/\(digest.hex)"))
            return digest
        }
        let layerDigests = try layers.map(write)
        let config = Array("""
            {"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[\(layerDigests.map { "\"\($0)\"" }.joined(separator: ","))]}}
            """.utf8)
        let configDigest = try write(config)
        let layerJSON = zip(layerDigests, layers).map { digest, bytes in
            #"{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"\#(digest)","size":\#(bytes.count)}"#
        }.joined(separator: ",")
        let manifest = Array("""
            {"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"\(configDigest)","size":\(config.count)},"layers":[\(layerJSON)]}
            """.utf8)
        return PushSource(manifest: manifest, mediaType: "application/vnd.oci.image.manifest.v1+json",
                          blobPath: { "\(blobs)/\($0.hex)" }, diffIDs: layerDigests)
    }
}

/// skopeo, with an auth file of its own so nothing of the host's credentials is read.
enum Skopeo {
    static func run(_ arguments: [String]) throws -> CommandResult {
        try runCommand(["skopeo"] + arguments, environment: ["REGISTRY_AUTH_FILE": NSTemporaryDirectory() + "netctl-no-such-dir/auth.json"])
    }

    /// The manifest digest skopeo reads for `reference` (`docker://` is added).
    static func digest(of reference: String) throws -> String {
        let result = try run(["inspect", "--no-tags", "--tls-verify=false", "docker://\(reference)"])
        guard result.status == 0 else { throw HarnessError("skopeo inspect \(reference): \(result.stderr)") }
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        return object?["Digest"] as? String ?? ""
    }
}
