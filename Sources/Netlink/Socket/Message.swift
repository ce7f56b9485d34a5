import CNetlink

/// Writes the attributes of one netlink message in place, through libmnl.
public struct MessageWriter {
    let header: UnsafeMutablePointer<nlmsghdr>

    public func put(_ type: Int, _ value: UInt8) { mnl_attr_put_u8(header, UInt16(type), value) }
    public func put(_ type: Int, _ value: UInt16) { mnl_attr_put_u16(header, UInt16(type), value) }
    public func put(_ type: Int, _ value: UInt32) { mnl_attr_put_u32(header, UInt16(type), value) }
    public func put(_ type: Int, _ value: Int32) { mnl_attr_put_u32(header, UInt16(type), UInt32(bitPattern: value)) }
    /// A NUL-terminated string, as IFLA_IFNAME and IFLA_INFO_KIND want.
    public func put(_ type: Int, _ value: String) { mnl_attr_put_strz(header, UInt16(type), value) }
    public func put(_ type: Int, bytes: [UInt8]) {
        bytes.withUnsafeBytes { mnl_attr_put(header, UInt16(type), $0.count, $0.baseAddress) }
    }
    public func put(_ type: Int, _ address: IPAddress) { put(type, bytes: address.bytes) }
    public func put(_ type: Int, _ mac: MACAddress) { put(type, bytes: mac.bytes) }
    /// A port or other value the kernel wants in network byte order.
    public func put(_ type: Int, bigEndian value: UInt16) { mnl_attr_put_u16(header, UInt16(type), value.bigEndian) }
    public func flag(_ type: Int) { mnl_attr_put(header, UInt16(type), 0, nil) }

    public func nest(_ type: Int, _ body: () -> Void) {
        let start = mnl_attr_nest_start(header, UInt16(type))
        body()
        mnl_attr_nest_end(header, start)
    }
}

/// One or more requests sent to the kernel in a single datagram. rtnetlink handles them in
/// order, and answers each with its own ack, so a batch costs one round trip.
public final class RequestBatch {
    /// What each message asked, for the error the kernel may answer it with.
    struct Entry { var sequence: UInt32; var operation: String; var object: String; var tolerated: Set<Int32> }

    static let capacity = 1 << 16
    let buffer = UnsafeMutableRawPointer.allocate(byteCount: RequestBatch.capacity, alignment: 8)
    private(set) var length = 0
    private(set) var entries: [Entry] = []
    private var current: UnsafeMutablePointer<nlmsghdr>?
    private var nextSequence: UInt32

    init(firstSequence: UInt32) {
        nextSequence = firstSequence
        // libmnl 1.0.4 leaves attribute padding as it finds it: start from zeros so that no
        // stale heap bytes go to the kernel and requests are byte-for-byte reproducible.
        buffer.initializeMemory(as: UInt8.self, repeating: 0, count: RequestBatch.capacity)
    }
    deinit { buffer.deallocate() }

    public var isEmpty: Bool { entries.isEmpty && current == nil }

    /// Appends a message: its type, its flags beyond NLM_F_REQUEST|NLM_F_ACK, its fixed
    /// header (ifinfomsg, ifaddrmsg, rtmsg, ndmsg...) and its attributes. `tolerating` lists
    /// errnos that mean the work is already done (EEXIST for an optional route, say).
    public func add<Header>(
        _ type: Int, flags: Int32 = 0, header: Header,
        operation: String, object: String, tolerating: Set<Int32> = [],
        _ attributes: (MessageWriter) -> Void = { _ in }
    ) {
        seal()
        let message = mnl_nlmsg_put_header(buffer + length)!
        message.pointee.nlmsg_type = UInt16(type)
        message.pointee.nlmsg_flags = UInt16(NLM_F_REQUEST | NLM_F_ACK | flags)
        message.pointee.nlmsg_seq = nextSequence
        let extra = mnl_nlmsg_put_extra_header(message, MemoryLayout<Header>.size)!
        extra.storeBytes(of: header, as: Header.self)
        attributes(MessageWriter(header: message))
        entries.append(Entry(sequence: nextSequence, operation: operation, object: object, tolerated: tolerating))
        nextSequence &+= 1
        current = message
        precondition(length + Int(message.pointee.nlmsg_len) < RequestBatch.capacity, "netlink batch overflow")
    }

