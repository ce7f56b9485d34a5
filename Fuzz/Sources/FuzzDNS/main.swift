import DNS

/// Any datagram a process in a container can send the resolver, and any answer an
/// upstream can send back. Refused with an error, or read into a message that encodes and
/// reads back the same; a query the resolver would answer gives an answer that reads back,
/// within the size the client allows. Nothing traps or loops.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    fuzzMessage(bytes)
    fuzzQuery(bytes)
    return 0
}

/// The whole-message reader and writer.
func fuzzMessage(_ bytes: [UInt8]) {
    guard let message = try? DNSMessage(decoding: bytes) else { return }
    for name in message.questions.map(\.name) + (message.answers + message.authorities + message.additionals).map(\.name) {
        precondition(name.wireLength <= 255 && name.labels.allSatisfy { !$0.isEmpty && $0.count <= 63 }, "\(name)")
    }
    let again = message.encoded()
    let reread: DNSMessage
    do { reread = try DNSMessage(decoding: again) } catch { preconditionFailure("\(bytes) -> \(again) -> \(error)") }
    precondition(reread == message, "\(bytes) -> \(again)")
}

/// The resolver's hot path: the query reader, the answer writer, the reverse-name reader.
func fuzzQuery(_ bytes: [UInt8]) {
    bytes.withUnsafeBytes { raw in
        guard let query = try? DNSQuery(parsing: raw) else {
            if let header = DNSAnswerWriter.headerOnly(for: raw, rcode: DNSResponseCode.formatError) {
                precondition(header.count == 12 && header[0] == bytes[0] && header[1] == bytes[1])
            }
            return
        }
        precondition(query.name.count <= 254 && query.questionEnd <= bytes.count && query.questionEnd >= 17)
        _ = IPText.reverseAddress(query.name)
        var writer = DNSAnswerWriter()
        writer.start(query, message: raw, rcode: DNSResponseCode.noError, limit: query.udpLimit)
        var written = 0
        for index in 0..<40 where writer.address(index % 2 == 0 ? [198, 18, 0, UInt8(index)] : [0x20, 1, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [UInt8(index)], ttl: 600) {
            written += 1
        }
        if writer.pointer(to: Array("site.web".utf8), ttl: 600) { written += 1 }
        let answer = writer.finish()
        precondition(answer.count <= query.udpLimit, "\(answer.count) > \(query.udpLimit)")
        // The question is copied verbatim; a name that points into the header reads
        // differently once the header is ours, so only a pointer-free one must read back.
        let wireLength = query.name.isEmpty ? 1 : query.name.count + 2
        if query.questionEnd - 4 - 12 == wireLength {
            let reread: DNSMessage
            do { reread = try DNSMessage(decoding: answer) } catch { preconditionFailure("\(bytes) -> \(answer) -> \(error)") }
            precondition(reread.answers.count == written && reread.id == query.id)
        }
    }
}
