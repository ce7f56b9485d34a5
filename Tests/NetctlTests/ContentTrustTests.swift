import Foundation
import Testing
import TestSupport

/// Content trust end to end, as a user runs it: `push` signs, `pull`, `run` and `image
/// import` with trust on take only what the tag's trust data signs, here a static TUF
/// repository in a directory (`tuf+file://`) beside a real registry.
@Suite struct ContentTrustTests {
    /// Trust on, with a repository of the test's own and passphrases for new keys.
    static func trustEnvironment(_ netctl: NetctlHarness, on: Bool = true) -> [String: String] {
        ["NETCTL_CONTENT_TRUST": on ? "1" : "0", "NETCTL_CONTENT_TRUST_SERVER": "tuf+file://\(netctl.root)/trust-repository",
         "NETCTL_CONTENT_TRUST_ROOT_PASSPHRASE": "root-passphrase-1", "NETCTL_CONTENT_TRUST_REPOSITORY_PASSPHRASE": "repository-passphrase-1"]
    }

    /// A runnable image that is not busybox: busybox's layer and one more.
    static func otherImage(at directory: String) throws -> String {
        try CraftedImages.layout(at: directory, base: [try TestImages.busyboxLayer()], layers: [[.file("unsigned", "not what was signed\n")]])
        return directory
    }

