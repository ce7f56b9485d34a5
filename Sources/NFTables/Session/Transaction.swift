import CNFTables

/// One change to the ruleset: everything added to it is sent as a single batch
/// (NFNL_MSG_BATCH_BEGIN … END), which the kernel applies whole or not at all.
public final class Transaction {
    enum Operation {
        case addTable(Table)
        case deleteTable(Table)
        case addChain(Table, Chain)
        case addSet(Table, SetDefinition)
        case addRule(Table, Rule)
        case addElements(Table, set: String, [SetElement], exclusive: Bool)
        case deleteElements(Table, set: String, [SetElement])

        var summary: (operation: String, object: String) {
            switch self {
            case .addTable(let table): ("nft add", "\(table)")
            case .deleteTable(let table): ("nft delete", "\(table)")
            case .addChain(let table, let chain): ("nft add", "chain \(table.family) \(table.name) \(chain.name)")
            case .addSet(let table, let set): ("nft add", "set \(table.family) \(table.name) \(set.name)")
            case .addRule(let table, let rule): ("nft add", "rule to chain \(table.family) \(table.name) \(rule.chain)")
            case .addElements(let table, let set, let elements, _):
                ("nft add", "\(elements.count) element\(elements.count == 1 ? "" : "s") to set \(table.family) \(table.name) \(set)")
            case .deleteElements(let table, let set, let elements):
                ("nft delete", "\(elements.count) element\(elements.count == 1 ? "" : "s") from set \(table.family) \(table.name) \(set)")
            }
        }
    }

    private(set) var operations: [Operation] = []

    public init() {}

    public var isEmpty: Bool { operations.isEmpty }

    /// `nft add table` (no error if it exists).
    public func add(_ table: Table) { operations.append(.addTable(table)) }
    /// `nft delete table`, with everything in it.
    public func delete(_ table: Table) { operations.append(.deleteTable(table)) }
    public func add(_ chain: Chain, to table: Table) { operations.append(.addChain(table, chain)) }
    public func add(_ set: SetDefinition, to table: Table) { operations.append(.addSet(table, set)) }
    /// `nft add rule` (appended at the end of its chain).
    public func add(_ rule: Rule, to table: Table) { operations.append(.addRule(table, rule)) }

    /// `nft add element` (`exclusive`: `nft create element`, failing on an existing key).
    public func add(_ elements: [SetElement], toSet set: String, in table: Table, exclusive: Bool = false) {
        guard !elements.isEmpty else { return }
        operations.append(.addElements(table, set: set, elements, exclusive: exclusive))
    }

    /// `nft delete element`: every element must be there.
    public func delete(_ elements: [SetElement], fromSet set: String, in table: Table) {
        guard !elements.isEmpty else { return }
        operations.append(.deleteElements(table, set: set, elements))
    }

    /// A batch in wire form, and for each acknowledged message what it was.
    struct Encoded {
        var bytes: [UInt8]
        var messages: [UInt32: (operation: String, object: String)]
        var beginSequence: UInt32
        var nextSequence: UInt32
    }

    /// Elements go several to a message, each message under this size.
    static let elementMessageBudget = 16 * 1024

    func encode(firstSequence: UInt32) -> Encoded {
        var writer = BatchWriter()
        var sequence = firstSequence
        var messages: [UInt32: (operation: String, object: String)] = [:]
        let begin = sequence
        writer.write(reserve: 64) { nftnl_batch_begin($0, sequence) }
        sequence += 1
        for operation in operations {
            for message in Self.messages(for: operation) {
                let current = sequence
                writer.write(reserve: message.reserve) { buffer in message.build(buffer, current) }
                messages[current] = operation.summary
                sequence += 1
            }
        }
        let end = sequence
        writer.write(reserve: 64) { nftnl_batch_end($0, end) }
        sequence += 1
        return Encoded(bytes: writer.bytes, messages: messages, beginSequence: begin, nextSequence: sequence)
    }

    private struct Message {
        var reserve: Int
        var build: (UnsafeMutablePointer<CChar>, UInt32) -> UnsafeMutablePointer<nlmsghdr>
    }

    private static let create = UInt16(NLM_F_CREATE | NLM_F_ACK)
    private static let ack = UInt16(NLM_F_ACK)

