import Foundation
import Glibc
import Runtime

/// Tar entry names placed inside a root the way the extractor places them. Each input line
/// is an entry: `NAME` (a regular file) or `NAME -> TARGET` (a symlink, planted for later
/// entries to walk through). Whatever the names and links, nothing may appear outside the
/// root: its sibling directory keeps exactly its one sentinel file, and the scratch
/// directory holds nothing else.
let scratch: String = {
    // FUZZ_SCRATCH (the Makefile's .build-fuzz/scratch, removed after each run, also
    // when a crash skipped atexit) or /tmp.
    let base = getenv("FUZZ_SCRATCH").map { String(cString: $0) } ?? "/tmp"
    var template = Array("\(base)/netctl-fuzz-tar-XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else { fatalError("mkdtemp failed") }
    let path = String(cString: made)
    precondition(mkdir("\(path)/outside", 0o755) == 0)
    precondition(creat("\(path)/outside/sentinel", 0o644) >= 0)
    atexit { removeScratch() }
    return path
}()

func removeScratch() { try? FileManager.default.removeItem(atPath: scratch) }

/// The names in a directory (never following a symlink into another).
func names(_ path: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let root = "\(scratch)/root"
    precondition(mkdir(root, 0o755) == 0, "\(root) left over")
    defer { try? FileManager.default.removeItem(atPath: root) }

    for line in text.split(separator: "\n").prefix(32) {
        let parts = line.split(separator: " -> ", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let name = parts[0]
        let components = ArchiveEntryName.components(of: name)
        for component in components {
            precondition(!component.isEmpty && !component.utf8.elementsEqual(".".utf8) && !component.utf8.elementsEqual("..".utf8) && !component.utf8.contains(UInt8(ascii: "/")), "\(name): \(components)")
        }
        try? ArchiveEntryName.place(name, symlinkTarget: parts.count == 2 ? parts[1] : nil, inRoot: root)
    }

    precondition(names(scratch) == ["outside", "root"] && names("\(scratch)/outside") == ["sentinel"],
                 "made outside the root: \(names(scratch)) \(names("\(scratch)/outside")) from \(text.debugDescription)")
    return 0
}
