import Foundation
import TestSupport
import Testing

/// `netctl login` and `logout` as a user runs them, against real registries on loopback,
/// editing an auth file of the test's own.
@Suite("netctl login and logout")
struct LoginTests {
    @Test func loginChecksAndKeepsCredentialsLogoutRemovesThem() throws {
        try withRegistry(.init(htpasswd: ("alice", "pw-login-123"))) { server in
            try withLoginDirectory { directory, environment in
                let file = directory + "/config.json"
                try #"{"auths": {"other.example": {"auth": "b3RoZXI6cHc="}}, "detachKeys": "ctrl-x"}"#
                    .write(toFile: file, atomically: true, encoding: .utf8)
                let login = try runCommand(["sh", "-c", #"printf '%s\n' "$PW" | "$0" login -u alice --password-stdin --authfile "$1" "$2""#,
                                            NetctlHarness.binary, file, server.address],
                                           environment: environment.merging(["PW": "pw-login-123"]) { $1 })
                #expect(login.status == 0, "\(login.stderr)")
                #expect(login.stdout == "Login Succeeded\n")
                #expect(!(login.stdout + login.stderr).contains("pw-login-123"))

                var status = stat()
                #expect(stat(file, &status) == 0 && status.st_mode & 0o777 == 0o600)
                let document = try readJSON(file)
                #expect(document["detachKeys"] as? String == "ctrl-x")
                let auths = try #require(document["auths"] as? [String: [String: String]])
                #expect(auths["other.example"] == ["auth": "b3RoZXI6cHc="])
                #expect(auths[server.address] == ["auth": Data("alice:pw-login-123".utf8).base64EncodedString()])

                let logout = try runCommand([NetctlHarness.binary, "logout", "--authfile", file, server.address], environment: environment)
                #expect(logout.status == 0, "\(logout.stderr)")
                #expect(logout.stdout == "Removing login credentials for \(server.address)\n")
                let after = try #require(try readJSON(file)["auths"] as? [String: [String: String]])
                #expect(after == ["other.example": ["auth": "b3RoZXI6cHc="]])
                #expect(try readJSON(file)["detachKeys"] as? String == "ctrl-x")
            }
        }
    }

    @Test func aWrongPasswordIsRefusedAndNothingIsSaved() throws {
        try withRegistry(.init(htpasswd: ("alice", "pw-login-123"))) { server in
            try withLoginDirectory { directory, environment in
                let result = try runCommand([NetctlHarness.binary, "login", "-u", "alice", "-p", "not-the-password", server.address],
                                            environment: environment)
                #expect(result.status == 1)
                #expect(result.stdout.isEmpty)
                #expect(!(result.stdout + result.stderr).contains("not-the-password"))
                let lines = result.stderr.split(separator: "\n").filter { !$0.hasPrefix("WARNING!") }
                #expect(lines == ["Error: login \(server.address): registry \(server.address) said UNAUTHORIZED: authentication required (GET /v2/, as alice)"])
                #expect(!FileManager.default.fileExists(atPath: directory + "/auth.json"))
            }
        }
    }

    @Test func loginThroughATokenServer() throws {
        try withRegistry(.init(token: ("bob", "pw-token-456"))) { server in
            try withLoginDirectory { directory, environment in
                let ok = try runCommand([NetctlHarness.binary, "login", "-u", "bob", "-p", "pw-token-456", server.address], environment: environment)
                #expect(ok.status == 0 && ok.stdout == "Login Succeeded\n", "\(ok.stderr)")
                #expect(FileManager.default.fileExists(atPath: directory + "/auth.json"))
                let refused = try runCommand([NetctlHarness.binary, "login", "-u", "bob", "-p", "wrong-token-pw", server.address], environment: environment)
                #expect(refused.status == 1)
                #expect(refused.stderr.contains("token server") && refused.stderr.contains("incorrect username or password"), "\(refused.stderr)")
                #expect(!refused.stderr.contains("wrong-token-pw"))
            }
        }
    }

    /// In a namespace of its own nothing resolves and nothing leaves the host.
    @Test func anUnknownHostIsOneLine() throws {
        try withTestNamespace { namespace in
            try withLoginDirectory { _, environment in
                let unknown = try namespace.run(["sh", "-c", #"echo pw | "$0" login -u a --password-stdin registry.invalid:5000"#, NetctlHarness.binary],
                                                environment: environment)
                #expect(unknown.status == 1)
                #expect(unknown.stderr == "Error: login registry.invalid:5000: registry registry.invalid:5000: unknown host \"registry.invalid\" (it does not resolve)\n")
            }
        }
    }
}

/// A directory for the auth file (REGISTRY_AUTH_FILE) and an environment that reads nothing
/// of the host's registry configuration.
private func withLoginDirectory<T>(_ body: (String, [String: String]) throws -> T) throws -> T {
    let directory = NSTemporaryDirectory() + uniqueName("netctl-login-")
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    return try body(directory, ["REGISTRY_AUTH_FILE": directory + "/auth.json", "NETCTL_CERTS_D": directory + "/certs.d",
                                "NETCTL_REGISTRIES_CONF": directory + "/registries.json", "NETCTL_ROOT": directory + "/root"])
}

private func readJSON(_ path: String) throws -> [String: Any] {
    try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any] ?? [:]
}
