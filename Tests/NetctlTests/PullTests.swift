import Foundation
import Testing
import TestSupport

/// `netctl pull` as a user runs it, against a docker-registry of the test's own.
@Suite struct PullCommandTests {
    /// An image skopeo pushed is pulled (Docker's lines, then the reference) and runs; a
    /// second pull finds it up to date; `-q` prints the reference alone.
    @Test func pullsAndRuns() throws {
        try withRegistry { server in
            try RegistryImages.push(layout: try TestImages.busybox().layout, to: "\(server.address)/team/app:1")
            try withNetctl { netctl in
                let reference = "\(server.address)/team/app:1"
                let output = try netctl.ok("pull", reference)
                #expect(output.hasPrefix("1: Pulling from team/app\n"))
                #expect(output.contains(": Pull complete\n"))
                #expect(output.contains("Digest: sha256:"))
                #expect(output.hasSuffix("Status: Downloaded newer image for \(reference)\n\(reference)\n"))
                #expect(try netctl.ok("image", "ls").contains("\(server.address)/team/app"))
                #expect(try netctl.ok("run", "--rm", "--network", "none", reference, "echo", "pulled and running") == "pulled and running\n")
                #expect(try netctl.ok("pull", reference).contains("Status: Image is up to date for \(reference)\n"))
                #expect(try netctl.ok("image", "pull", "-q", reference) == "\(reference)\n")
                let inspect = try netctl.ok("image", "inspect", reference)
                #expect(inspect.contains("\(server.address)/team/app@sha256:"))
            }
        }
    }

    /// A pull killed after its first verified blob leaves no image; the next pull reuses
    /// the blob (no download) and succeeds; reconcile finds nothing left over after it.
    @Test func killedPullLeavesNothingAndTheNextReusesItsBlob() throws {
        try withRegistry { server in
            try RegistryImages.push(layout: try TestImages.busybox().layout, to: "\(server.address)/team/app:1")
            try withNetctl { netctl in
                let reference = "\(server.address)/team/app:1"
                let killed = try netctl.netctl(["pull", reference], environment: ["NETCTL_FAULT": "pull.after-blob"])
                #expect(killed.status != 0)
                #expect(try netctl.ok("image", "ls", "-q") == "")
                let blobs = try FileManager.default.contentsOfDirectory(atPath: netctl.root + "/storage/blobs/sha256")
                #expect(blobs.count == 3)  // manifest, config, the layer
                let again = try netctl.ok("pull", reference)
                #expect(!again.contains("Download complete"))
                #expect(again.contains("Status: Downloaded newer image for \(reference)"))
                #expect(try netctl.ok("run", "--rm", "--network", "none", reference, "echo", "ok") == "ok\n")
            }
        }
    }

