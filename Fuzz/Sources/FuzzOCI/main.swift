import Runtime

/// Each input is parsed as every kind of OCI/Docker JSON document netctl reads (index,
/// manifest, image config, docker save's manifest.json, a bundle's config.json), with the
/// checks the importer and the runtime make before touching any file.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    for kind in OutsideDocument.allCases {
        _ = try? kind.parse(bytes)
    }
    return 0
}