    /// Closes the message being written so the next one starts after it.
    func seal() {
        if let current { length += Int(current.pointee.nlmsg_len) }
        current = nil
    }

    var sequenceAfter: UInt32 { nextSequence }
    var bytes: UnsafeRawBufferPointer { seal(); return UnsafeRawBufferPointer(start: buffer, count: length) }
}

/// A message the kernel sent: its header and a table of its top-level attributes.
public struct ReceivedMessage {
    public let header: UnsafePointer<nlmsghdr>

    public var type: Int { Int(header.pointee.nlmsg_type) }
    public var sequence: UInt32 { header.pointee.nlmsg_seq }


    /// NLMSGERR_ATTR_MSG of an error message, when the kernel said more than an errno.
    public var extendedAckText: String? {
        guard Int32(header.pointee.nlmsg_flags) & NLM_F_ACK_TLVS != 0 else { return nil }
        return attributes(after: nlmsgerr.self, max: Int(NC_NLMSGERR_ATTR_MAX))[Int(NLMSGERR_ATTR_MSG.rawValue)]?.string
    }

    /// The fixed header after nlmsghdr (ifinfomsg, ifaddrmsg...). A message too short to
    /// hold it (which the kernel never sends) reads as zeros past its end, not as the bytes
    /// after it (found by Fuzz/Sources/FuzzNetlink).
    public func payload<Header>(as: Header.Type) -> Header {
        let available = max(0, Int(header.pointee.nlmsg_len) - MemoryLayout<nlmsghdr>.size)
        let start = mnl_nlmsg_get_payload(header)!
        guard available < MemoryLayout<Header>.size else { return start.loadUnaligned(as: Header.self) }
        var bytes = [UInt8](repeating: 0, count: MemoryLayout<Header>.size)
        bytes.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(start: start, count: available)) }
        return bytes.withUnsafeBytes { $0.loadUnaligned(as: Header.self) }
    }

    /// The errno of an NLMSG_ERROR, 0 for an ack; EPROTO when it is too short to hold one.
    public var ackErrno: Int32 {
        guard Int(header.pointee.nlmsg_len) >= MemoryLayout<nlmsghdr>.size + MemoryLayout<Int32>.size else { return EPROTO }
        return NetlinkMessages.errno(acked: payload(as: nlmsgerr.self).error)
    }

    /// Top-level attributes, indexed by type, after a fixed header of `Header`'s size.
    public func attributes<Header>(after: Header.Type, max: Int) -> AttributeTable {
        let table = AttributeTable(max: max)
        nc_attr_table(header, UInt32(MemoryLayout<Header>.size), table.slots, UInt32(max))
        return table
    }
}

/// Attributes of one level of a message, indexed by type: `table[IFLA_IFNAME]?.string`.
public final class AttributeTable {
    let slots: UnsafeMutablePointer<UnsafePointer<nlattr>?>
    let max: Int

    init(max: Int) {
        self.max = max
        slots = .allocate(capacity: max + 1)
        slots.initialize(repeating: nil, count: max + 1)
    }

    /// The attributes nested inside `attribute`.
    public convenience init(nested attribute: Attribute, max: Int) {
        self.init(max: max)
        nc_attr_table_nested(attribute.raw, slots, UInt32(max))
    }

    deinit { slots.deallocate() }

    public subscript(type: Int) -> Attribute? {
        guard type <= max, let raw = slots[type] else { return nil }
        return Attribute(raw: raw)
    }
}

/// One attribute of a received message, read as the type its kind says it has.
public struct Attribute {
    let raw: UnsafePointer<nlattr>

    public var u8: UInt8 { mnl_attr_get_u8(raw) }
    public var u16: UInt16 { mnl_attr_get_u16(raw) }
    public var u32: UInt32 { mnl_attr_get_u32(raw) }
    public var bigEndianU16: UInt16 { UInt16(bigEndian: mnl_attr_get_u16(raw)) }
    public var string: String { String(cString: mnl_attr_get_str(raw)) }
    public var bytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: mnl_attr_get_payload(raw), count: Int(mnl_attr_get_payload_len(raw)))
    }
    public var address: IPAddress? { IPAddress(bytes: bytes) }
    public var mac: MACAddress? { bytes.count == 6 ? MACAddress(bytes: Array(bytes)) : nil }
}
