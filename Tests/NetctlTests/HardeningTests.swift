import Foundation
import Netlink
import Testing
import TestSupport

/// What a careful user and a hostile image found: each refusal is one line, each widening
/// of privilege is refused rather than silently applied, and nothing outside data is read
/// without a bound.
@Suite struct HardeningTests {
    /// (uid_t)-1 means "unchanged" to setresuid: a container asked to run as 4294967295
    /// would stay root. Every way an id comes in refuses it; 4294967294 is an ordinary id.
    @Test func uidAndGidMinusOneAreRefusedEverywhere() throws {
        try withNetctl { netctl in
            let image = try netctl.importBusybox()
            #expect(try netctl.ok("run", "--rm", "-u", "4294967294:4294967294", image, "sh", "-c", "id -u; id -g") == "4294967294\n4294967294\n")
            for user in ["4294967295", "1000:4294967295", "4294967295:0"] {
                let refused = try netctl.netctl("run", "--rm", "-u", user, image, "id")
                #expect(refused.status == 125, "\(user): \(refused.stdout)")
                #expect(refused.stderr.contains("invalid -u \"\(user)\"") && refused.stderr.contains("4294967295 is reserved"), "\(refused.stderr)")
                #expect(!refused.stdout.contains("uid=0"))
            }
            #expect(try netctl.ok("ps", "-aq").isEmpty)

            let id = try netctl.ok("run", "-d", image, "sleep", "30").trimmingCharacters(in: .whitespacesAndNewlines)
            let exec = try netctl.netctl("exec", "-u", "4294967295", id, "id", "-u")
            #expect(exec.status != 0 && exec.stderr.contains("4294967295 is reserved") && !exec.stdout.contains("0"), "\(exec.stdout) \(exec.stderr)")
            #expect(try netctl.ok("exec", "-u", "1000", id, "id", "-u") == "1000\n")
            try netctl.ok("rm", "-f", id)

            let profile = try netctl.netctl("profile", "create", "-u", "0:4294967295", "widening")
            #expect(profile.status != 0 && profile.stderr.contains("gid 4294967295 is reserved"), "\(profile.stderr)")
            #expect(!(try netctl.ok("profile", "ls").contains("widening")))

            let bundle = netctl.root + "-bundle"
            defer { try? FileManager.default.removeItem(atPath: bundle) }
            for field in ["uid", "gid"] {
                try OCIBundles.make(bundle, args: ["id"]) { config in
                    var process = config["process"] as! [String: Any]
                    var user = process["user"] as! [String: Any]
                    user[field] = 4294967295
                    process["user"] = user
                    config["process"] = process
                }
                let oci = try netctl.netctl("runtime", "run", "--bundle", bundle, uniqueName("nctoci"))
                #expect(oci.status != 0 && oci.stderr.contains("process.user") && oci.stderr.contains("\(field) 4294967295 is reserved"), "\(oci.stderr)")
                #expect(!oci.stdout.contains("uid=0"))
                try FileManager.default.removeItem(atPath: bundle)
            }
        }
    }