    private static func messages(for operation: Operation) -> [Message] {
        switch operation {
        case .addTable(let table):
            return [tableMessage(table, type: NFT_MSG_NEWTABLE, flags: create)]
        case .deleteTable(let table):
            return [tableMessage(table, type: NFT_MSG_DELTABLE, flags: ack)]
        case .addChain(let table, let chain):
            return [Message(reserve: 1024) { buffer, sequence in
                let object = nftnl_chain_alloc()!
                defer { nftnl_chain_free(object) }
                nftnl_chain_set_str(object, UInt16(NFTNL_CHAIN_TABLE.rawValue), table.name)
                nftnl_chain_set_str(object, UInt16(NFTNL_CHAIN_NAME.rawValue), chain.name)
                if let base = chain.base {
                    nftnl_chain_set_u32(object, UInt16(NFTNL_CHAIN_HOOKNUM.rawValue), base.hook.rawValue)
                    nftnl_chain_set_s32(object, UInt16(NFTNL_CHAIN_PRIO.rawValue), base.priority)
                    nftnl_chain_set_str(object, UInt16(NFTNL_CHAIN_TYPE.rawValue), base.kind.rawValue)
                    nftnl_chain_set_u32(object, UInt16(NFTNL_CHAIN_POLICY.rawValue), base.policyAccepts ? 1 : 0)
                }
                let header = nftnl_nlmsg_build_hdr(buffer, UInt16(NFT_MSG_NEWCHAIN.rawValue), UInt16(table.family.rawValue), create, sequence)!
                nftnl_chain_nlmsg_build_payload(header, object)
                return header
            }]
        case .addSet(let table, let set):
            return [Message(reserve: 1024) { buffer, sequence in
                let object = nftnl_set_alloc()!
                defer { nftnl_set_free(object) }
                nftnl_set_set_str(object, UInt16(NFTNL_SET_TABLE.rawValue), table.name)
                nftnl_set_set_str(object, UInt16(NFTNL_SET_NAME.rawValue), set.name)
                nftnl_set_set_u32(object, UInt16(NFTNL_SET_ID.rawValue), sequence)
                nftnl_set_set_u32(object, UInt16(NFTNL_SET_KEY_TYPE.rawValue), DataType.concatenated(set.key))
                nftnl_set_set_u32(object, UInt16(NFTNL_SET_KEY_LEN.rawValue), UInt32(set.keyLength))
                var flags: UInt32 = set.interval ? UInt32(NFT_SET_INTERVAL.rawValue) : 0
                switch set.data {
                case .values(let types):
                    flags |= UInt32(NFT_SET_MAP.rawValue)
                    nftnl_set_set_u32(object, UInt16(NFTNL_SET_DATA_TYPE.rawValue), DataType.concatenated(types))
                    nftnl_set_set_u32(object, UInt16(NFTNL_SET_DATA_LEN.rawValue), UInt32(DataType.length(of: types)))
                case .verdict:
                    flags |= UInt32(NFT_SET_MAP.rawValue)
                    nftnl_set_set_u32(object, UInt16(NFTNL_SET_DATA_TYPE.rawValue), NFT_DATA_VERDICT.rawValue)
                    nftnl_set_set_u32(object, UInt16(NFTNL_SET_DATA_LEN.rawValue), 16)
                case nil:
                    break
                }
                nftnl_set_set_u32(object, UInt16(NFTNL_SET_FLAGS.rawValue), flags)
                // nft prints host-order keys (interface names, marks) only when told their byte order.
                if set.key.allSatisfy(\.isHostOrder), let buffer = nftnl_udata_buf_alloc(64) {
                    defer { nftnl_udata_buf_free(buffer) }
                    _ = nftnl_udata_put_u32(buffer, UInt8(NFTNL_UDATA_SET_KEYBYTEORDER.rawValue), 1)   // BYTEORDER_HOST_ENDIAN
                    nftnl_set_set_data(object, UInt16(NFTNL_SET_USERDATA.rawValue), nftnl_udata_buf_data(buffer),
                                       nftnl_udata_buf_len(buffer))
                }
                let header = nftnl_nlmsg_build_hdr(buffer, UInt16(NFT_MSG_NEWSET.rawValue), UInt16(table.family.rawValue), create, sequence)!
                nftnl_set_nlmsg_build_payload(header, object)
                return header
            }]
        case .addRule(let table, let rule):
            return [Message(reserve: 512 + rule.expressions.count * 128) { buffer, sequence in
                let object = nftnl_rule_alloc()!
                defer { nftnl_rule_free(object) }
                nftnl_rule_set_str(object, UInt16(NFTNL_RULE_TABLE.rawValue), table.name)
                nftnl_rule_set_str(object, UInt16(NFTNL_RULE_CHAIN.rawValue), rule.chain)
                for expression in rule.expressions {
                    nftnl_rule_add_expr(object, ExpressionEncoder.make(expression))
                }
                let header = nftnl_nlmsg_build_hdr(buffer, UInt16(NFT_MSG_NEWRULE.rawValue), UInt16(table.family.rawValue),
                                                   create | UInt16(NLM_F_APPEND), sequence)!
                nftnl_rule_nlmsg_build_payload(header, object)
                return header
            }]
        case .addElements(let table, let set, let elements, let exclusive):
            let flags = create | (exclusive ? UInt16(NLM_F_EXCL) : 0)
            return elementMessages(table, set: set, elements, type: NFT_MSG_NEWSETELEM, flags: flags)
        case .deleteElements(let table, let set, let elements):
            return elementMessages(table, set: set, elements, type: NFT_MSG_DELSETELEM, flags: ack)
        }
    }

