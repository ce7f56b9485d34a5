import Foundation
@testable import Registry
import Testing
import TestSupport

/// Authentication against real registries: htpasswd basic auth, and the bearer-token
/// challenge flow through a token server the test runs; credentials from the auth file.
@Suite struct AuthTests {
    @Test func basicAuthWithCredentialsFromTheAuthFile() throws {
        try withRegistry(.init(htpasswd: ("alice", "s3cret-basic"))) { server in
            try withTemporaryDirectory { directory in
                try AuthFile(path: directory + "/auth.json").store(RegistryCredentials(user: "alice", password: "s3cret-basic"), for: server.address)
                let client = try configuration(directory).client(for: server.address)
                #expect(try client.send(HTTPRequest(method: "GET", url: client.url("/v2/")), scopes: []).status == 200)
                _ = try pushBlob(Array("basic".utf8), client: client)
            }
        }
    }

    @Test func basicAuthRefusedIsDenied() throws {
        try withRegistry(.init(htpasswd: ("alice", "s3cret-basic"))) { server in
            try withTemporaryDirectory { directory in
                // Nobody: the 401 says to log in.
                let anonymous = try configuration(directory).client(for: server.address)
                let refused = try #require(throws: RegistryError.self) {
                    try anonymous.send(HTTPRequest(method: "GET", url: anonymous.url("/v2/")), scopes: [])
                }
                #expect(refused.kind == .denied)
                #expect(refused.message.contains("no credentials for \(server.address)") && refused.message.contains("netctl login \(server.address)"), "\(refused)")

                // A wrong password: denied as alice, the password never shown.
                try AuthFile(path: directory + "/auth.json").store(RegistryCredentials(user: "alice", password: "wrong-pass-xyz"), for: server.address)
                let wrong = try configuration(directory).client(for: server.address)
                let error = try #require(throws: RegistryError.self) {
                    try wrong.send(HTTPRequest(method: "GET", url: wrong.url("/v2/")), scopes: [])
                }
                #expect(error.kind == .denied)
                #expect(error.message.contains("said UNAUTHORIZED") && error.message.contains("as alice"), "\(error)")
                #expect(!error.message.contains("wrong-pass-xyz") && !error.message.contains("\n"))
            }
        }
    }

    @Test func tokenFlowPullsAndPushesAndCachesTheToken() throws {
        try withRegistry(.init(token: ("bob", "s3cret-token"))) { server in
            try withTemporaryDirectory { directory in
                try AuthFile(path: directory + "/auth.json").store(RegistryCredentials(user: "bob", password: "s3cret-token"), for: server.address)
                let client = try configuration(directory).client(for: server.address)
                let digest = try pushBlob(Array("token".utf8), client: client)
                let before = server.tokenRequests.count
                for _ in 0..<3 {
                    var bytes: [UInt8] = []
                    let answer = try client.send(HTTPRequest(method: "GET", url: client.url("/v2/t/app/blobs/\(digest)")), scopes: [.pull("t/app")]) { bytes += $0 }
                    #expect(answer.status == 200 && bytes == Array("token".utf8))
                }
                // One token for the pull scope, then the cache.
                #expect(server.tokenRequests.count == before + 1, "\(server.tokenRequests)")
                #expect(server.tokenRequests.allSatisfy { $0.hasPrefix("bob ") })
            }
        }
    }

    @Test func tokenFlowWithAWrongPasswordIsDenied() throws {
        try withRegistry(.init(token: ("bob", "s3cret-token"))) { server in
            try withTemporaryDirectory { directory in
                try AuthFile(path: directory + "/auth.json").store(RegistryCredentials(user: "bob", password: "not-it-987"), for: server.address)
                let client = try configuration(directory).client(for: server.address)
                let error = try #require(throws: RegistryError.self) {
                    try client.send(HTTPRequest(method: "GET", url: client.url("/v2/t/app/tags/list")), scopes: [.pull("t/app")])
                }
                #expect(error.kind == .denied)
                #expect(error.message.contains("token server") && error.message.contains("incorrect username or password"), "\(error)")
                #expect(!error.message.contains("not-it-987"))
            }
        }
    }

    /// Bob may pull but not push: pulls work, the push is denied with the registry's word.
    @Test func tokenFlowGrantsOnlyTheUsersActions() throws {
        try withRegistry(.init(token: ("bob", "s3cret-token"), tokenActions: ["pull"])) { server in
            try withTemporaryDirectory { directory in
                try AuthFile(path: directory + "/auth.json").store(RegistryCredentials(user: "bob", password: "s3cret-token"), for: server.address)
                let client = try configuration(directory).client(for: server.address)
                #expect(try client.send(HTTPRequest(method: "GET", url: client.url("/v2/t/app/tags/list")), scopes: [.pull("t/app")]).status == 404)
                let error = try #require(throws: RegistryError.self) {
                    try client.send(HTTPRequest(method: "POST", url: client.url("/v2/t/app/blobs/uploads/")), scopes: [.push("t/app")])
                }
                #expect(error.kind == .denied)
                #expect(error.message == "registry \(server.address) said UNAUTHORIZED: authentication required (POST /v2/t/app/blobs/uploads/, as bob)", "\(error)")
            }
        }
    }

    /// Anonymous token requests (no credentials at all), as Docker Hub serves public images.
    @Test func anonymousTokens() throws {
        try withRegistry(.init(token: ("bob", "s3cret-token"), anonymousActions: ["pull"])) { server in
            try withTemporaryDirectory { directory in
                let client = try configuration(directory).client(for: server.address)
                #expect(try client.send(HTTPRequest(method: "GET", url: client.url("/v2/t/app/tags/list")), scopes: [.pull("t/app")]).status == 404)
                #expect(server.tokenRequests.allSatisfy { $0.hasPrefix("- ") } && !server.tokenRequests.isEmpty)
                #expect(throws: RegistryError.self) {
                    try client.send(HTTPRequest(method: "POST", url: client.url("/v2/t/app/blobs/uploads/")), scopes: [.push("t/app")])
                }
            }
        }
    }

    @Test func parsesChallenges() throws {
        let header = #"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull repository:c:push",error="insufficient_scope", "# + "Basic realm=\"Registry \\\"x\\\"\"\nNegotiate"
        let challenges = AuthChallenge.parse(header)
        try #require(challenges.count == 3)
        #expect(challenges[0].scheme == "bearer" && challenges[0].realm == "https://auth.example/token" && challenges[0].service == "registry.example")
        #expect(challenges[0].scopes == ["repository:a/b:pull", "repository:c:push"] && challenges[0].error == "insufficient_scope")
        #expect(challenges[1] == AuthChallenge(scheme: "basic", parameters: ["realm": #"Registry "x""#]))
        #expect(challenges[2].scheme == "negotiate")
        #expect(AuthChallenge.parse("Basic realm=unquoted") == [AuthChallenge(scheme: "basic", parameters: ["realm": "unquoted"])])
    }

    @Test func authFileKeepsWhatItDoesNotOwn() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/docker/config.json"
            try FileManager.default.createDirectory(atPath: directory + "/docker", withIntermediateDirectories: true)
            try #"{"auths": {"other.example": {"auth": "b3RoZXI6cHc="}, "https://index.docker.io/v1/": {"auth": "aHViOmh1YnB3"}}, "psFormat": "table {{.ID}}", "credHelpers": {"gcr.example": "gcloud"}}"#
                .write(toFile: path, atomically: true, encoding: .utf8)
            let file = AuthFile.locate(nil, environment: ["DOCKER_CONFIG": directory + "/docker", "HOME": "/nonexistent"])
            #expect(file.path == path)
            #expect(try file.entry(for: "docker.io") == .credentials(RegistryCredentials(user: "hub", password: "hubpw")))
            #expect(try file.entry(for: "gcr.example") == .helper("gcloud"))
            #expect(try file.entry(for: "new.example:5000") == .none)

            try file.store(RegistryCredentials(user: "u", password: "p:w"), for: "new.example:5000")
            #expect(try file.entry(for: "new.example:5000") == .credentials(RegistryCredentials(user: "u", password: "p:w")))
            var status = stat()
            #expect(stat(path, &status) == 0 && status.st_mode & 0o777 == 0o600)
            let document = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
            #expect(document["psFormat"] as? String == "table {{.ID}}")
            #expect((document["credHelpers"] as? [String: String]) == ["gcr.example": "gcloud"])
            #expect((document["auths"] as? [String: Any])?.keys.sorted() == ["https://index.docker.io/v1/", "new.example:5000", "other.example"])

            #expect(try file.remove(registry: "new.example:5000"))
            #expect(try !file.remove(registry: "new.example:5000"))
            #expect(try file.entry(for: "other.example") == .credentials(RegistryCredentials(user: "other", password: "pw")))
            // No temporary files left beside it.
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory + "/docker") == ["config.json"])
            #expect("\(RegistryCredentials(user: "u", password: "p:w"))" == "u:***")
        }
    }

    /// A registry spoken to over TLS whose challenge names a plain-HTTP token server
    /// elsewhere: the password is not sent (refused before any connection is made).
    @Test func credentialsDoNotGoToAPlainHTTPRealm() throws {
        let endpoint = RegistryEndpoint(registry: "registry.example", baseURL: "https://registry.example",
                                        credentials: RegistryCredentials(user: "alice", password: "s3cret-clear"))
        let client = try RegistryClient(endpoint: endpoint)
        let challenge = AuthChallenge(scheme: "bearer", parameters: ["realm": "http://198.18.0.1/token", "service": "registry"])
        let error = try #require(throws: RegistryError.self) { try client.token(challenge, scopes: ["repository:a:pull"], fresh: true) }
        #expect(error.kind == .denied)
        #expect(error.message.contains("plain HTTP") && !error.message.contains("s3cret-clear"))
        var dumped = ""
        dump(endpoint, to: &dumped)
        #expect(dumped.contains("alice") && !dumped.contains("s3cret-clear"))
    }

    /// What is not a regular file is refused before a byte is read (a FIFO would block a
    /// pull for ever), in one line naming it; a symbolic link planted beside the file is
    /// never written through.
    @Test func authFileThatIsNotAFileIsRefused() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/auth.json"
            #expect(mkfifo(path, 0o600) == 0)
            let error = try #require(throws: RegistryError.self) { try AuthFile(path: path).entry(for: "registry.example") }
            #expect(error.message == "auth file \(path): is a FIFO, expected Docker's config.json in a regular file")
            unlink(path)

            let victim = directory + "/victim"
            try "untouched\n".write(toFile: victim, atomically: false, encoding: .utf8)
            for name in ["auth.json.tmp-\(getpid())", "auth.json.tmp"] { #expect(symlink(victim, directory + "/" + name) == 0) }
            try AuthFile(path: path).store(RegistryCredentials(user: "u", password: "pw"), for: "registry.example")
            #expect(try String(contentsOfFile: victim, encoding: .utf8) == "untouched\n")
            #expect(try AuthFile(path: path).entry(for: "registry.example") == .credentials(RegistryCredentials(user: "u", password: "pw")))
        }
    }
}

