import CNFTables
import Netlink

/// What the reader takes from each message of an nf_tables dump: one place for the session's
/// `tables()`, `chains(in:)`, `sets(in:)`, `elements(ofSet:in:)` and `rules(in:)` and for
/// `NFTablesDump`, so the bytes the kernel (or anything posing as it) sends are parsed by
/// one piece of code, which the fuzz targets exercise.
enum DumpReader {
    /// Whether the message is nf_tables' `kind` with room for its nfgenmsg. libnftnl parses
    /// whatever it is handed as the object asked for (and exits the process when an
    /// attribute has a size that object's attribute of that number cannot have), so each
    /// reader takes only the messages of its own kind.
    static func isMessage(_ message: UnsafePointer<nlmsghdr>, _ kind: nf_tables_msg_types) -> Bool {
        message.pointee.nlmsg_type == UInt16(NFNL_SUBSYS_NFTABLES) << 8 | UInt16(kind.rawValue)
            && Int(message.pointee.nlmsg_len) >= mnl_nlmsg_size(MemoryLayout<nfgenmsg>.size)
    }

    /// The attributes between `start` and `end` of a message, walked as libmnl walks them
    /// (stopping at the first whose length does not fit): type (flags masked off), offset
    /// of its payload, payload length.
    static func attributes(_ message: UnsafeRawPointer, from start: Int, to end: Int) -> [(type: Int, payload: Int, length: Int)] {
        var found: [(type: Int, payload: Int, length: Int)] = []
        var offset = start
        while end - offset >= 4 {
            let length = Int(message.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
            guard length >= 4, length <= end - offset else { break }
            let type = Int(message.loadUnaligned(fromByteOffset: offset + 2, as: UInt16.self)) & 0x3fff  // NLA_TYPE_MASK
            found.append((type, offset + 4, length - 4))
            offset += (length + 3) & ~3
        }
        return found
    }

    /// Where libmnl stops walking a message's attributes: its length aligned to 4 (the
    /// copy `terminated` makes has the padding, so the checks below read what libnftnl reads).
    static func alignedEnd(_ message: UnsafePointer<nlmsghdr>) -> Int {
        (Int(message.pointee.nlmsg_len) + 3) & ~3
    }

    /// Whether a set message's expressions (NFTA_SET_EXPR, or each of NFTA_SET_EXPRESSIONS)
    /// have their names, as for rules (found by Fuzz/Sources/FuzzNFTables).
    static func setExpressionsAreNamed(_ message: UnsafePointer<nlmsghdr>) -> Bool {
        let raw = UnsafeRawPointer(message)
        func nested(_ attribute: (type: Int, payload: Int, length: Int)) -> [(type: Int, payload: Int, length: Int)] {
            attributes(raw, from: attribute.payload, to: attribute.payload + attribute.length)
        }
        let top = attributes(raw, from: mnl_nlmsg_size(MemoryLayout<nfgenmsg>.size), to: alignedEnd(message))
        var expressions = top.filter { $0.type == Int(NFTA_SET_EXPR.rawValue) }
        for list in top where list.type == Int(NFTA_SET_EXPRESSIONS.rawValue) {
            expressions += nested(list).filter { $0.type == Int(NFTA_LIST_ELEM.rawValue) }
        }
        return expressions.allSatisfy { expression in nested(expression).contains { $0.type == Int(NFTA_EXPR_NAME.rawValue) } }
    }

    /// Whether every expression of a rule message has a name. libnftnl 1.2's
    /// nftnl_expr_parse reads NFTA_EXPR_NAME without checking that it is there (a NULL
    /// dereference inside libnftnl: found by Fuzz/Sources/FuzzNFTables).
    static func expressionsAreNamed(_ message: UnsafePointer<nlmsghdr>) -> Bool {
        let raw = UnsafeRawPointer(message)
        let top = attributes(raw, from: mnl_nlmsg_size(MemoryLayout<nfgenmsg>.size), to: alignedEnd(message))
        for list in top where list.type == Int(NFTA_RULE_EXPRESSIONS.rawValue) {
            for element in attributes(raw, from: list.payload, to: list.payload + list.length) where element.type == Int(NFTA_LIST_ELEM.rawValue) {
                let fields = attributes(raw, from: element.payload, to: element.payload + element.length)
                guard fields.contains(where: { $0.type == Int(NFTA_EXPR_NAME.rawValue) }) else { return false }
            }
        }
        return true
    }

    /// Whether libnftnl can read a set-elements message: every element's attributes of
    /// types it knows, its expressions named, every verdict with its code, and a chain
    /// when it jumps or goes to one. libnftnl 1.2's nftnl_parse_verdict reads the chain of a jump
    /// without it being there (a wild pointer inside libnftnl: found by
    /// Fuzz/Sources/FuzzNFTables).
    static func elementsAreReadable(_ message: UnsafePointer<nlmsghdr>) -> Bool {
        let raw = UnsafeRawPointer(message)
        func nested(_ attribute: (type: Int, payload: Int, length: Int)) -> [(type: Int, payload: Int, length: Int)] {
            attributes(raw, from: attribute.payload, to: attribute.payload + attribute.length)
        }
        let top = attributes(raw, from: mnl_nlmsg_size(MemoryLayout<nfgenmsg>.size), to: alignedEnd(message))
        for list in top where list.type == Int(NFTA_SET_ELEM_LIST_ELEMENTS.rawValue) {
            for element in nested(list) where element.type == Int(NFTA_LIST_ELEM.rawValue) {
                // libnftnl 1.2 checks an element's attribute types against NFTA_SET_MAX, not
                // NFTA_SET_ELEM_MAX, and stores each in a table sized for the latter: a type
                // between the two writes past it on the stack (found by Fuzz/Sources/FuzzNFTables).
                guard nested(element).allSatisfy({ $0.type <= Int(NFTA_SET_ELEM_EXPRESSIONS.rawValue) }) else { return false }
                // An element's expressions, one or a list, each with its name (as for rules).
                var expressions = nested(element).filter { $0.type == Int(NFTA_SET_ELEM_EXPR.rawValue) }
                for list in nested(element) where list.type == Int(NFTA_SET_ELEM_EXPRESSIONS.rawValue) {
                    expressions += nested(list).filter { $0.type == Int(NFTA_LIST_ELEM.rawValue) }
                }
                for expression in expressions where !nested(expression).contains(where: { $0.type == Int(NFTA_EXPR_NAME.rawValue) }) {
                    return false
                }
                for data in nested(element) where data.type == Int(NFTA_SET_ELEM_DATA.rawValue) {
                    for verdict in nested(data) where verdict.type == Int(NFTA_DATA_VERDICT.rawValue) {
                        let fields = nested(verdict)
                        guard let code = fields.last(where: { $0.type == Int(NFTA_VERDICT_CODE.rawValue) }), code.length == 4 else { return false }
                        let value = Int32(bigEndian: raw.loadUnaligned(fromByteOffset: code.payload, as: Int32.self))
                        if value == NFT_JUMP.rawValue || value == NFT_GOTO.rawValue,
                           !fields.contains(where: { $0.type == Int(NFTA_VERDICT_CHAIN.rawValue) }) { return false }
                    }
                }
            }
        }
        return true
    }

    /// Runs a libnftnl parser on a copy of the message followed by four zero bytes.
    /// libnftnl strdup()s string attributes without checking that they end in NUL, and
    /// read past the message (found by Fuzz/Sources/FuzzNFTables); the zeros stop it at
    /// the message's end. The checks before libnftnl run on the same copy.
    static func terminated(_ message: UnsafePointer<nlmsghdr>, _ parse: (UnsafePointer<nlmsghdr>) -> Int32) -> Int32 {
        let length = Int(message.pointee.nlmsg_len)
        let copy = UnsafeMutableRawPointer.allocate(byteCount: length + 4, alignment: 8)
        defer { copy.deallocate() }
        copy.copyMemory(from: message, byteCount: length)
        (copy + length).initializeMemory(as: UInt8.self, repeating: 0, count: 4)
        return parse(UnsafePointer(copy.assumingMemoryBound(to: nlmsghdr.self)))
    }

    /// A string attribute libnftnl read, or nil where the message did not have it (the
    /// getters then answer NULL, which `String(cString:)` cannot take).
    static func text(_ value: UnsafePointer<CChar>?) -> String? {
        value.map { String(cString: $0) }
    }

    static func table(_ message: UnsafePointer<nlmsghdr>) -> Table? {
        guard isMessage(message, NFT_MSG_NEWTABLE) else { return nil }
        let object = nftnl_table_alloc()!
        defer { nftnl_table_free(object) }
        guard terminated(message, { nftnl_table_nlmsg_parse($0, object) }) >= 0,
              let family = Family(rawValue: UInt8(nftnl_table_get_u32(object, UInt16(NFTNL_TABLE_FAMILY.rawValue)))),
              let name = text(nftnl_table_get_str(object, UInt16(NFTNL_TABLE_NAME.rawValue))) else { return nil }
        return Table(family, name)
    }

    static func chain(_ message: UnsafePointer<nlmsghdr>, in table: Table) -> Chain? {
        guard isMessage(message, NFT_MSG_NEWCHAIN) else { return nil }
        let object = nftnl_chain_alloc()!
        defer { nftnl_chain_free(object) }
        guard terminated(message, { nftnl_chain_nlmsg_parse($0, object) }) >= 0,
              text(nftnl_chain_get_str(object, UInt16(NFTNL_CHAIN_TABLE.rawValue))) == table.name,
              let name = text(nftnl_chain_get_str(object, UInt16(NFTNL_CHAIN_NAME.rawValue))) else { return nil }
        var chain = Chain(name)
        if nftnl_chain_is_set(object, UInt16(NFTNL_CHAIN_HOOKNUM.rawValue)),
           let hook = Hook(rawValue: nftnl_chain_get_u32(object, UInt16(NFTNL_CHAIN_HOOKNUM.rawValue))),
           let type = text(nftnl_chain_get_str(object, UInt16(NFTNL_CHAIN_TYPE.rawValue))), let kind = Chain.Base.Kind(rawValue: type) {
            chain.base = Chain.Base(kind, hook: hook, priority: nftnl_chain_get_s32(object, UInt16(NFTNL_CHAIN_PRIO.rawValue)),
                                    policyAccepts: nftnl_chain_get_u32(object, UInt16(NFTNL_CHAIN_POLICY.rawValue)) == 1)
        }
        return chain
    }

    static func set(_ message: UnsafePointer<nlmsghdr>) -> NFTablesSession.InstalledSet? {
        guard isMessage(message, NFT_MSG_NEWSET) else { return nil }
        let object = nftnl_set_alloc()!
        defer { nftnl_set_free(object) }
        guard terminated(message, { setExpressionsAreNamed($0) ? nftnl_set_nlmsg_parse($0, object) : -1 }) >= 0,
              let name = text(nftnl_set_get_str(object, UInt16(NFTNL_SET_NAME.rawValue))) else { return nil }
        let flags = nftnl_set_get_u32(object, UInt16(NFTNL_SET_FLAGS.rawValue))
        return NFTablesSession.InstalledSet(
            name: name,
            isMap: flags & UInt32(NFT_SET_MAP.rawValue) != 0,
            keyLength: Int(nftnl_set_get_u32(object, UInt16(NFTNL_SET_KEY_LEN.rawValue))),
            dataLength: Int(nftnl_set_get_u32(object, UInt16(NFTNL_SET_DATA_LEN.rawValue))))
    }

    static func elements(_ message: UnsafePointer<nlmsghdr>) -> [SetElement] {
        guard isMessage(message, NFT_MSG_NEWSETELEM) else { return [] }
        let object = nftnl_set_alloc()!
        defer { nftnl_set_free(object) }
        guard terminated(message, { elementsAreReadable($0) ? nftnl_set_elems_nlmsg_parse($0, object) : -1 }) >= 0 else { return [] }
        var elements: [SetElement] = []
        let iterator = nftnl_set_elems_iter_create(object)!
        defer { nftnl_set_elems_iter_destroy(iterator) }
        while let item = nftnl_set_elems_iter_next(iterator) {
            var length: UInt32 = 0
            guard let key = nftnl_set_elem_get(item, UInt16(NFTNL_SET_ELEM_KEY), &length) else { continue }
            var element = SetElement(key: Array(UnsafeRawBufferPointer(start: key, count: Int(length))))
            if let data = nftnl_set_elem_get(item, UInt16(NFTNL_SET_ELEM_DATA), &length) {
                element.value = .bytes(Array(UnsafeRawBufferPointer(start: data, count: Int(length))))
            } else if nftnl_set_elem_get(item, UInt16(NFTNL_SET_ELEM_VERDICT), &length) != nil {
                let code = Int32(bitPattern: nftnl_set_elem_get_u32(item, UInt16(NFTNL_SET_ELEM_VERDICT)))
                let chain = nftnl_set_elem_get_str(item, UInt16(NFTNL_SET_ELEM_CHAIN)).map { String(cString: $0) }
                element.value = Verdict(code: code, chain: chain).map { .verdict($0) }
            }
            elements.append(element)
        }
        return elements
    }

    static func rule(_ message: UnsafePointer<nlmsghdr>, in table: Table) -> NFTablesSession.InstalledRule? {
        guard isMessage(message, NFT_MSG_NEWRULE) else { return nil }
        let object = nftnl_rule_alloc()!
        defer { nftnl_rule_free(object) }
        guard terminated(message, { expressionsAreNamed($0) ? nftnl_rule_nlmsg_parse($0, object) : -1 }) >= 0,
              text(nftnl_rule_get_str(object, UInt16(NFTNL_RULE_TABLE.rawValue))) == table.name,
              let chain = text(nftnl_rule_get_str(object, UInt16(NFTNL_RULE_CHAIN.rawValue))) else { return nil }
        var kinds: [String] = []
        let iterator = nftnl_expr_iter_create(object)!
        defer { nftnl_expr_iter_destroy(iterator) }
        while let expression = nftnl_expr_iter_next(iterator) {
            kinds.append(text(nftnl_expr_get_str(expression, UInt16(NFTNL_EXPR_NAME))) ?? "")
        }
        return NFTablesSession.InstalledRule(
            chain: chain,
            handle: nftnl_rule_get_u64(object, UInt16(NFTNL_RULE_HANDLE.rawValue)), expressionKinds: kinds)
    }
}

/// A parser of nf_tables dump answers as bytes: everything the session's reader would take
/// from one datagram, each message read as every kind of object. For tools that read saved
/// dumps, and for fuzzing the reader without a kernel.
public enum NFTablesDump {
    public struct Objects: Sendable {
        public var tables: [Table] = []
        public var chains: [Chain] = []
        public var sets: [NFTablesSession.InstalledSet] = []
        public var elements: [SetElement] = []
        public var rules: [NFTablesSession.InstalledRule] = []
    }

    /// Walks the datagram's messages as the session does (stopping at the first one whose
    /// length does not fit), reading chains and rules as if `table` had been asked for.
    public static func parse(_ datagram: UnsafeRawBufferPointer, table: Table) -> Objects {
        var objects = Objects()
        guard let base = datagram.baseAddress else { return objects }
        var remaining = datagram.count
        var cursor = base
        while NetlinkMessages.fits(cursor, remaining: remaining) {
            let message = UnsafePointer(cursor.assumingMemoryBound(to: nlmsghdr.self))
            if let found = DumpReader.table(message) { objects.tables.append(found) }
            if let found = DumpReader.chain(message, in: table) { objects.chains.append(found) }
            if let found = DumpReader.set(message) { objects.sets.append(found) }
            objects.elements += DumpReader.elements(message)
            if let found = DumpReader.rule(message, in: table) { objects.rules.append(found) }
            let step = NetlinkMessages.advance(cursor, remaining: remaining)
            cursor += step
            remaining -= step
        }
        return objects
    }
}