    private static func tableMessage(_ table: Table, type: nf_tables_msg_types, flags: UInt16) -> Message {
        Message(reserve: 512) { buffer, sequence in
            let object = nftnl_table_alloc()!
            defer { nftnl_table_free(object) }
            nftnl_table_set_str(object, UInt16(NFTNL_TABLE_NAME.rawValue), table.name)
            let header = nftnl_nlmsg_build_hdr(buffer, UInt16(type.rawValue), UInt16(table.family.rawValue), flags, sequence)!
            nftnl_table_nlmsg_build_payload(header, object)
            return header
        }
    }

    /// Elements split into messages of at most `elementMessageBudget` bytes.
    private static func elementMessages(_ table: Table, set: String, _ elements: [SetElement],
                                        type: nf_tables_msg_types, flags: UInt16) -> [Message] {
        var messages: [Message] = []
        var start = 0
        while start < elements.count {
            var size = 0
            var end = start
            while end < elements.count {
                let cost = elementCost(elements[end])
                if end > start && size + cost > elementMessageBudget { break }
                size += cost
                end += 1
            }
            let chunk = elements[start..<end]
            messages.append(Message(reserve: size + 1024) { buffer, sequence in
                let object = nftnl_set_alloc()!
                defer { nftnl_set_free(object) }
                nftnl_set_set_str(object, UInt16(NFTNL_SET_TABLE.rawValue), table.name)
                nftnl_set_set_str(object, UInt16(NFTNL_SET_NAME.rawValue), set)
                for element in chunk {
                    let item = nftnl_set_elem_alloc()!
                    element.key.withUnsafeBytes { _ = nftnl_set_elem_set(item, UInt16(NFTNL_SET_ELEM_KEY), $0.baseAddress, UInt32($0.count)) }
                    switch element.value {
                    case .bytes(let data):
                        data.withUnsafeBytes { _ = nftnl_set_elem_set(item, UInt16(NFTNL_SET_ELEM_DATA), $0.baseAddress, UInt32($0.count)) }
                    case .verdict(let verdict):
                        nftnl_set_elem_set_u32(item, UInt16(NFTNL_SET_ELEM_VERDICT), UInt32(bitPattern: verdict.code))
                        if let chain = verdict.chain { nftnl_set_elem_set_str(item, UInt16(NFTNL_SET_ELEM_CHAIN), chain) }
                    case nil:
                        break
                    }
                    nftnl_set_elem_add(object, item)
                }
                let header = nftnl_nlmsg_build_hdr(buffer, UInt16(type.rawValue), UInt16(table.family.rawValue), flags, sequence)!
                nftnl_set_elems_nlmsg_build_payload(header, object)
                return header
            })
            start = end
        }
        return messages
    }

    /// An upper bound of the bytes one element takes in a message.
    private static func elementCost(_ element: SetElement) -> Int {
        let value: Int
        switch element.value {
        case .bytes(let data): value = 16 + data.count
        case .verdict(let verdict): value = 32 + (verdict.chain?.utf8.count ?? 0)
        case nil: value = 0
        }
        return 32 + element.key.count + value
    }
}

/// A growing buffer that libnftnl writes messages into, one after another, each aligned.
struct BatchWriter {
    private(set) var bytes: [UInt8] = []

    mutating func write(reserve: Int, _ build: (UnsafeMutablePointer<CChar>) -> UnsafeMutablePointer<nlmsghdr>) {
        let offset = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: reserve))
        let length = bytes.withUnsafeMutableBytes { raw -> Int in
            let start = raw.baseAddress!.advanced(by: offset).assumingMemoryBound(to: CChar.self)
            let header = build(start)
            return Int(header.pointee.nlmsg_len)
        }
        precondition(length <= reserve, "nftables message of \(length) bytes overran its \(reserve)-byte reservation")
        bytes.removeLast(reserve - (length + 3) / 4 * 4)
    }
}
