/// RFC 1035's wire format: the numbers, and the one routine every reader of names shares.
/// Every read is bounds-checked and a bad message is an error value, never a trap: the
/// resolver reads whatever any process in any container sends it.
public enum DNSType {
    public static let a: UInt16 = 1
    public static let ns: UInt16 = 2
    public static let cname: UInt16 = 5
    public static let soa: UInt16 = 6
    public static let ptr: UInt16 = 12
    public static let mx: UInt16 = 15
    public static let txt: UInt16 = 16
    public static let aaaa: UInt16 = 28
    public static let opt: UInt16 = 41
    public static let any: UInt16 = 255
}

public enum DNSClass {
    public static let internet: UInt16 = 1
}

public enum DNSResponseCode {
    public static let noError: UInt16 = 0
    public static let formatError: UInt16 = 1
    public static let serverFailure: UInt16 = 2
    public static let nameError: UInt16 = 3
    public static let notImplemented: UInt16 = 4
    public static let refused: UInt16 = 5
}

/// The flag bits of the header's second word.
public enum DNSFlags {
    public static let response: UInt16 = 0x8000
    public static let opcodeMask: UInt16 = 0x7800
    public static let authoritative: UInt16 = 0x0400
    public static let truncated: UInt16 = 0x0200
    public static let recursionDesired: UInt16 = 0x0100
    public static let recursionAvailable: UInt16 = 0x0080
    public static let rcodeMask: UInt16 = 0x000F
}

/// Why a message was refused, with the offset where reading stopped.
public enum DNSParseError: Error, Equatable, CustomStringConvertible {
    case truncated(at: Int)
    case labelTooLong(at: Int)
    case nameTooLong(at: Int)
    case badPointer(at: Int)
    case reservedLabelType(at: Int)
    case tooManyRecords(Int)

    public var description: String {
        switch self {
        case .truncated(let at): "DNS message truncated at byte \(at)"
        case .labelTooLong(let at): "DNS label at byte \(at) longer than 63 bytes"
        case .nameTooLong(let at): "DNS name at byte \(at) longer than 255 bytes"
        case .badPointer(let at): "DNS compression pointer at byte \(at) does not point back to an earlier name"
        case .reservedLabelType(let at): "DNS label type at byte \(at) is reserved (expected a length or a pointer)"
        case .tooManyRecords(let count): "DNS message claims \(count) records, more than its bytes can hold"
        }
    }
}

/// The largest message over TCP (2-byte length), and the UDP payload this resolver
/// advertises in its OPT record (the 2020 DNS flag day's value, below every common MTU).
public enum DNSLimits {
    public static let maximumMessage = 65535
    public static let ednsPayload: UInt16 = 1232
    public static let classicUDPPayload = 512
    public static let maximumName = 255
    public static let maximumLabel = 63
}

extension UnsafeRawBufferPointer {
    @inline(__always) func u16(at offset: Int) throws(DNSParseError) -> UInt16 {
        guard offset >= 0, offset + 2 <= count else { throw .truncated(at: offset) }
        return UInt16(self[offset]) << 8 | UInt16(self[offset + 1])
    }

    @inline(__always) func u32(at offset: Int) throws(DNSParseError) -> UInt32 {
        guard offset >= 0, offset + 4 <= count else { throw .truncated(at: offset) }
        return UInt32(self[offset]) << 24 | UInt32(self[offset + 1]) << 16 | UInt32(self[offset + 2]) << 8 | UInt32(self[offset + 3])
    }
}

public enum DNSName {
    /// Walks the name starting at `offset`, following compression pointers, and hands each
    /// label to `visit` as (offset of its first byte, length). Returns the offset just past
    /// the name where it started (past its first pointer, if any).
    ///
    /// A pointer must point before the label run it ends, so every jump goes strictly
    /// backwards and a loop is impossible; the whole name (as written without pointers) is
    /// at most 255 bytes and each label at most 63.
    @inline(__always)
    public static func walk(_ bytes: UnsafeRawBufferPointer, at offset: Int,
                            _ visit: (_ start: Int, _ length: Int) -> Void) throws(DNSParseError) -> Int {
        var position = offset
        var runStart = offset
        var end: Int? = nil
        var length = 1 // the root label's zero byte
        while true {
            guard position >= 0, position < bytes.count else { throw .truncated(at: position) }
            let byte = Int(bytes[position])
            switch byte & 0xC0 {
            case 0x00:
                if byte == 0 { return end ?? position + 1 }
                guard position + 1 + byte <= bytes.count else { throw .truncated(at: position) }
                length += byte + 1
                guard length <= DNSLimits.maximumName else { throw .nameTooLong(at: offset) }
                visit(position + 1, byte)
                position += 1 + byte
            case 0xC0:
                guard position + 2 <= bytes.count else { throw .truncated(at: position) }
                let target = (byte & 0x3F) << 8 | Int(bytes[position + 1])
                guard target < runStart else { throw .badPointer(at: position) }
                if end == nil { end = position + 2 }
                position = target
                runStart = target
            default:
                // 0x40 (extended labels, RFC 6891 deprecated them) and 0x80 are not names.
                throw .reservedLabelType(at: position)
            }
        }
    }

    /// The offset just past the name at `offset` (validating it whole).
    public static func skip(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws(DNSParseError) -> Int {
        try walk(bytes, at: offset) { _, _ in }
    }

    /// The name at `offset` as lowercase dotted text without the trailing dot ("" for the
    /// root): the form the resolver's index keys on. Bytes outside letters are kept as they
    /// are (a dot inside a label cannot match any record, since no record name has one).
    public static func lowercased(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws(DNSParseError) -> (name: [UInt8], end: Int) {
        var name: [UInt8] = []
        name.reserveCapacity(32)
        let end = try walk(bytes, at: offset) { start, length in
            if !name.isEmpty { name.append(UInt8(ascii: ".")) }
            for index in start..<(start + length) {
                let byte = bytes[index]
                name.append(byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte)
            }
        }
        return (name, end)
    }
}
