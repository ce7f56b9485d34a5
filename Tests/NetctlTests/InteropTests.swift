import Foundation
import Testing
import TestSupport

/// netctl and skopeo against the same docker-registry, both ways: what one pushes the
/// other reads with the same manifest digest, and the image runs.
@Suite(.serialized) struct InteropTests {
    /// `netctl push` of the imported busybox image: Docker's lines, the digest skopeo reads
    /// is the one netctl printed, skopeo's copy into an OCI layout imports back and runs,
    /// and the image records where it was pushed. Pushed again, every layer is there.
    @Test func netctlPushesSkopeoCopiesBack() throws {
        try withNetctl { netctl in
            try withRegistry { server in
                try netctl.importBusybox()
                let reference = "\(server.address)/team/bb:1"
                try netctl.ok("tag", "nctest/busybox", reference)
                let output = try netctl.ok("push", reference)
                let lines = output.split(separator: "\n").map(String.init)
                #expect(lines.first == "The push refers to repository [\(server.address)/team/bb]")
                #expect(lines.dropFirst().dropLast().allSatisfy { $0.hasSuffix(": Pushed") } && lines.count >= 3, "\(output)")
                let digest = try Self.digest(in: output, tag: "1")
                #expect(try Skopeo.digest(of: reference) == digest)

                let copy = NSTemporaryDirectory() + uniqueName("netctl-interop-oci-")
                defer { try? FileManager.default.removeItem(atPath: copy) }
                let copied = try Skopeo.run(["copy", "--src-tls-verify=false", "docker://\(reference)", "oci:\(copy):back"])
                #expect(copied.status == 0, "\(copied.stderr)")
                try netctl.ok("image", "import", "--name", "copied/bb", copy)
                #expect(try netctl.ok("run", "--rm", "--network", "none", "copied/bb:back", "echo", "round trip") == "round trip\n")

                let inspect = try netctl.ok("image", "inspect", reference)
                #expect(inspect.contains("\"\(server.address)/team/bb@\(digest)\""), "\(inspect)")

                let again = try netctl.ok("push", reference).split(separator: "\n").map(String.init)
                #expect(again.dropFirst().dropLast().allSatisfy { $0.hasSuffix(": Layer already exists") }, "\(again)")
                #expect(again.last == "1: digest: \(digest) size: \(try Self.size(in: output))")

                #expect(try netctl.ok("push", "-q", reference) == reference + "\n")

                // By digest: the image whose manifest it is, put under that digest.
                let pinned = "\(server.address)/team/pinned@\(digest)"
                #expect(try netctl.ok("push", pinned).hasSuffix("\ndigest: \(digest) size: \(try Self.size(in: output))\n"))
                #expect(try Skopeo.digest(of: pinned) == digest)
            }
        }
    }

    /// A push to a second repository of the same registry mounts the layers from the
    /// first, which the image's RepoDigests name; skopeo reads the result.
    @Test func secondRepositoryMounts() throws {
        try withNetctl { netctl in
            try withRegistry { server in
                try netctl.importBusybox()
                try netctl.ok("tag", "nctest/busybox", "\(server.address)/team/bb:1")
                let first = try Self.digest(in: try netctl.ok("push", "\(server.address)/team/bb:1"), tag: "1")
                try netctl.ok("image", "tag", "\(server.address)/team/bb:1", "\(server.address)/other/app:2")
                let output = try netctl.ok("push", "\(server.address)/other/app:2")
                let layers = output.split(separator: "\n").dropFirst().dropLast()
                #expect(!layers.isEmpty && layers.allSatisfy { $0.hasSuffix(": Mounted from team/bb") }, "\(output)")
                #expect(try Self.digest(in: output, tag: "2") == first)
                #expect(try Skopeo.digest(of: "\(server.address)/other/app:2") == first)
            }
        }
    }

