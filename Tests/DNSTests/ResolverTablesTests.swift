import DNS
import Foundation
import Testing

@Suite struct ResolverTablesTests {
    @Test func tablesReadBackAsWritten() throws {
        let root = NSTemporaryDirectory() + "nctables-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let tables = ResolverTables(root: root)
        let network = NetworkTable(name: "web", records: [
            NameRecord(names: ["site", "www"], ipv4: "198.18.0.2", ipv6: "2001:db8::2", sandbox: "nc-abc"),
            NameRecord(names: ["db"], ipv4: "198.18.0.3", ipv6: nil, sandbox: nil),
        ])
        try tables.write(network: "n1", network)
        #expect(try tables.network("n1") == network)
        let sandbox = SandboxTable(namespace: "/run/netns/nc-abc", port: 40123, upstreams: ["198.18.9.53"])
        try tables.write(sandbox: "nc-abc", sandbox)
        #expect(try tables.sandbox("nc-abc") == sandbox)
        #expect(tables.names(in: tables.paths.sandboxes) == ["nc-abc"])
        #expect(try tables.network("absent") == nil)
    }

    @Test func aDamagedTableIsRefusedInOneLine() throws {
        #expect(throws: TableError.self) { try NetworkTable(parsing: "netctl-dns 1 network web\nonly-two fields\n", path: "t") }
        #expect(throws: TableError.self) { try SandboxTable(parsing: "netctl-dns 1 sandbox\nport 0\n", path: "t") }
    }
}