    /// `-v DIR:/` would replace the container's root; `/a/..` is the same path. A host
    /// directory bound over /dev gets none of the device nodes or links netctl makes.
    @Test func bindMountsCannotReplaceTheRootOrReceiveDevices() throws {
        try withNetctl { netctl in
            let image = try netctl.importBusybox()
            let host = netctl.root + "-hostdir"
            try FileManager.default.createDirectory(atPath: host, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: host) }
            for destination in ["/", "/a/..", "//."] {
                let refused = try netctl.netctl("run", "--rm", "-v", "\(host):\(destination)", image, "true")
                #expect(refused.status == 125 && refused.stderr.contains("destination can't be '/'"), "\(destination): \(refused.stderr)")
            }
            let tmpfs = try netctl.netctl("run", "--rm", "--tmpfs", "/tmp/..", image, "true")
            #expect(tmpfs.status == 125 && tmpfs.stderr.contains("invalid --tmpfs \"/tmp/..\": destination can't be '/'"), "\(tmpfs.stderr)")

            let listing = try netctl.ok("run", "--rm", "-v", "\(host):/dev", image, "ls", "-a", "/dev")
            #expect(listing.split(separator: "\n").sorted() == [".", ".."], "\(listing)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: host).isEmpty)
            // A bind anywhere else leaves the container its own /dev.
            #expect(try netctl.ok("run", "--rm", "-v", "\(host):/data", image, "sh", "-c", "echo x > /dev/null && ls /data") == "")
            #expect(try FileManager.default.contentsOfDirectory(atPath: host).isEmpty)
        }
    }

    /// Files handed to netctl are read with a bound that fits their kind, and only when
    /// they are regular files: /dev/zero, a FIFO without a writer and an oversized profile
    /// each end in one line, at once.
    @Test func filesFromOutsideAreReadWithABound() throws {
        try withNetctl { netctl in
            let image = try netctl.importBusybox()
            let fifo = netctl.root + "-fifo"
            #expect(mkfifo(fifo, 0o600) == 0)
            defer { unlink(fifo) }
            let big = netctl.root + "-big.json"
            try Data(repeating: 0x20, count: 5 << 20).write(to: URL(fileURLWithPath: big))
            defer { try? FileManager.default.removeItem(atPath: big) }

            let cases: [([String], String)] = [
                (["run", "--rm", "--security-opt", "seccomp=/dev/zero", image, "true"], "seccomp profile /dev/zero: is a character device"),
                (["run", "--rm", "--security-opt", "seccomp=\(fifo)", image, "true"], "is a FIFO, expected a JSON document"),
                (["run", "--rm", "--security-opt", "seccomp=\(big)", image, "true"], "larger than 4 MiB"),
                (["seccomp", "compile", "/dev/zero"], "is a character device"),
                (["seccomp", "check", big], "larger than 4 MiB"),
                (["profile", "create", "--security-opt", "seccomp=/dev/zero", "zeros"], "is a character device"),
            ]
            for (arguments, message) in cases {
                let result = try netctl.netctl(arguments)
                #expect(result.status != 0 && result.stderr.contains(message), "\(arguments): \(result.stderr)")
                #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
            }
            #expect(try netctl.ok("ps", "-aq").isEmpty)

            let bundle = netctl.root + "-bundle"
            defer { try? FileManager.default.removeItem(atPath: bundle) }
            try OCIBundles.make(bundle, args: ["true"])
            try FileManager.default.removeItem(atPath: bundle + "/config.json")
            #expect(mkfifo(bundle + "/config.json", 0o600) == 0)
            let oci = try netctl.netctl("runtime", "run", "--bundle", bundle, uniqueName("nctoci"))
            #expect(oci.status != 0 && oci.stderr.contains("config.json: is a FIFO"), "\(oci.stderr)")
        }
    }

    /// A blob that is a symlink out of the layout (`blobs/sha256/X -> /etc/…`) is refused
    /// before it is read: a host file's size and digest never show in an error.
    @Test func blobsAreReadOnlyFromInsideTheImage() throws {
        try withNetctl { netctl in
            let layout = netctl.root + "-escape"
            defer { try? FileManager.default.removeItem(atPath: layout) }
            #expect(try runCommand(["cp", "-a", try TestImages.busybox().layout, layout]).status == 0)
            let blobs = layout + "/blobs/sha256"
            let secret = netctl.root + "-secret"
            try Data("host secret\n".utf8).write(to: URL(fileURLWithPath: secret))
            defer { try? FileManager.default.removeItem(atPath: secret) }
            for blob in try FileManager.default.contentsOfDirectory(atPath: blobs) {
                try FileManager.default.removeItem(atPath: "\(blobs)/\(blob)")
                try FileManager.default.createSymbolicLink(atPath: "\(blobs)/\(blob)", withDestinationPath: secret)
            }
            let result = try netctl.netctl("image", "import", layout)
            #expect(result.status != 0 && result.stderr.contains("outside the image"), "\(result.stderr)")
            #expect(!result.stderr.contains("hashes to"), "\(result.stderr)")
            #expect(try netctl.ok("image", "ls", "-q").isEmpty)
        }
    }
}
