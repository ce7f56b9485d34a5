import Foundation
import Security

/// A seccomp profile in Docker's JSON, as `--security-opt seccomp=FILE` reads it: decoded,
/// then compiled to BPF with libseccomp for a capability set taken from the input's bytes
/// (so rules' includes and excludes by capability are exercised). Errors are expected;
/// crashes are not.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Data(UnsafeBufferPointer(start: data, count: size))
    guard let profile = try? JSONDecoder().decode(SeccompProfile.self, from: bytes) else { return 0 }
    var capabilities: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in bytes { capabilities = (capabilities ^ UInt64(byte)) &* 0x100_0000_01b3 }
    _ = profile.fingerprint
    _ = try? SeccompCompiler.compile(profile, capabilities: capabilities)
    return 0
}
