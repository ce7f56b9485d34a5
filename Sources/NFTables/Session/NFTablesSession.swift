import CNFTables
import Glibc
import Netlink

/// A conversation with nf_tables in one network namespace: atomic commits, and a reader of
/// what is installed. Used from one thread at a time; the socket stays in the namespace it
/// was opened in, whatever thread uses it.
public final class NFTablesSession {
    private let socket: OpaquePointer
    private var sequence: UInt32 = 1
    private var sendBufferSize = 0
    private let receiveBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 17, alignment: 8)

    /// A session in the calling thread's network namespace.
    public convenience init() throws {
        self.init(socket: try Self.openSocket())
    }

    /// A session in `namespace`: the socket is opened on a thread of its own that enters it and ends.
    public convenience init(in namespace: NetworkNamespace) throws {
        self.init(socket: try namespace.perform { try Self.openSocket() })
    }

    private init(socket: OpaquePointer) { self.socket = socket }

    /// A NETLINK_NETFILTER socket with extended acks, in the calling thread's namespace.
    private static func openSocket() throws -> OpaquePointer {
        guard let socket = mnl_socket_open2(NETLINK_NETFILTER, Int32(SOCK_CLOEXEC.rawValue)) else {
            throw systemError("open", "netfilter socket")
        }
        var on: Int32 = 1
        _ = mnl_socket_setsockopt(socket, NETLINK_EXT_ACK, &on, socklen_t(MemoryLayout<Int32>.size))
        _ = mnl_socket_setsockopt(socket, NETLINK_CAP_ACK, &on, socklen_t(MemoryLayout<Int32>.size))
        guard mnl_socket_bind(socket, 0, pid_t(MNL_SOCKET_AUTOPID)) == 0 else {
            let error = systemError("bind", "netfilter socket")
            mnl_socket_close(socket)
            throw error
        }
        return socket
    }

    deinit {
        receiveBuffer.deallocate()
        mnl_socket_close(socket)
    }

    // MARK: Changes

    /// Sends the transaction as one batch and waits for the kernel's answer to each message.
    /// Either all of it is applied or none; the error names the first message refused.
    public func commit(_ transaction: Transaction) throws {
        guard !transaction.isEmpty else { return }
        let encoded = transaction.encode(firstSequence: sequence)
        sequence = encoded.nextSequence
        try growSendBuffer(to: encoded.bytes.count)
        try encoded.bytes.withUnsafeBytes { bytes in
            guard mnl_socket_sendto(socket, bytes.baseAddress, bytes.count) >= 0 else {
                throw systemError("send", "batch of \(encoded.messages.count) messages")
            }
        }
        var pending = Set(encoded.messages.keys)
        var firstError: (sequence: UInt32, error: NetlinkError)?
        while !pending.isEmpty {
            var stop = false
            try receive { message in
                guard message.pointee.nlmsg_type == UInt16(NLMSG_ERROR) else { return }
                let sequence = message.pointee.nlmsg_seq
                let code = NetlinkMessages.errno(acked: nft_ack_error(message))
                guard pending.remove(sequence) != nil else {
                    // An answer to the batch itself (for instance EPERM): nothing else follows.
                    if code != 0 {
                        firstError = (sequence, NetlinkError(operation: "nft commit", object: "batch", errno: code,
                                                              kernelMessage: Self.extendedAckText(message)))
                    }
                    stop = true
                    return
                }
                if code != 0, firstError == nil || sequence < firstError!.sequence {
                    let what = encoded.messages[sequence]!
                    firstError = (sequence, NetlinkError(operation: what.operation, object: what.object, errno: code,
                                                          kernelMessage: Self.extendedAckText(message)))
                }
            }
            if stop { break }
        }
        if let firstError { throw firstError.error }
    }

    /// A large batch must fit the socket's send buffer whole: the kernel reads it as one.
    private func growSendBuffer(to size: Int) throws {
        guard size > 200 * 1024, size > sendBufferSize else { return }
        var bytes = Int32(min(size * 2, Int(Int32.max)))
        let fd = mnl_socket_get_fd(socket)
        if setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, socklen_t(MemoryLayout<Int32>.size)) != 0 {
            guard setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
                throw systemError("grow send buffer for", "a batch of \(size) bytes")
            }
        }
        sendBufferSize = size * 2
    }

    private func receive(_ each: (UnsafeMutablePointer<nlmsghdr>) throws -> Void) throws {
        let count = mnl_socket_recvfrom(socket, receiveBuffer.baseAddress, receiveBuffer.count)
        guard count >= 0 else { throw systemError("receive", "netfilter answer") }
        var remaining = count
        var cursor = receiveBuffer.baseAddress!
        while NetlinkMessages.fits(cursor, remaining: remaining) {
            try each(cursor.assumingMemoryBound(to: nlmsghdr.self))
            let step = NetlinkMessages.advance(cursor, remaining: remaining)
            cursor += step
            remaining -= step
        }
    }

    private static func extendedAckText(_ message: UnsafeMutablePointer<nlmsghdr>) -> String? {
        guard message.pointee.nlmsg_flags & UInt16(NLM_F_ACK_TLVS) != 0 else { return nil }
        let headerLength = Int(mnl_nlmsg_size(Int(MemoryLayout<nlmsgerr>.size)))
        var text: String?
        var attribute = UnsafeMutableRawPointer(message).advanced(by: headerLength).assumingMemoryBound(to: nlattr.self)
        var remaining = Int32(message.pointee.nlmsg_len) - Int32(headerLength)
        while mnl_attr_ok(attribute, remaining) {
            if mnl_attr_get_type(attribute) == UInt16(NLMSGERR_ATTR_MSG.rawValue) {
                text = String(cString: mnl_attr_get_str(attribute))
            }
            remaining -= Int32((Int(attribute.pointee.nla_len) + 3) & ~3)
            attribute = mnl_attr_next(attribute)
        }
        return text
    }

    // MARK: Reading what is installed

    /// Sends a get request with NLM_F_DUMP (or for one object) and hands each answer over.
    private func dump(_ type: nf_tables_msg_types, family: Family?, object: String, dumping: Bool = true,
                      payload: (UnsafeMutablePointer<nlmsghdr>) -> Void = { _ in },
                      each: (UnsafeMutablePointer<nlmsghdr>) throws -> Void) throws {
        var request = [UInt8](repeating: 0, count: 4096)
        let current = sequence
        sequence += 1
        let length = request.withUnsafeMutableBytes { raw -> Int in
            let header = nftnl_nlmsg_build_hdr(raw.baseAddress!.assumingMemoryBound(to: CChar.self), UInt16(type.rawValue),
                                               UInt16(family?.rawValue ?? 0), UInt16(dumping ? NLM_F_DUMP : NLM_F_ACK), current)!
            payload(header)
            return Int(header.pointee.nlmsg_len)
        }
        try request.withUnsafeBytes { raw in
            guard mnl_socket_sendto(socket, raw.baseAddress, length) >= 0 else { throw systemError("send", "get \(object)") }
        }
        var done = false
        while !done {
            try receive { message in
                guard message.pointee.nlmsg_seq == current else { return }
                switch Int32(message.pointee.nlmsg_type) {
                case NLMSG_DONE:
                    done = true
                case NLMSG_ERROR:
                    let code = NetlinkMessages.errno(acked: nft_ack_error(message))
                    done = true
                    if code != 0 {
                        throw NetlinkError(operation: "nft list", object: object, errno: code, kernelMessage: Self.extendedAckText(message))
                    }
                default:
                    try each(message)
                    if !dumping { done = true }
                }
            }
        }
    }

    /// `nft list tables`
    public func tables() throws -> [Table] {
        var tables: [Table] = []
        try dump(NFT_MSG_GETTABLE, family: nil, object: "tables") { message in
            if let table = DumpReader.table(message) { tables.append(table) }
        }
        return tables
    }

    public func exists(_ table: Table) throws -> Bool {
        do {
            var found = false
            try dump(NFT_MSG_GETTABLE, family: table.family, object: "\(table)", dumping: false, payload: { header in
                let object = nftnl_table_alloc()!
                defer { nftnl_table_free(object) }
                nftnl_table_set_str(object, UInt16(NFTNL_TABLE_NAME.rawValue), table.name)
                nftnl_table_nlmsg_build_payload(header, object)
            }) { _ in found = true }
            return found
        } catch let error as NetlinkError where error.errno == ENOENT {
            return false
        }
    }

    /// `nft list chains` of one table.
    public func chains(in table: Table) throws -> [Chain] {
        var chains: [Chain] = []
        try dump(NFT_MSG_GETCHAIN, family: table.family, object: "chains of \(table)") { message in
            if let chain = DumpReader.chain(message, in: table) { chains.append(chain) }
        }
        return chains
    }

    /// A set as installed: its name, flags and the lengths of its keys and values.
    public struct InstalledSet: Sendable, Hashable {
        public var name: String
        public var isMap: Bool
        public var keyLength: Int
        public var dataLength: Int
    }

    /// `nft list sets` of one table.
    public func sets(in table: Table) throws -> [InstalledSet] {
        var sets: [InstalledSet] = []
        try dump(NFT_MSG_GETSET, family: table.family, object: "sets of \(table)", payload: { header in
            let object = nftnl_set_alloc()!
            defer { nftnl_set_free(object) }
            nftnl_set_set_str(object, UInt16(NFTNL_SET_TABLE.rawValue), table.name)
            nftnl_set_nlmsg_build_payload(header, object)
        }) { message in
            if let set = DumpReader.set(message) { sets.append(set) }
        }
        return sets
    }

    /// `nft list set`: the elements of one set or map. A hash set that is still growing
    /// after a large insert (the kernel resizes it in the background) can be walked
    /// incompletely, so the set is read until two reads agree.
    public func elements(ofSet name: String, in table: Table) throws -> [SetElement] {
        var previous = try readElements(ofSet: name, in: table)
        for _ in 0..<20 {
            let current = try readElements(ofSet: name, in: table)
            if Set(current) == Set(previous) { return current }
            previous = current
            usleep(10_000)
        }
        return previous
    }

    private func readElements(ofSet name: String, in table: Table) throws -> [SetElement] {
        var elements: [SetElement] = []
        try dump(NFT_MSG_GETSETELEM, family: table.family, object: "elements of set \(table.family) \(table.name) \(name)", payload: { header in
            let object = nftnl_set_alloc()!
            defer { nftnl_set_free(object) }
            nftnl_set_set_str(object, UInt16(NFTNL_SET_TABLE.rawValue), table.name)
            nftnl_set_set_str(object, UInt16(NFTNL_SET_NAME.rawValue), name)
            nftnl_set_elems_nlmsg_build_payload(header, object)
        }) { message in
            elements += DumpReader.elements(message)
        }
        return elements
    }

    /// A rule as installed: its chain, handle, and the kinds of its expressions in order.
    public struct InstalledRule: Sendable, Hashable {
        public var chain: String
        public var handle: UInt64
        public var expressionKinds: [String]
    }

    /// `nft list table` rules, chain by chain in the kernel's order.
    public func rules(in table: Table) throws -> [InstalledRule] {
        var rules: [InstalledRule] = []
        try dump(NFT_MSG_GETRULE, family: table.family, object: "rules of \(table)", payload: { header in
            let object = nftnl_rule_alloc()!
            defer { nftnl_rule_free(object) }
            nftnl_rule_set_str(object, UInt16(NFTNL_RULE_TABLE.rawValue), table.name)
            nftnl_rule_nlmsg_build_payload(header, object)
        }) { message in
            if let rule = DumpReader.rule(message, in: table) { rules.append(rule) }
        }
        return rules
    }
}

/// A failed system call on the netfilter socket, with the errno it left.
func systemError(_ operation: String, _ object: String) -> NetlinkError {
    NetlinkError(operation: operation, object: object, errno: Glibc.errno)
}
