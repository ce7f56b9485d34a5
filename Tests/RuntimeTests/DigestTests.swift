import Testing
@testable import Runtime

@Suite struct DigestTests {
    @Test func knownVector() throws {
        #expect(try Digest.of(Array("abc".utf8)).hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func refusesWhatIsNotSHA256() {
        for bad in ["md5:abc", "sha256:XYZ", "sha256:" + String(repeating: "a", count: 63), "abc"] {
            #expect(throws: RuntimeError.self) { try Digest(parsing: bad, field: "digest") }
        }
    }

    @Test func normalizesReferences() throws {
        #expect(try ImageReference.normalize("busybox") == "busybox:latest")
        #expect(try ImageReference.normalize("docker.io/library/busybox:1.36") == "busybox:1.36")
        #expect(try ImageReference.normalize("localhost:5000/app") == "localhost:5000/app:latest")
        #expect(throws: RuntimeError.self) { try ImageReference.normalize("Bad Name") }
    }
}
