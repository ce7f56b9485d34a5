/// A whole DNS message, decoded: what tests, the fuzz target and any tool that wants to look
/// inside an answer use. The resolver's hot path does not build one (see `DNSQuery`): it
/// reads the question in place and writes the answer straight into a buffer.
public struct DNSMessage: Sendable, Equatable {
    public var id: UInt16
    /// The header's flag word (QR, opcode, AA, TC, RD, RA, Z, rcode).
    public var flags: UInt16
    public var questions: [Question]
    public var answers: [Record]
    public var authorities: [Record]
    public var additionals: [Record]

    public init(id: UInt16, flags: UInt16, questions: [Question] = [], answers: [Record] = [],
                authorities: [Record] = [], additionals: [Record] = []) {
        self.id = id
        self.flags = flags
        self.questions = questions
        self.answers = answers
        self.authorities = authorities
        self.additionals = additionals
    }

    public struct Question: Sendable, Equatable {
        /// Labels as sent (case kept).
        public var name: Name
        public var type: UInt16
        public var klass: UInt16

        public init(name: Name, type: UInt16, klass: UInt16 = DNSClass.internet) {
            self.name = name
            self.type = type
            self.klass = klass
        }
    }

    public struct Record: Sendable, Equatable {
        public var name: Name
        public var type: UInt16
        /// The class, or for OPT the requester's UDP payload size.
        public var klass: UInt16
        /// The TTL, or for OPT the extended rcode, version and flags.
        public var ttl: UInt32
        public var data: RecordData

        public init(name: Name, type: UInt16, klass: UInt16 = DNSClass.internet, ttl: UInt32, data: RecordData) {
            self.name = name
            self.type = type
            self.klass = klass
            self.ttl = ttl
            self.data = data
        }
    }

    /// The rdata of the types the resolver reads; any other type (and an A or AAAA of the
    /// wrong length) is kept as its bytes.
    public enum RecordData: Sendable, Equatable {
        case ipv4([UInt8])
        case ipv6([UInt8])
        case name(Name) // PTR, CNAME, NS
        case opaque([UInt8])
    }

    /// A domain name as its labels, without the root.
    public struct Name: Sendable, Equatable, Hashable, CustomStringConvertible {
        public var labels: [[UInt8]]

        public init(labels: [[UInt8]]) { self.labels = labels }

        /// From dotted text ("site.web", trailing dot optional). Nil when a label is empty
        /// or too long, or the name too long.
        public init?(_ text: String) {
            let trimmed = text.hasSuffix(".") ? String(text.dropLast()) : text
            labels = trimmed.isEmpty ? [] : trimmed.split(separator: ".", omittingEmptySubsequences: false).map { Array($0.utf8) }
            guard labels.allSatisfy({ !$0.isEmpty && $0.count <= DNSLimits.maximumLabel }), wireLength <= DNSLimits.maximumName else { return nil }
        }

        public var wireLength: Int { labels.reduce(1) { $0 + $1.count + 1 } }

        public var description: String {
            labels.isEmpty ? "." : labels.map { String(decoding: $0, as: UTF8.self) }.joined(separator: ".") + "."
        }
    }

    public var rcode: UInt16 { flags & DNSFlags.rcodeMask }
    public var isTruncated: Bool { flags & DNSFlags.truncated != 0 }
}

// MARK: Decoding

extension DNSMessage {
    public init(decoding bytes: [UInt8]) throws(DNSParseError) {
        var result: Result<DNSMessage, DNSParseError> = .failure(.truncated(at: 0))
        bytes.withUnsafeBytes { raw in
            do throws(DNSParseError) { result = .success(try DNSMessage(decoding: raw)) } catch { result = .failure(error) }
        }
        self = try result.get()
    }

    public init(decoding bytes: UnsafeRawBufferPointer) throws(DNSParseError) {
        id = try bytes.u16(at: 0)
        flags = try bytes.u16(at: 2)
        let counts = [try bytes.u16(at: 4), try bytes.u16(at: 6), try bytes.u16(at: 8), try bytes.u16(at: 10)].map(Int.init)
        // A question takes at least 5 bytes, a record 11: a count the message cannot hold
        // is refused before anything is reserved for it.
        guard counts[0] * 5 + (counts[1] + counts[2] + counts[3]) * 11 <= bytes.count - 12 else {
            throw .tooManyRecords(counts.reduce(0, +))
        }
        var offset = 12
        questions = []
        for _ in 0..<counts[0] {
            let (name, end) = try Self.name(bytes, at: offset)
            questions.append(Question(name: name, type: try bytes.u16(at: end), klass: try bytes.u16(at: end + 2)))
            offset = end + 4
        }
        answers = try Self.records(bytes, count: counts[1], offset: &offset)
        authorities = try Self.records(bytes, count: counts[2], offset: &offset)
        additionals = try Self.records(bytes, count: counts[3], offset: &offset)
    }

