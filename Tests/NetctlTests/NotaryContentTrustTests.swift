import Foundation
import Testing
import TestSupport

/// Docker Content Trust's own set-up, end to end: a registry and a Notary server (Debian's
/// notary-server, TLS on the test's CA in certs.d), `push` with trust on signs into it with
/// the server holding the timestamp and snapshot keys, the notary CLI lists the tag, and a
/// trusted `pull` fetches the signed digest.
@Suite struct NotaryContentTrustTests {
    @Test func pushSignsIntoNotaryAndTheNotaryCLIAgrees() throws {
        try withRegistry { registry in try withNotaryServer { notary in try withNetctl { netctl in
            // The server's CA where registries' CAs go: certs.d/HOST:PORT/ca.crt.
            let certs = "\(netctl.root)/certs.d/127.0.0.1:\(notary.port)"
            try FileManager.default.createDirectory(atPath: certs, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: notary.caPath, toPath: certs + "/ca.crt")
            let trust = ["NETCTL_CONTENT_TRUST": "1", "NETCTL_CONTENT_TRUST_SERVER": notary.url,
                         "NETCTL_CONTENT_TRUST_ROOT_PASSPHRASE": "root-passphrase-1",
                         "NETCTL_CONTENT_TRUST_REPOSITORY_PASSPHRASE": "repository-passphrase-1"]
            let gun = "\(registry.address)/team/app"
            try netctl.importBusybox()
            try netctl.ok("tag", "nctest/busybox", "\(gun):1.0")

            let push = try netctl.netctl("push", "\(gun):1.0", environment: trust)
            #expect(push.status == 0, "\(push.stdout)\(push.stderr)")
            let digest = try #require(push.stdout.split(separator: "\n").first { $0.hasPrefix("1.0: digest: sha256:") }
                .map { String($0.split(separator: " ")[2].dropFirst("sha256:".count)) })

            // The notary CLI, with a trust directory of its own, sees the tag netctl signed.
            let cli = try notary.trustDirectory()
            let listed = try notary.notary("list", gun, trustDir: cli)
            #expect(listed.contains("1.0") && listed.contains(digest), "\(listed)")
            let lookup = try notary.notary("lookup", gun, "1.0", trustDir: cli)
            #expect(lookup.contains("sha256:\(digest)"), "\(lookup)")

            // A trusted pull of the tag takes the signed digest.
            try netctl.ok("image", "rm", "\(gun):1.0", "nctest/busybox")
            let pull = try netctl.netctl("pull", "\(gun):1.0", environment: trust)
            #expect(pull.status == 0 && pull.stdout.contains("Pull (1 of 1): \(gun):1.0@sha256:\(digest)"), "\(pull.stdout)\(pull.stderr)")
            let inspect = try netctl.netctl("trust", "inspect", gun, environment: trust)
            #expect(inspect.stdout.contains("\"SignedTag\" : \"1.0\"") && inspect.stdout.contains("Repo Admin"), "\(inspect.stdout)")

            // A tag signed with the notary CLI alone (the repository key is netctl's, so the
            // CLI cannot sign it) is unknown: one line, Docker's words.
            let unsigned = try netctl.netctl("pull", "\(gun):2.0", environment: trust)
            #expect(unsigned.status != 0 && unsigned.stderr.contains("No valid trust data for 2.0"), "\(unsigned.stderr)")

            // An unreachable trust server: one line.
            var down = trust
            down["NETCTL_CONTENT_TRUST_SERVER"] = "https://127.0.0.1:1"
            let unreachable = try netctl.netctl("pull", "\(gun):1.0", environment: down)
            #expect(unreachable.status != 0 && unreachable.stderr.contains("trust server 127.0.0.1:1"), "\(unreachable.stderr)")
            #expect(unreachable.stderr.split(separator: "\n").count == 1, "\(unreachable.stderr)")
        } } }
    }
}