    /// Pulls SIGKILLed at random moments: none leaves an image half recorded (whatever
    /// `image ls` shows runs), the next pull completes from what they kept, and reconcile
    /// then removes what they left (staging, partials) and finds nothing more.
    @Test func pullsKilledAtRandomMomentsLeaveAWholeStore() throws {
        try withRegistry { server in
            try RegistryImages.push(layout: try TestImages.busybox().layout, to: "\(server.address)/team/app:1")
            try withNetctl { netctl in
                let reference = "\(server.address)/team/app:1"
                let elapsed = try ContinuousClock().measure { try netctl.ok("pull", "-q", reference) }
                let longest = max(0.040, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
                try netctl.ok("image", "rm", reference)
                try netctl.ok("system", "reconcile")
                var kills: [String] = []
                for round in 0..<8 {
                    let delay = Double.random(in: 0...longest)
                    kills.append("pull \(round) after \(Int(delay * 1000)) ms: \(try runKilled(netctl, ["pull", "-q", reference], after: delay))")
                    for id in try netctl.ok("image", "ls", "-q").split(separator: "\n") {
                        #expect(try netctl.netctl("run", "--rm", "--network", "none", String(id), "true").status == 0, "\(kills.joined(separator: "\n"))")
                        try netctl.ok("image", "rm", "-f", String(id))
                    }
                }
                let context = kills.joined(separator: "\n")
                #expect(try netctl.ok("pull", "-q", reference) == "\(reference)\n", "\(context)")
                #expect(try netctl.ok("run", "--rm", "--network", "none", reference, "echo", "whole") == "whole\n", "\(context)")
                try netctl.ok("system", "reconcile")
                #expect(try netctl.ok("system", "reconcile") == "nothing to repair\n", "\(context)")
                let tmp = (try? FileManager.default.contentsOfDirectory(atPath: netctl.root + "/storage/tmp")) ?? []
                #expect(tmp.allSatisfy { $0 == "blobs" }, "\(tmp)\n\(context)")
            }
        }
    }

    /// Three pulls of one image at once: each succeeds, and the store holds one image with
    /// one copy of each blob and layer.
    @Test func concurrentPullsOfOneImage() throws {
        try withRegistry { server in
            try RegistryImages.push(layout: try TestImages.busybox().layout, to: "\(server.address)/team/app:1")
            try withNetctl { netctl in
                let reference = "\(server.address)/team/app:1"
                let command = [NetctlHarness.binary, "pull", "-q", reference]
                let results = try runConcurrently([command, command, command], environment: netctl.environment)
                for result in results { #expect(result.status == 0 && result.stdout == "\(reference)\n", "\(result.stderr)") }
                #expect(try netctl.ok("image", "ls", "-q").split(separator: "\n").count == 1)
                #expect(try FileManager.default.contentsOfDirectory(atPath: netctl.root + "/storage/layers").count == 1)
                #expect(try netctl.ok("run", "--rm", "--network", "none", reference, "echo", "one") == "one\n")
                #expect(try netctl.ok("system", "reconcile") == "nothing to repair\n")
            }
        }
    }

    /// A registry behind htpasswd basic auth, and one behind a bearer-token server: pulled
    /// with the credentials of `--authfile` (Docker's config.json format); without them,
    /// one line saying access was denied and nothing stored.
    @Test(arguments: ["basic", "token"])
    func pullsWithCredentials(_ kind: String) throws {
        let user = (user: "puller", password: "s3cret-pw")
        let options = kind == "basic" ? RegistryServer.Options(htpasswd: user) : RegistryServer.Options(token: user)
        try withRegistry(options) { server in
            try RegistryImages.push(layout: try TestImages.busybox().layout, to: "\(server.address)/team/app:1", credentials: user)
            try withNetctl { netctl in
                let reference = "\(server.address)/team/app:1"
                let directory = NSTemporaryDirectory() + uniqueName("ncauth")
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                defer { try? FileManager.default.removeItem(atPath: directory) }
                let auth = Data("\(user.user):\(user.password)".utf8).base64EncodedString()
                try #"{"auths":{"\#(server.address)":{"auth":"\#(auth)"}}}"#.write(toFile: directory + "/auth.json", atomically: true, encoding: .utf8)
                let empty = ["REGISTRY_AUTH_FILE": directory + "/none.json", "DOCKER_CONFIG": directory]

                let denied = try netctl.netctl(["pull", reference], environment: empty)
                #expect(denied.status == 1)
                #expect(denied.stderr.split(separator: "\n").count == 1 && denied.stderr.hasPrefix("Error: pull \(reference): "), "\(denied.stderr)")
                #expect(try netctl.ok("image", "ls", "-q") == "")

                let pulled = try netctl.netctl(["pull", "-q", "--authfile", directory + "/auth.json", reference], environment: empty)
                #expect(pulled.status == 0 && pulled.stdout == "\(reference)\n", "\(pulled.stderr)")
                #expect(!pulled.stdout.contains(user.password) && !pulled.stderr.contains(user.password))
            }
        }
    }

    /// A registry on TLS with a CA of the test's own: pulled when certs.d has the CA; an
    /// untrusted certificate is one line and nothing stored.
    @Test func pullsOverTLSWithCertsD() throws {
        try withRegistry(RegistryServer.Options(tls: true)) { server in
            let directory = NSTemporaryDirectory() + uniqueName("nccerts")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            try server.certsDirectory(at: directory + "/certs.d")
            let push = try runCommand(["skopeo", "copy", "--quiet", "--dest-cert-dir", directory + "/certs.d/" + server.address,
                                       "oci:" + (try TestImages.busybox().layout), "docker://\(server.address)/team/app:1"])
            try #require(push.status == 0, "\(push.stderr)")
            try withNetctl { netctl in
                let reference = "\(server.address)/team/app:1"
                let untrusted = try netctl.netctl(["pull", reference], environment: ["NETCTL_CERTS_D": directory + "/none"])
                #expect(untrusted.status == 1)
                #expect(untrusted.stderr.split(separator: "\n").count == 1 && untrusted.stderr.hasPrefix("Error: pull \(reference): "), "\(untrusted.stderr)")
                #expect(try netctl.ok("image", "ls", "-q") == "")
                let pulled = try netctl.netctl(["pull", "-q", reference], environment: ["NETCTL_CERTS_D": directory + "/certs.d"])
                #expect(pulled.status == 0 && pulled.stdout == "\(reference)\n", "\(pulled.stderr)")
            }
        }
    }

    /// Bad input: one line on stderr, exit 1, nothing stored.
    @Test(arguments: ["unknown-tag", "bad-reference", "bad-platform", "other-platform", "unreachable"])
    func badInputIsOneLine(_ kind: String) throws {
        try withRegistry { server in
            try RegistryImages.push(layout: try TestImages.busybox().layout, to: "\(server.address)/team/app:1")
            try withNetctl { netctl in
                let arguments: [String] = switch kind {
                case "unknown-tag": ["pull", "\(server.address)/team/app:nope"]
                case "bad-reference": ["pull", "\(server.address)/team/App:1"]
                case "other-platform": ["pull", "--platform", "linux/arm64", "\(server.address)/team/app:1"]
                case "unreachable": ["pull", "127.0.0.1:\(try freeLoopbackPort())/team/app:1"]
                default: ["pull", "--platform", "linux", "\(server.address)/team/app:1"]
                }
                let result = try netctl.netctl(arguments)
                #expect(result.status == 1)
                #expect(result.stderr.split(separator: "\n").count == 1)
                #expect(result.stderr.hasPrefix("Error: pull \(arguments.last!): "))
                #expect(try netctl.ok("image", "ls", "-q") == "")
            }
        }
    }
}