@Suite struct RedirectTests {
    /// A blob GET redirected to another host (a storage back end) is followed, without the
    /// registry's token.
    @Test func followsRedirectsWithoutTakingCredentialsAlong() throws {
        try withRegistry(.init(token: ("bob", "s3cret-token"), fault: .passThrough)) { server in
            try withTemporaryDirectory { directory in
                try AuthFile(path: directory + "/auth.json").store(RegistryCredentials(user: "bob", password: "s3cret-token"), for: server.address)
                let client = try configuration(directory).client(for: server.address)
                let blob = Array("redirected layer".utf8)
                let digest = try pushBlob(blob, client: client)
                try server.setFault(.redirectBlob)
                var bytes: [UInt8] = []
                let answer = try client.send(HTTPRequest(method: "GET", url: client.url("/v2/t/app/blobs/\(digest)")), scopes: [.pull("t/app")]) { bytes += $0 }
                #expect(answer.status == 200 && bytes == blob)
                #expect(server.storageRequests == 1)
                #expect(server.credentialsSentToStorage == 0)
            }
        }
    }
}

@Suite struct InsecureRegistryTests {
    /// Configured insecure: a certificate nobody vouches for is accepted, as Docker does.
    @Test func anInsecureRegistryIsNotVerified() throws {
        try withRegistry(.init(tls: true)) { server in
            try withTemporaryDirectory { directory in
                try #"{"insecure": ["\#(server.address)"]}"#.write(toFile: directory + "/registries.json", atomically: true, encoding: .utf8)
                let client = try configuration(directory).client(for: server.address)
                #expect(try client.send(HTTPRequest(method: "GET", url: client.url("/v2/")), scopes: []).status == 200)
                #expect(client.base == "https://\(server.address)")
            }
        }
    }

    /// Insecure covers the registry alone: another server it names (a token realm, a
    /// redirect's storage) is still verified.
    @Test func anotherServerOfAnInsecureRegistryIsVerified() throws {
        try withRegistry(.init(tls: true)) { server in
            try withTemporaryDirectory { directory in
                try #"{"insecure": ["127.0.0.1:1"]}"#.write(toFile: directory + "/registries.json", atomically: true, encoding: .utf8)
                let client = try configuration(directory).client(for: "127.0.0.1:1")
                let error = try #require(throws: RegistryError.self) {
                    try client.send(HTTPRequest(method: "GET", url: "https://\(server.address)/v2/"), scopes: [])
                }
                #expect(error.kind == .unreachable && error.message.contains("not trusted"), "\(error)")
            }
        }
    }
}
