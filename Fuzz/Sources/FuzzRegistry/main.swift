import Foundation
import Glibc
import Registry

/// What registries and users' files hand netctl, through `RegistryOutsideData`: the first
/// byte picks the kind (reference, manifest answer, manifest or index, WWW-Authenticate,
/// error body, image config, auth file, registries.json; modulo their number), the rest is
/// the data. Errors are expected; a `Violation` (a promise of the parser broken) is a crash.
let scratch: String = {
    // FUZZ_SCRATCH (the Makefile's .build-fuzz/scratch, removed after each run) or /tmp.
    let base = getenv("FUZZ_SCRATCH").map { String(cString: $0) } ?? "/tmp"
    var template = Array("\(base)/netctl-fuzz-registry-XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else { fatalError("mkdtemp failed") }
    let path = String(cString: made)
    atexit { try? FileManager.default.removeItem(atPath: scratch) }
    return path
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard size > 0, let data else { return 0 }
    let kinds = RegistryOutsideData.allCases
    let kind = kinds[Int(data[0]) % kinds.count]
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    do {
        try kind.parse(bytes, scratch: scratch)
    } catch let violation as RegistryOutsideData.Violation {
        fatalError("\(kind): \(violation)")
    } catch {}
    return 0
}