    static func name(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws(DNSParseError) -> (Name, Int) {
        var labels: [[UInt8]] = []
        let end = try DNSName.walk(bytes, at: offset) { start, length in
            labels.append(Array(bytes[start..<(start + length)]))
        }
        return (Name(labels: labels), end)
    }

    static func records(_ bytes: UnsafeRawBufferPointer, count: Int, offset: inout Int) throws(DNSParseError) -> [Record] {
        var records: [Record] = []
        for _ in 0..<count {
            let (name, end) = try name(bytes, at: offset)
            let type = try bytes.u16(at: end), klass = try bytes.u16(at: end + 2)
            let ttl = try bytes.u32(at: end + 4)
            let length = Int(try bytes.u16(at: end + 8))
            let start = end + 10
            guard start + length <= bytes.count else { throw .truncated(at: start) }
            let data: RecordData
            switch type {
            case DNSType.a where length == 4: data = .ipv4(Array(bytes[start..<(start + 4)]))
            case DNSType.aaaa where length == 16: data = .ipv6(Array(bytes[start..<(start + 16)]))
            case DNSType.ptr, DNSType.cname, DNSType.ns:
                let (target, targetEnd) = try Self.name(bytes, at: start)
                guard targetEnd == start + length else { throw .truncated(at: start) }
                data = .name(target)
            default: data = .opaque(Array(bytes[start..<(start + length)]))
            }
            records.append(Record(name: name, type: type, klass: klass, ttl: ttl, data: data))
            offset = start + length
        }
        return records
    }
}

// MARK: Encoding

extension DNSMessage {
    /// The message on the wire, owner names and PTR/CNAME/NS targets compressed against
    /// every name written before them.
    public func encoded() -> [UInt8] {
        var writer = DNSWriter()
        writer.u16(id)
        writer.u16(flags)
        for count in [questions.count, answers.count, authorities.count, additionals.count] { writer.u16(UInt16(truncatingIfNeeded: count)) }
        var compression = NameCompression()
        for question in questions {
            compression.write(question.name, into: &writer)
            writer.u16(question.type)
            writer.u16(question.klass)
        }
        for record in answers + authorities + additionals {
            compression.write(record.name, into: &writer)
            writer.u16(record.type)
            writer.u16(record.klass)
            writer.u32(record.ttl)
            let lengthAt = writer.bytes.count
            writer.u16(0)
            switch record.data {
            case .ipv4(let bytes), .ipv6(let bytes), .opaque(let bytes): writer.bytes += bytes
            case .name(let name): compression.write(name, into: &writer)
            }
            writer.patch16(at: lengthAt, UInt16(truncatingIfNeeded: writer.bytes.count - lengthAt - 2))
        }
        return writer.bytes
    }
}

/// Remembers where each name suffix was written, so a later name that ends the same way
/// points there. Exact bytes, not case-insensitive: a pointer must not change the case of
/// what it stands for (clients that randomize case check it).
struct NameCompression {
    private var offsets: [[[UInt8]]: Int] = [:]

    mutating func write(_ name: DNSMessage.Name, into writer: inout DNSWriter) {
        for index in 0..<name.labels.count {
            let suffix = Array(name.labels[index...])
            if let offset = offsets[suffix] {
                writer.u16(0xC000 | UInt16(offset))
                return
            }
            // Pointers hold 14 bits: a suffix written further in is not remembered.
            if writer.bytes.count < 0x4000 { offsets[suffix] = writer.bytes.count }
            writer.bytes.append(UInt8(name.labels[index].count))
            writer.bytes += name.labels[index]
        }
        writer.bytes.append(0)
    }
}

/// Appends big-endian fields to a byte buffer.
public struct DNSWriter {
    public var bytes: [UInt8]

    public init(capacity: Int = 512) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    @inline(__always) public mutating func u16(_ value: UInt16) {
        bytes.append(UInt8(value >> 8))
        bytes.append(UInt8(value & 0xFF))
    }

    @inline(__always) public mutating func u32(_ value: UInt32) {
        u16(UInt16(value >> 16))
        u16(UInt16(value & 0xFFFF))
    }

    @inline(__always) public mutating func patch16(at offset: Int, _ value: UInt16) {
        bytes[offset] = UInt8(value >> 8)
        bytes[offset + 1] = UInt8(value & 0xFF)
    }
}
