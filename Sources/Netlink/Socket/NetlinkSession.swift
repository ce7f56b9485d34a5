import CNetlink

/// A conversation with rtnetlink in one network namespace.
///
/// Requests are synchronous: each call sends its messages in one datagram and waits for
/// every ack. A session is used from one thread at a time; it may be any thread, because
/// the socket stays in the namespace it was opened in.
public final class NetlinkSession {
    let socket: any NetlinkSocket
    private var sequence: UInt32 = 1
    private let receiveBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 8)

    /// A session over any socket; golden tests pass a recorder.
    public init(socket: any NetlinkSocket) {
        self.socket = socket
    }

    /// A session in the calling thread's network namespace.
    public convenience init() throws {
        self.init(socket: try RouteSocket())
    }

    /// A session in `namespace`. The socket is opened on a thread of its own that enters the
    /// namespace and ends, so no thread of the caller ever changes namespace.
    public convenience init(in namespace: NetworkNamespace) throws {
        let socket = try namespace.perform { try RouteSocket() }
        self.init(socket: socket)
    }

    deinit { receiveBuffer.deallocate() }

    /// A new batch whose messages carry this session's next sequence numbers.
    public func batch() -> RequestBatch { RequestBatch(firstSequence: sequence) }

    /// Sends the batch and waits for every message's ack. Throws the first error, naming
    /// the operation it belonged to; the messages after it were still applied by the kernel.
    public func execute(_ batch: RequestBatch) throws {
        try execute(batch, answers: { _ in })
    }

    /// As `execute(_:)`, handing every message that is not an ack to `answers` (the reply
    /// to a get request).
    func execute(_ batch: RequestBatch, answers: (ReceivedMessage) -> Void) throws {
        guard !batch.isEmpty else { return }
        try socket.send(batch.bytes)
        sequence = batch.sequenceAfter
        var pending = Dictionary(uniqueKeysWithValues: batch.entries.map { ($0.sequence, $0) })
        var firstError: (sequence: UInt32, error: NetlinkError)?
        while !pending.isEmpty {
            try receiveMessages { message in
                guard message.type == NLMSG_ERROR else {
                    answers(message)
                    return true
                }
                guard let entry = pending.removeValue(forKey: message.header.pointee.nlmsg_seq) else { return true }
                let code = message.ackedErrno
                if code != 0, !entry.tolerated.contains(code),
                   firstError == nil || entry.sequence < firstError!.sequence {
                    firstError = (entry.sequence, NetlinkError(
                        operation: entry.operation, object: entry.object,
                        errno: code, kernelMessage: Self.extendedAckText(message)))
                }
                return !pending.isEmpty
            }
        }
        if let firstError { throw firstError.error }
    }

    /// One request, one ack.
    public func execute<Header>(
        _ type: Int, flags: Int32 = 0, header: Header, operation: String, object: String,
        tolerating: Set<Int32> = [], _ attributes: (MessageWriter) -> Void = { _ in }
    ) throws {
        let request = batch()
        request.add(type, flags: flags, header: header, operation: operation, object: object,
                    tolerating: tolerating, attributes)
        try execute(request)
    }

    /// Sends a dump request and hands each answer to `parse`, collecting what it returns.
    public func dump<Header, Item>(
        _ type: Int, header: Header, operation: String,
        _ attributes: (MessageWriter) -> Void = { _ in },
        parse: (ReceivedMessage) -> Item?
    ) throws -> [Item] {
        let request = batch()
        request.add(type, flags: NLM_F_DUMP, header: header, operation: operation, object: "", attributes)
        try socket.send(request.bytes)
        sequence = request.sequenceAfter
        let expected = request.entries[0].sequence
        var items: [Item] = []
        var failure: NetlinkError?
        var done = false
        while !done {
            try receiveMessages { message in
                guard message.header.pointee.nlmsg_seq == expected else { return true }
                switch message.type {
                case Int(NLMSG_DONE):
                    done = true
                    return false
                case Int(NLMSG_ERROR):
                    let code = message.ackedErrno
                    if code != 0 {
                        failure = NetlinkError(operation: operation, object: "", errno: code,
                                               kernelMessage: Self.extendedAckText(message))
                    }
                    done = true
                    return false
                default:
                    if let item = parse(message) { items.append(item) }
                    return true
                }
            }
        }
        if let failure { throw failure }
        return items
    }

    /// Reads one datagram and walks its messages until `body` returns false.
    private func receiveMessages(_ body: (ReceivedMessage) throws -> Bool) throws {
        var remaining = try socket.receive(into: receiveBuffer)
        var cursor = UnsafeRawPointer(receiveBuffer.baseAddress!)
        while NetlinkMessages.fits(cursor, remaining: remaining) {
            guard try body(ReceivedMessage(header: cursor.assumingMemoryBound(to: nlmsghdr.self))) else { return }
            let step = NetlinkMessages.advance(cursor, remaining: remaining)
            cursor += step
            remaining -= step
        }
    }

    /// NLMSGERR_ATTR_MSG of an error message, when the kernel said more than an errno.
    private static func extendedAckText(_ message: ReceivedMessage) -> String? {
        guard Int32(message.header.pointee.nlmsg_flags) & NLM_F_ACK_TLVS != 0 else { return nil }
        let table = message.attributes(after: nlmsgerr.self, max: Int(NC_NLMSGERR_ATTR_MAX))
        return table[Int(NLMSGERR_ATTR_MSG.rawValue)]?.string
    }
}
