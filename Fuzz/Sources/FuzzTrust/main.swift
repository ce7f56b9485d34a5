import Security

/// Trust metadata as a Notary server or a TUF repository serves it: the first byte picks
/// the dialect and role, the rest is the file. A file that decodes must survive being
/// written back (kept and afresh) and read again as the same metadata; anything else is
/// a codec bug, and stops here. The rest of the bytes are also read as a time.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let selector = data[0]
    let file = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let dialect: TrustDialect = selector & 1 == 0 ? .tuf : .notary
    let roles: [RoleName] = ["root", "targets", "snapshot", "timestamp", dialect == .tuf ? "releases" : "targets/releases"]
    let role = roles[Int(selector >> 1) % roles.count]
    _ = try? TrustTime(rfc3339: String(decoding: file, as: UTF8.self))
    guard let decoded = try? MetadataCodec.decode(file, role: role, dialect: dialect) else { return 0 }
    let kept = try! TrustJSON.parse(file, limit: Int.max)["signed"]!
    for keeping in [kept, nil] {
        let signed = MetadataCodec.signedJSON(decoded.signed, dialect: dialect, keeping: keeping)
        let again: SignedMetadata
        do {
            again = try MetadataCodec.decode(MetadataCodec.file(signed: signed, signatures: decoded.signatures, dialect: dialect), role: role, dialect: dialect)
        } catch {
            fatalError("\(dialect) \(role): written back, refused: \(error)")
        }
        precondition(again.signed == decoded.signed, "\(dialect) \(role): written back, read as other metadata")
        precondition(again.signatures == decoded.signatures, "\(dialect) \(role): signatures changed")
    }
    return 0
}