    @Test func pushSignsAndTrustedPullRunsOnlyTheSignedDigest() throws {
        try withRegistry { server in try withNetctl { netctl in
            let trust = Self.trustEnvironment(netctl)
            let off = Self.trustEnvironment(netctl, on: false)
            let reference = "\(server.address)/team/app:1.0"
            try netctl.importBusybox()
            try netctl.ok("tag", "nctest/busybox", reference)

            // push signs what it pushed.
            let push = try netctl.netctl("push", reference, environment: trust)
            #expect(push.status == 0, "\(push.stderr)")
            #expect(push.stdout.contains("Signing and pushing trust metadata"), "\(push.stdout)")
            let signed = try #require(push.stdout.split(separator: "\n").first { $0.hasPrefix("1.0: digest: ") }.map { String($0.split(separator: " ")[2]) })
            let gun = "\(server.address)/team/app"
            // latest too, for the import below (an OCI layout names its image latest).
            try netctl.ok("tag", "nctest/busybox", "\(gun):latest")
            #expect(try netctl.netctl("push", "\(gun):latest", environment: trust).status == 0)
            #expect(FileManager.default.fileExists(atPath: "\(netctl.root)/trust-repository/\(gun)/timestamp.json"))
            let verify = try netctl.netctl("trust", "verify", reference, environment: trust)
            #expect(verify.status == 0 && verify.stdout.contains(signed), "\(verify.stdout)\(verify.stderr)")

            // The registry's tag is moved to another image, unsigned.
            let other = try Self.otherImage(at: netctl.root + "-other")
            defer { try? FileManager.default.removeItem(atPath: other) }
            try RegistryImages.push(layout: other, to: reference)
            try netctl.ok("image", "rm", reference, "\(gun):latest", "nctest/busybox")

            // Trusted pull fetches the signed digest, not what the tag now names.
            let pull = try netctl.netctl("pull", reference, environment: trust)
            #expect(pull.status == 0, "\(pull.stderr)")
            #expect(pull.stdout.contains("Pull (1 of 1): \(gun):1.0@\(signed)"), "\(pull.stdout)")
            let inspected = try netctl.ok("image", "inspect", reference)
            #expect(inspected.contains("\(gun)@\(signed)"), "\(inspected)")
            let run = try netctl.netctl("run", "--rm", "--network", "none", reference, "sh", "-c", "test ! -e /unsigned && echo signed", environment: trust)
            #expect(run.status == 0 && run.stdout == "signed\n", "the signed image has no /unsigned: \(run.stdout)\(run.stderr)")

            // Without trust, the moved tag is what a pull takes; a trusted run then goes back
            // to the signed image.
            #expect(try netctl.netctl("pull", reference, environment: off).status == 0)
            // A trusted pull naming the tag and another digest would store the tag on it: refused.
            let moved = try JSONSerialization.jsonObject(with: Data(try netctl.ok("image", "inspect", reference).utf8)) as? [[String: Any]]
            let unsignedDigest = try #require((moved?.first?["RepoDigests"] as? [String])?
                .compactMap { $0.split(separator: "@").last.map(String.init) }.first { $0 != signed })
            let pinnedElsewhere = try netctl.netctl("pull", "\(reference)@\(unsignedDigest)", environment: trust)
            #expect(pinnedElsewhere.status != 0 && pinnedElsewhere.stderr.contains("trust data signs \(signed) for tag 1.0, not \(unsignedDigest)"),
                    "\(pinnedElsewhere.stderr)")
            let trustedRun = try netctl.netctl("run", "--rm", "--network", "none", reference, "sh", "-c", "test ! -e /unsigned && echo signed", environment: trust)
            #expect(trustedRun.status == 0 && trustedRun.stdout == "signed\n", "\(trustedRun.stdout)\(trustedRun.stderr)")

            // An unsigned tag is refused, and nothing is stored.
            try RegistryImages.push(layout: other, to: "\(server.address)/team/app:2.0")
            let before = try netctl.ok("image", "ls", "-q")
            let unsigned = try netctl.netctl("pull", "\(server.address)/team/app:2.0", environment: trust)
            #expect(unsigned.status != 0)
            #expect(unsigned.stderr.contains("No valid trust data for 2.0"), "\(unsigned.stderr)")
            #expect(try netctl.ok("image", "ls", "-q") == before)

            // An import by a signed tag of an image that is not the signed one is refused.
            let imported = try netctl.netctl("image", "import", "--name", gun, other, environment: trust)
            #expect(imported.status != 0)
            #expect(imported.stderr.contains("but trust data signs \(signed)"), "\(imported.stderr)")
        } }
    }

    /// Signers: `trust key generate`, `signer add`, `trust sign` into the signer's role,
    /// `inspect` in Docker's shape, `revoke`, and a policy requiring a signer.
    @Test func signersSignInspectRevokeAndRequiredSigners() throws {
        try withRegistry { server in try withNetctl { netctl in
            let trust = Self.trustEnvironment(netctl)
            let reference = "\(server.address)/team/app:1.0"
            let repository = "\(server.address)/team/app"
            try RegistryImages.push(layout: try TestImages.busybox().layout, to: reference)

            let keys = netctl.root + "/keys"
            try FileManager.default.createDirectory(atPath: keys, withIntermediateDirectories: true)
            let generate = try netctl.netctl("trust", "key", "generate", "alice", "--dir", keys, environment: trust)
            #expect(generate.status == 0, "\(generate.stderr)")
            let pem = try String(contentsOfFile: keys + "/alice.pub", encoding: .utf8)
            #expect(pem.hasPrefix("-----BEGIN PUBLIC KEY-----\nrole: alice\n"), "\(pem)")
            #expect(try netctl.netctl("trust", "key", "ls", environment: trust).stdout.contains("alice"))

            let add = try netctl.netctl("trust", "signer", "add", "--key", keys + "/alice.pub", "alice", repository, environment: trust)
            #expect(add.status == 0, "\(add.stdout)\(add.stderr)")
            // A wrong passphrase for alice's key: one line, and nothing signed.
            var wrong = trust
            wrong["NETCTL_CONTENT_TRUST_REPOSITORY_PASSPHRASE"] = "not-the-passphrase"
            let refusedKey = try netctl.netctl("trust", "sign", reference, environment: wrong)
            #expect(refusedKey.status != 0 && refusedKey.stderr.hasSuffix(": wrong passphrase\n"), "\(refusedKey.stderr)")
            #expect(refusedKey.stderr.split(separator: "\n").count == 1)
            let notSigned = try netctl.netctl("trust", "verify", reference, environment: trust)
            #expect(notSigned.status != 0 && notSigned.stderr.contains("No valid trust data for 1.0"), "\(notSigned.stdout)\(notSigned.stderr)")

            let sign = try netctl.netctl("trust", "sign", reference, environment: trust)
            #expect(sign.status == 0, "\(sign.stderr)")
            #expect(sign.stdout.contains("into alice, releases") || sign.stdout.contains("into releases, alice"), "\(sign.stdout)")

            let inspect = try netctl.netctl("trust", "inspect", repository, environment: trust)
            #expect(inspect.status == 0, "\(inspect.stderr)")
            let report = try #require(try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [[String: Any]]).first
            let tags = try #require(report?["SignedTags"] as? [[String: Any]])
            #expect(tags.count == 1 && tags[0]["SignedTag"] as? String == "1.0" && tags[0]["Signers"] as? [String] == ["alice"], "\(tags)")
            #expect((report?["Signers"] as? [[String: Any]])?.first?["Name"] as? String == "alice")
            #expect((report?["AdministrativeKeys"] as? [[String: Any]])?.count == 2)

            // A policy that requires secops: alice alone is not enough.
            try Data(#"{"content-trust": {"mode": "enforced", "required-signers": {"\#(server.address)/team/*": ["secops"]}}}"#.utf8)
                .write(to: URL(fileURLWithPath: netctl.root + "/config.json"))
            var policy = trust
            policy["NETCTL_CONTENT_TRUST"] = nil
            let refused = try netctl.netctl("pull", reference, environment: policy)
            #expect(refused.status != 0)
            #expect(refused.stderr.contains("secops"), "\(refused.stderr)")

            // Trust pinning: a root signed by none of the pinned keys is refused, and nothing
            // of the collection stays trusted; the real root key is accepted.
            let rootKey = try #require(((report?["AdministrativeKeys"] as? [[String: Any]])?.first { $0["Name"] as? String == "Root" }?["Keys"] as? [[String: Any]])?.first?["ID"] as? String)
            let bogus = String(repeating: "ab", count: 32)
            try Data(#"{"content-trust": {"mode": "enforced", "trust-pinning": {"root-keys": {"\#(repository)": ["\#(bogus)"]}}}}"#.utf8)
                .write(to: URL(fileURLWithPath: netctl.root + "/config.json"))
            let unpinned = try netctl.netctl("pull", reference, environment: policy)
            #expect(unpinned.status != 0 && unpinned.stderr.contains("not signed with a pinned root key (abababababab)"), "\(unpinned.stderr)")
            let metadata = "\(netctl.root)/trust/tuf/\(repository)/metadata"
            #expect(((try? FileManager.default.contentsOfDirectory(atPath: metadata)) ?? []).filter { $0.hasSuffix(".json") }.isEmpty)
            try Data(#"{"content-trust": {"mode": "enforced", "trust-pinning": {"root-keys": {"\#(server.address)/*": ["\#(rootKey)"]}}}}"#.utf8)
                .write(to: URL(fileURLWithPath: netctl.root + "/config.json"))
            let pinned = try netctl.netctl("pull", reference, environment: policy)
            #expect(pinned.status == 0, "\(pinned.stderr)")
            try FileManager.default.removeItem(atPath: netctl.root + "/config.json")

            let revoke = try netctl.netctl("trust", "revoke", reference, environment: trust)
            #expect(revoke.status == 0, "\(revoke.stderr)")
            let gone = try netctl.netctl("trust", "verify", reference, environment: trust)
            #expect(gone.status != 0 && gone.stderr.contains("No valid trust data for 1.0"), "\(gone.stderr)")
        } }
    }

    /// Bad input: each one line, nothing changed.
    @Test func badInputIsOneLine() throws {
        try withNetctl { netctl in
            var trust = Self.trustEnvironment(netctl)
            trust["NETCTL_CONTENT_TRUST_SERVER"] = "ftp://example.invalid"
            let server = try netctl.netctl("trust", "verify", "198.18.0.1:5000/team/app:1", environment: trust)
            #expect(server.status != 0)
            #expect(server.stderr.contains("trust server \"ftp://example.invalid\": expected https://HOST[:PORT] (Notary)"), "\(server.stderr)")

            trust = Self.trustEnvironment(netctl)
            trust["NETCTL_CONTENT_TRUST"] = "maybe"
            let flag = try netctl.netctl("pull", "198.18.0.1:5000/team/app:1", environment: trust)
            #expect(flag.status != 0 && flag.stderr.contains("NETCTL_CONTENT_TRUST=\"maybe\": expected 1 or 0"), "\(flag.stderr)")

            let name = try netctl.netctl("trust", "key", "generate", "Bad Name", environment: Self.trustEnvironment(netctl))
            #expect(name.status != 0 && name.stderr.contains("expected a signer name"), "\(name.stderr)")

            let missing = try netctl.netctl("trust", "signer", "add", "--key", netctl.root + "/nope.pub", "bob", "198.18.0.1:5000/team/app",
                                            environment: Self.trustEnvironment(netctl))
            #expect(missing.status != 0 && missing.stderr.contains("nope.pub"), "\(missing.stderr)")

            var noPassphrase = Self.trustEnvironment(netctl)
            noPassphrase["NETCTL_CONTENT_TRUST_REPOSITORY_PASSPHRASE"] = nil
            let keys = netctl.root + "/keys"
            try FileManager.default.createDirectory(atPath: keys, withIntermediateDirectories: true)
            let asked = try runCommand(["setsid", "-w", NetctlHarness.binary, "trust", "key", "generate", "carol", "--dir", keys],
                                       environment: netctl.environment.merging(noPassphrase) { $1 })
            #expect(asked.status != 0 && asked.stderr.contains("NETCTL_CONTENT_TRUST_REPOSITORY_PASSPHRASE"), "\(asked.stderr)")
            #expect(!FileManager.default.fileExists(atPath: keys + "/carol.pub"))

            // `trust key load`: a PEM key openssl made, encrypted with a passphrase of its own,
            // is stored re-encrypted under the repository passphrase; a wrong one is one line.
            let ecKey = keys + "/dave.pem"
            let made = try runCommand(["sh", "-c", "openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -v2 aes-256-cbc -passout pass:dave-secret-1 -out '\(ecKey)'"])
            #expect(made.status == 0, "\(made.stderr)")
            var loadEnvironment = Self.trustEnvironment(netctl)
            loadEnvironment["NETCTL_CONTENT_TRUST_REPOSITORY_PASSPHRASE"] = "wrong-secret-1"
            let wrongLoad = try netctl.netctl("trust", "key", "load", "--name", "dave", ecKey, environment: loadEnvironment)
            #expect(wrongLoad.status != 0 && wrongLoad.stderr.contains("wrong passphrase"), "\(wrongLoad.stderr)")
            loadEnvironment["NETCTL_CONTENT_TRUST_REPOSITORY_PASSPHRASE"] = "dave-secret-1"
            let load = try netctl.netctl("trust", "key", "load", "--name", "dave", ecKey, environment: loadEnvironment)
            #expect(load.status == 0, "\(load.stderr)")
            let listed = try netctl.netctl("trust", "key", "ls", environment: loadEnvironment).stdout
            #expect(listed.contains("dave"), "\(listed)")
            try FileManager.default.removeItem(atPath: netctl.root + "/trust/private")

            // A new collection that cannot be published (its directory cannot be made)
            // leaves none of the keys made for it: only alice's, made before, stays.
            var unwritable = Self.trustEnvironment(netctl)
            unwritable["NETCTL_CONTENT_TRUST_SERVER"] = "tuf+file:///proc/netctl-no-such-directory"
            #expect(try netctl.netctl("trust", "key", "generate", "alice", "--dir", keys, environment: unwritable).status == 0)
            let failed = try netctl.netctl("trust", "signer", "add", "--key", keys + "/alice.pub", "alice", "198.18.0.1:5000/team/app",
                                           environment: unwritable)
            #expect(failed.status != 0 && failed.stderr.split(separator: "\n").count == 1, "\(failed.stderr)")
            let left = try FileManager.default.contentsOfDirectory(atPath: netctl.root + "/trust/private")
            #expect(left.count == 1, "\(left)")
        }
    }
}
