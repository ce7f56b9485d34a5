import Foundation
import Testing
@testable import Runtime

/// Entry names are split as the kernel splits them, on the byte `/`. A `/` followed by a
/// combining mark is one Swift Character that is not `/`; split by Characters, the name
/// `../\u{35E}escaped` stayed one component and openat() made it one level above the root
/// (found by Fuzz/Sources/FuzzTarNames).
@Suite struct ArchiveEntryNameTests {
    @Test func splitsOnTheSlashByteEvenBeforeACombiningMark() {
        #expect(ArchiveEntryName.components(of: "../\u{35E}escaped") == ["\u{35E}escaped"])
        #expect(ArchiveEntryName.components(of: "a/\u{301}b/../c") == ["a", "c"])
        #expect(ArchiveEntryName.components(of: "/../../..\u{301}/x") == ["..\u{301}", "x"])
        #expect(ArchiveEntryName.components(of: "a/./b//c/") == ["a", "b", "c"])
    }

    @Test(arguments: ["../\u{35E}escaped", "a/../../\u{35E}escaped", "/\u{35E}escaped"])
    func entryWithACombiningMarkAfterASlashLandsInsideTheRoot(name: String) throws {
        var template = Array("/tmp/netctl-entry-name-XXXXXX".utf8CString)
        let scratch = String(cString: try #require(mkdtemp(&template)))
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let root = scratch + "/root"
        #expect(mkdir(root, 0o755) == 0)

        try ArchiveEntryName.place(name, inRoot: root)
        try ArchiveEntryName.place(name + "-link", symlinkTarget: "/", inRoot: root)

        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch) == ["root"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: root).sorted() == ["\u{35E}escaped", "\u{35E}escaped-link"])
    }
}

