/// A query as the resolver reads it on its hot path: the header, the one question, and
/// whether an OPT record came along, all as offsets into the received bytes; no copy but
/// the question's name, lowercased, which is the key of the name index.
public struct DNSQuery: Sendable {
    public var id: UInt16
    public var flags: UInt16
    /// Lowercase dotted name without the trailing dot.
    public var name: [UInt8]
    public var type: UInt16
    public var klass: UInt16
    /// Where the question ends (the answer copies bytes 12..<questionEnd verbatim, so the
    /// client sees its own spelling of the name, which 0x20-randomizing clients check).
    public var questionEnd: Int
    /// The requester's EDNS UDP payload size, nil without an OPT record.
    public var ednsPayload: UInt16?

    public var opcode: UInt16 { (flags & DNSFlags.opcodeMask) >> 11 }

    /// Reads a query. Errors for anything that is not one question of a well-formed
    /// message (the caller answers FORMERR when at least the header was there).
    public init(parsing bytes: UnsafeRawBufferPointer) throws(DNSParseError) {
        id = try bytes.u16(at: 0)
        flags = try bytes.u16(at: 2)
        let questions = try bytes.u16(at: 4)
        let answers = try bytes.u16(at: 6), authorities = try bytes.u16(at: 8), additionals = try bytes.u16(at: 10)
        guard questions == 1 else { throw .tooManyRecords(Int(questions)) }
        let (name, end) = try DNSName.lowercased(bytes, at: 12)
        self.name = name
        type = try bytes.u16(at: end)
        klass = try bytes.u16(at: end + 2)
        questionEnd = end + 4
        ednsPayload = nil
        // Skip answers and authorities (a query has none, but tolerate them) to find OPT.
        var offset = questionEnd
        let others = Int(answers) + Int(authorities)
        guard (others + Int(additionals)) * 11 <= bytes.count - offset else { throw .tooManyRecords(others + Int(additionals)) }
        for index in 0..<(others + Int(additionals)) {
            let nameEnd = try DNSName.skip(bytes, at: offset)
            let recordType = try bytes.u16(at: nameEnd)
            let length = Int(try bytes.u16(at: nameEnd + 8))
            guard nameEnd + 10 + length <= bytes.count else { throw .truncated(at: nameEnd + 10) }
            if index >= others, recordType == DNSType.opt { ednsPayload = try bytes.u16(at: nameEnd + 2) }
            offset = nameEnd + 10 + length
        }
    }

    /// The largest UDP answer the client takes.
    public var udpLimit: Int {
        guard let payload = ednsPayload else { return DNSLimits.classicUDPPayload }
        return max(DNSLimits.classicUDPPayload, min(Int(payload), Int(DNSLimits.ednsPayload)))
    }
}

/// Writes the resolver's own answers into a reusable buffer: the query's header and
/// question, then records whose owner is a pointer to the question's name (0xC00C).
public struct DNSAnswerWriter {
    public private(set) var bytes: [UInt8] = []
    private var answerCount = 0
    private var limit = 0
    private var truncated = false
    private var optLength = 0

    public init() { bytes.reserveCapacity(1500) }

    init(bytes: [UInt8]) { self.bytes = bytes }

    /// Starts an answer to `query` (whose bytes are `message`) with `rcode`; `limit` is the
    /// most bytes it may take (UDP: what the client accepts; TCP: 65535).
    public mutating func start(_ query: DNSQuery, message: UnsafeRawBufferPointer, rcode: UInt16, limit: Int) {
        bytes.removeAll(keepingCapacity: true)
        answerCount = 0
        truncated = false
        self.limit = limit
        optLength = query.ednsPayload == nil ? 0 : 11
        let flags = DNSFlags.response | (query.flags & (DNSFlags.opcodeMask | DNSFlags.recursionDesired)) | DNSFlags.recursionAvailable | rcode
        append16(query.id)
        append16(flags)
        append16(1)
        append16(0)
        append16(0)
        append16(0)
        bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: message[12..<query.questionEnd]))
    }

    /// Answers with the header and question only (`rcode` for errors, or a NOERROR without
    /// records), echoing OPT when the query had it.
    @discardableResult
    public mutating func finish() -> [UInt8] {
        bytes[6] = UInt8(answerCount >> 8)
        bytes[7] = UInt8(answerCount & 0xFF)
        if truncated { bytes[2] |= UInt8(DNSFlags.truncated >> 8) }
        if optLength > 0 {
            // An OPT with the root as owner, our UDP payload, no options (RFC 6891).
            bytes += [0, 0, 41, UInt8(DNSLimits.ednsPayload >> 8), UInt8(DNSLimits.ednsPayload & 0xFF), 0, 0, 0, 0, 0, 0]
            bytes[11] = 1
        }
        return bytes
    }

    /// An A or AAAA answer for the question's name; false (and the TC bit) when it does
    /// not fit.
    @discardableResult
    public mutating func address(_ address: [UInt8], ttl: UInt32) -> Bool {
        let type = address.count == 4 ? DNSType.a : DNSType.aaaa
        guard bytes.count + 12 + address.count + optLength <= limit else { truncated = true; return false }
        record(type: type, ttl: ttl, dataLength: address.count)
        bytes += address
        return true
    }

    /// A PTR answer pointing at `name` (dotted, lowercase).
    @discardableResult
    public mutating func pointer(to name: [UInt8], ttl: UInt32) -> Bool {
        let length = name.count + 2
        guard bytes.count + 12 + length + optLength <= limit else { truncated = true; return false }
        record(type: DNSType.ptr, ttl: ttl, dataLength: length)
        for label in name.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: true) {
            bytes.append(UInt8(label.count))
            bytes += label
        }
        bytes.append(0)
        return true
    }

    private mutating func record(type: UInt16, ttl: UInt32, dataLength: Int) {
        bytes += [0xC0, 0x0C]
        append16(type)
        append16(DNSClass.internet)
        append16(UInt16(ttl >> 16))
        append16(UInt16(ttl & 0xFFFF))
        append16(UInt16(dataLength))
        answerCount += 1
    }

    @inline(__always) private mutating func append16(_ value: UInt16) {
        bytes.append(UInt8(value >> 8))
        bytes.append(UInt8(value & 0xFF))
    }

    /// An error answer to a message whose question could not be read: its header alone
    /// (nil when even that is missing).
    public static func headerOnly(for message: UnsafeRawBufferPointer, rcode: UInt16) -> [UInt8]? {
        guard message.count >= 12 else { return nil }
        let flags = UInt16(message[2]) << 8 | UInt16(message[3])
        guard flags & DNSFlags.response == 0 else { return nil } // never answer an answer
        let reply = DNSFlags.response | (flags & (DNSFlags.opcodeMask | DNSFlags.recursionDesired)) | DNSFlags.recursionAvailable | rcode
        return [message[0], message[1], UInt8(reply >> 8), UInt8(reply & 0xFF), 0, 0, 0, 0, 0, 0, 0, 0]
    }
}
