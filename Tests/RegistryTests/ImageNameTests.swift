import Runtime
import Testing

@Suite struct ImageNameTests {
    @Test func parsesAsDocker() throws {
        let cases: [(String, String, String, String?, String)] = [
            ("busybox", "docker.io", "library/busybox", nil, "busybox:latest"),
            ("busybox:1.36", "docker.io", "library/busybox", "1.36", "busybox:1.36"),
            ("docker.io/library/busybox:1", "docker.io", "library/busybox", "1", "busybox:1"),
            ("index.docker.io/team/app", "docker.io", "team/app", nil, "team/app:latest"),
            ("team/app:v2", "docker.io", "team/app", "v2", "team/app:v2"),
            ("registry.example:5000/team/app:1.4", "registry.example:5000", "team/app", "1.4", "registry.example:5000/team/app:1.4"),
            ("localhost/app", "localhost", "app", nil, "localhost/app:latest"),
            ("127.0.0.1:5000/a/b/c", "127.0.0.1:5000", "a/b/c", nil, "127.0.0.1:5000/a/b/c:latest"),
            ("[2001:db8::1]:5000/app:x", "[2001:db8::1]:5000", "app", "x", "[2001:db8::1]:5000/app:x"),
            ("docker.io/a.b/c", "docker.io", "a.b/c", nil, "docker.io/a.b/c:latest"),
            ("a__b-c---d/e.f_g:T_1.x-y", "docker.io", "a__b-c---d/e.f_g", "T_1.x-y", "a__b-c---d/e.f_g:T_1.x-y"),
        ]
        for (text, registry, repository, tag, stored) in cases {
            let name = try ImageName(parsing: text)
            #expect(name.registry == registry, "\(text)")
            #expect(name.repository == repository, "\(text)")
            #expect(name.tag == tag, "\(text)")
            #expect(name.storedTag == stored, "\(text)")
        }
        let digest = "sha256:" + String(repeating: "ab", count: 32)
        let pinned = try ImageName(parsing: "registry.example:5000/app@\(digest)")
        #expect(pinned.digest?.description == digest)
        #expect(pinned.storedTag == nil)
        #expect(pinned.manifestReference == digest)
        let both = try ImageName(parsing: "app:1@\(digest)")
        #expect(both.tag == "1" && both.manifestReference == digest)
    }

    @Test func refusesWhatDockerRefuses() {
        for text in ["", "UPPER", "team/App", "app:", "app:-x", "app:.x", "-app", "app-", "a..b", "a/", "/a", "a//b",
                     "app@sha256:12", "app@md5:" + String(repeating: "0", count: 32), "host:99999/app", "app:" + String(repeating: "t", count: 129),
                     "bad_host-:5000/app", "a b", "host:+5000/app"] {
            #expect(throws: (any Error).self, "\(text)") { try ImageName(parsing: text) }
        }
    }
}