    /// A layer of several MB pushed with a small --chunk-size (not dividing it) comes back
    /// through skopeo byte for byte, and the image it makes runs.
    @Test func chunkedPushRoundTrips() throws {
        try withNetctl { netctl in
            try withRegistry { server in
                let layout = NSTemporaryDirectory() + uniqueName("netctl-interop-big-")
                let copy = layout + "-copy"
                defer {
                    try? FileManager.default.removeItem(atPath: layout)
                    try? FileManager.default.removeItem(atPath: copy)
                }
                // ~6 MB of hex of random bytes: gzip leaves about half.
                let hex = Array("0123456789abcdef".utf8)
                var generator = SystemRandomNumberGenerator()
                let big = String(decoding: (0..<(6 << 20)).map { _ in hex[Int(generator.next() as UInt8) & 15] }, as: UTF8.self)
                let content = layout + "-content"
                defer { try? FileManager.default.removeItem(atPath: content) }
                try FileManager.default.createDirectory(atPath: content, withIntermediateDirectories: true)
                try big.write(toFile: content + "/big", atomically: false, encoding: .utf8)
                let packed = try runCommand(["tar", "-C", content, "-czf", content + ".tar.gz", "big"])
                defer { try? FileManager.default.removeItem(atPath: content + ".tar.gz") }
                #expect(packed.status == 0, "\(packed.stderr)")
                try CraftedImages.layout(at: layout, base: [try TestImages.busyboxLayer(), content + ".tar.gz"], layers: [])
                try netctl.ok("image", "import", "--name", "big", layout)
                let reference = "\(server.address)/team/big:c"
                try netctl.ok("tag", "big", reference)
                let output = try netctl.ok("push", "--chunk-size", "1m", reference)
                let digest = try Self.digest(in: output, tag: "c")
                #expect(try Skopeo.digest(of: reference) == digest)

                let copied = try Skopeo.run(["copy", "--src-tls-verify=false", "docker://\(reference)", "oci:\(copy):c"])
                #expect(copied.status == 0, "\(copied.stderr)")
                let index = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: copy + "/index.json"))) as! [String: Any]
                #expect((index["manifests"] as! [[String: Any]])[0]["digest"] as? String == digest)
                try netctl.ok("image", "import", "--name", "again", copy)
                #expect(try netctl.ok("run", "--rm", "--network", "none", "again:c", "sh", "-c", "wc -c < /big") == "\(big.utf8.count)\n")
            }
        }
    }

    /// skopeo pushes the busybox layout; netctl pulls it (the digest skopeo reads) and runs
    /// it; pushed on to another repository of the registry, the pulled blobs are mounted
    /// and the manifest keeps its digest.
    @Test func skopeoPushesNetctlPullsAndPushesOn() throws {
        try withNetctl { netctl in
            try withRegistry { server in
                let reference = "\(server.address)/skopeo/bb:1"
                let pushed = try Skopeo.run(["copy", "--dest-tls-verify=false", "oci:\(try TestImages.busybox().layout):latest", "docker://\(reference)"])
                #expect(pushed.status == 0, "\(pushed.stderr)")
                let digest = try Skopeo.digest(of: reference)
                try netctl.ok("pull", "-q", reference)
                #expect(try netctl.ok("run", "--rm", "--network", "none", reference, "echo", "pulled") == "pulled\n")

                try netctl.ok("tag", reference, "\(server.address)/team/on:2")
                let output = try netctl.ok("push", "\(server.address)/team/on:2")
                let layers = output.split(separator: "\n").dropFirst().dropLast()
                #expect(!layers.isEmpty && layers.allSatisfy { $0.hasSuffix(": Mounted from skopeo/bb") }, "\(output)")
                #expect(try Self.digest(in: output, tag: "2") == digest)
            }
        }
    }

    /// A docker-save archive, whose manifest import synthesizes, goes up (`image push`) and
    /// skopeo reads the digest netctl printed.
    @Test func dockerArchivePushes() throws {
        try withNetctl { netctl in
            try withRegistry { server in
                try netctl.ok("image", "import", try TestImages.busybox().archive)
                let reference = "\(server.address)/team/archive:1"
                try netctl.ok("tag", "nctest/busybox", reference)
                let digest = try Self.digest(in: try netctl.ok("image", "push", reference), tag: "1")
                #expect(try Skopeo.digest(of: reference) == digest)
            }
        }
    }

    /// A registry behind htpasswd (over TLS, its CA in certs.d) and one behind a bearer-token
    /// server: without credentials the push stops in one line; with an auth file holding
    /// them it goes up (with token auth, mounting from another repository too), and skopeo
    /// with the same credentials reads the digest netctl printed.
    @Test(arguments: ["basic", "token"]) func pushesWithCredentials(kind: String) throws {
        let options = kind == "basic" ? RegistryServer.Options(tls: true, htpasswd: ("alice", "s3cret"))
                                      : RegistryServer.Options(token: ("alice", "s3cret"))
        try withNetctl { netctl in
            try withRegistry(options) { server in
                let directory = NSTemporaryDirectory() + uniqueName("netctl-interop-auth-")
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                defer { try? FileManager.default.removeItem(atPath: directory) }
                var environment = ["REGISTRY_AUTH_FILE": directory + "/auth.json"]
                var skopeoTLS = ["--tls-verify=false"]
                if server.caCertificate != nil {
                    environment["NETCTL_CERTS_D"] = try server.certsDirectory(at: directory + "/certs.d")
                    skopeoTLS = ["--cert-dir", directory + "/certs.d/\(server.address)"]
                }
                try netctl.importBusybox()
                let reference = "\(server.address)/team/bb:1"
                try netctl.ok("tag", "nctest/busybox", reference)

                let denied = try netctl.netctl(["push", reference], environment: environment)
                #expect(denied.status == 1)
                #expect(denied.stderr.hasPrefix("Error: push \(reference): "), "\(denied.stderr)")
                #expect(denied.stderr.split(separator: "\n").count == 1, "\(denied.stderr)")
                #expect(denied.stderr.contains("said 401") && denied.stderr.contains("netctl login \(server.address)"), "\(denied.stderr)")

                let auth = Data("alice:s3cret".utf8).base64EncodedString()
                try #"{"auths": {"\#(server.address)": {"auth": "\#(auth)"}}}"#.write(toFile: directory + "/auth.json", atomically: true, encoding: .utf8)
                let pushed = try netctl.netctl(["push", reference], environment: environment)
                #expect(pushed.status == 0, "\(pushed.stderr)")
                let digest = try Self.digest(in: pushed.stdout, tag: "1")
                let inspect = try Skopeo.run(["inspect", "--no-tags"] + skopeoTLS + ["docker://\(reference)"], authFile: directory + "/auth.json")
                #expect(inspect.status == 0, "\(inspect.stderr)")
                #expect(inspect.stdout.contains("\"Digest\": \"\(digest)\""), "\(inspect.stdout)")

                try netctl.ok("tag", reference, "\(server.address)/other/app:2")
                let mounted = try netctl.netctl(["push", "--authfile", directory + "/auth.json", "\(server.address)/other/app:2"],
                                                environment: environment.filter { $0.key != "REGISTRY_AUTH_FILE" })
                #expect(mounted.status == 0, "\(mounted.stderr)")
                #expect(mounted.stdout.contains(": Mounted from team/bb"), "\(mounted.stdout)")
            }
        }
    }

    /// Each refusal is one line and exit 1: an image the store does not have, a registry
    /// nobody listens on, a --chunk-size that is not a size.
    @Test func refusalsAreOneLine() throws {
        try withNetctl { netctl in
            try netctl.importBusybox()
            let port = try freeLoopbackPort()
            let absent = try netctl.netctl("push", "127.0.0.1:\(port)/team/none:1")
            #expect(absent.status == 1)
            #expect(absent.stderr == "Error: push 127.0.0.1:\(port)/team/none:1: no image is tagged 127.0.0.1:\(port)/team/none:1 in the store (tag one first: netctl tag IMAGE 127.0.0.1:\(port)/team/none:1)\n")

            try netctl.ok("tag", "nctest/busybox", "127.0.0.1:\(port)/team/bb:1")
            let refused = try netctl.netctl("push", "127.0.0.1:\(port)/team/bb:1")
            #expect(refused.status == 1)
            #expect(refused.stderr.hasPrefix("Error: push 127.0.0.1:\(port)/team/bb:1: "), "\(refused.stderr)")
            #expect(refused.stderr.split(separator: "\n").count == 1, "\(refused.stderr)")

            let size = try netctl.netctl("push", "--chunk-size", "lots", "127.0.0.1:\(port)/team/bb:1")
            #expect(size.status != 0)
            #expect(size.stderr.contains("--chunk-size \"lots\": expected a positive number of bytes"), "\(size.stderr)")
        }
    }

    // MARK: Helpers

    /// The digest of Docker's last push line, `TAG: digest: sha256:… size: N`.
    static func digest(in output: String, tag: String) throws -> String {
        guard let last = output.split(separator: "\n").last, last.hasPrefix("\(tag): digest: sha256:"),
              let digest = last.split(separator: " ").dropFirst(2).first else {
            throw HarnessError("no digest line in: \(output)")
        }
        return String(digest)
    }

    static func size(in output: String) throws -> String {
        guard let last = output.split(separator: "\n").last, let size = last.split(separator: " ").last else {
            throw HarnessError("no size in: \(output)")
        }
        return String(size)
    }
}

/// skopeo with an auth file of its own (none), so nothing of the host's credentials is read.
enum Skopeo {
    static func run(_ arguments: [String], authFile: String? = nil) throws -> CommandResult {
        try runCommand(["skopeo"] + arguments, environment: ["REGISTRY_AUTH_FILE": authFile ?? NSTemporaryDirectory() + "netctl-no-such-dir/auth.json"])
    }

    /// The manifest digest skopeo reads for `reference` (`docker://` is added).
    static func digest(of reference: String, authFile: String? = nil) throws -> String {
        let result = try run(["inspect", "--no-tags", "--tls-verify=false", "docker://\(reference)"], authFile: authFile)
        guard result.status == 0 else { throw HarnessError("skopeo inspect \(reference): \(result.stderr)") }
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        return object?["Digest"] as? String ?? ""
    }
}
