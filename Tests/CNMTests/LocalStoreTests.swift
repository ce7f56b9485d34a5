import CNM
import Foundation
import TestSupport
import Testing

@Suite("Local store")
struct LocalStoreTests {
    private func withStore(_ body: (LocalStore) throws -> Void) throws {
        let root = NSTemporaryDirectory() + uniqueName("netctl-store-")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try body(try LocalStore(root: root))
    }

    @Test func writeReadListDelete() throws {
        try withStore { store in
            try store.write("endpoints/n1/e1", Array("one".utf8))
            try store.write("endpoints/n1/e2", Array("two".utf8))
            try store.write("endpoints/n2/e3", Array("three".utf8))
            #expect(try store.read("endpoints/n1/e2") == Array("two".utf8))
            #expect(try store.read("endpoints/n9/e9") == nil)
            #expect(try store.keys(under: "endpoints") == ["endpoints/n1/e1", "endpoints/n1/e2", "endpoints/n2/e3"])
            #expect(try store.keys(under: "endpoints/n1") == ["endpoints/n1/e1", "endpoints/n1/e2"])
            try store.delete("endpoints/n2/e3")
            #expect(try store.keys(under: "endpoints") == ["endpoints/n1/e1", "endpoints/n1/e2"])
            // The emptied folder went with its last key.
            #expect(!FileManager.default.fileExists(atPath: store.root + "/endpoints/n2"))
            try store.write("endpoints/n1/e1", Array("replaced".utf8))
            #expect(try store.read("endpoints/n1/e1") == Array("replaced".utf8))
            // No temporary files are left by atomic replacement.
            let files = try FileManager.default.contentsOfDirectory(atPath: store.root + "/endpoints/n1")
            #expect(Set(files) == ["e1.json", "e2.json"])
        }
    }

    @Test func theLockSerializesProcessesAndThreads() throws {
        try withStore { store in
            try store.write("counter", Array("0".utf8))
            // Read-modify-write under the lock from many threads: no increment is lost.
            DispatchQueue.concurrentPerform(iterations: 40) { _ in
                try? store.locked {
                    let value = Int(String(decoding: try store.read("counter") ?? [], as: UTF8.self)) ?? -1000
                    try store.write("counter", Array(String(value + 1).utf8))
                }
            }
            #expect(try store.read("counter") == Array("40".utf8))
        }
    }

    @Test func unreadableRecordsAreReportedByKey() throws {
        try withStore { store in
            try store.write("networks/broken", Array("{not json".utf8))
            let error = try #require(throws: CNMError.self) { try store.get(NetworkRecord.self, "networks/broken") }
            #expect(error.description.hasPrefix("state record networks/broken is unreadable"))
        }
    }
}
