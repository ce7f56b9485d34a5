import CExitGuard
import NFTables

/// An nf_tables dump answer as the kernel would send it, read as tables, chains, sets, set
/// elements and rules by the reader NFTablesSession uses. The input is copied to a buffer of
/// exactly its size, so AddressSanitizer reports any read past the datagram.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 8)
    defer { buffer.deallocate() }
    if size > 0, let data { buffer.copyMemory(from: UnsafeRawBufferPointer(start: data, count: size)) }
    var datagram = UnsafeRawBufferPointer(buffer)
    _ = nc_exit_guard({ context in
        let datagram = context!.load(as: UnsafeRawBufferPointer.self)
        _ = NFTablesDump.parse(datagram, table: Table(.inet, "netctl-fuzz"))
    }, &datagram)
    return 0
}
