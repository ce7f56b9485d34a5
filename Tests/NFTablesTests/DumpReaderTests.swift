import Netlink
import NFTables
import Testing

/// The reader of nf_tables dumps takes from a datagram only whole messages of the kind it
/// reads (found by Fuzz/Sources/FuzzNFTables).
@Suite struct DumpReaderTests {
    /// NFT_MSG_NEWTABLE for `inet netctl-fuzz` as the kernel sends it: nlmsghdr, nfgenmsg,
    /// NFTA_TABLE_NAME, NFTA_TABLE_FLAGS, NFTA_TABLE_USE, NFTA_TABLE_HANDLE.
    static let table: [UInt8] = [
        0x40, 0, 0, 0, 0x00, 0x0a, 0x02, 0, 1, 0, 0, 0, 0xd5, 0x02, 0, 0,
        0x01, 0, 0, 0x02,
        0x10, 0, 0x01, 0, 0x6e, 0x65, 0x74, 0x63, 0x74, 0x6c, 0x2d, 0x66, 0x75, 0x7a, 0x7a, 0,
        0x08, 0, 0x02, 0, 0, 0, 0, 0,
        0x08, 0, 0x03, 0, 0, 0, 0, 0x07,
        0x0c, 0, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
    ]

    static func parse(_ bytes: [UInt8]) -> NFTablesDump.Objects {
        bytes.withUnsafeBytes { NFTablesDump.parse($0, table: Table(.inet, "netctl-fuzz")) }
    }

    /// libnftnl reads a table message handed to it as a chain, finds NFTA_CHAIN_USE
    /// where NFTA_TABLE_USE is and exits the process ("nf_tables kernel ABI is broken").
    @Test func readsEachMessageOnlyAsItsOwnKind() {
        let objects = Self.parse(Self.table)
        #expect(objects.tables == [Table(.inet, "netctl-fuzz")])
        #expect(objects.chains.isEmpty && objects.sets.isEmpty && objects.rules.isEmpty && objects.elements.isEmpty)
    }

    /// A table, set, chain or rule message without its name: libnftnl's getters answer
    /// NULL for it, which `String(cString:)` trapped on.
    @Test func skipsObjectsWithoutTheirNames() {
        // NFT_MSG_NEWTABLE, inet, no attributes.
        let table: [UInt8] = [20, 0, 0, 0, 0x00, 0x0a, 0x02, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0x01, 0, 0, 0]
        // NFT_MSG_NEWSET, inet, NFTA_SET_TABLE "netctl-fuzz" and no NFTA_SET_NAME.
        let set: [UInt8] = [36, 0, 0, 0, 0x09, 0x0a, 0x02, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0x01, 0, 0, 0,
                            0x10, 0, 0x01, 0, 0x6e, 0x65, 0x74, 0x63, 0x74, 0x6c, 0x2d, 0x66, 0x75, 0x7a, 0x7a, 0]
        // NFT_MSG_NEWCHAIN and NFT_MSG_NEWRULE in table "netctl-fuzz", with no chain name.
        var chain = set
        chain[4] = 0x03
        var rule = set
        rule[4] = 0x06
        let objects = Self.parse(table + set + chain + rule + Self.table)
        #expect(objects.tables == [Table(.inet, "netctl-fuzz")])
        #expect(objects.sets.isEmpty && objects.chains.isEmpty && objects.rules.isEmpty)
    }

    /// A rule whose expression lost its name (here, an NFTA_EXPR_NAME longer than its
    /// expression, which the walk stops at): libnftnl 1.2 dereferenced the missing name.
    @Test func skipsRulesWithAnExpressionWithoutAName() {
        func rule(nameLength: UInt8) -> [UInt8] {
            // NFT_MSG_NEWRULE: nfgenmsg (inet), NFTA_RULE_TABLE "netctl-fuzz", NFTA_RULE_CHAIN "c",
            // NFTA_RULE_EXPRESSIONS { NFTA_LIST_ELEM { NFTA_EXPR_NAME "counter" } }.
            let expressions: [UInt8] = [20, 0, 0x04, 0x80, 16, 0, 0x01, 0x80, nameLength, 0, 0x01, 0, 0x63, 0x6f, 0x75, 0x6e, 0x74, 0x65, 0x72, 0]
            let body: [UInt8] = [0x01, 0, 0, 0, 0x10, 0, 0x01, 0, 0x6e, 0x65, 0x74, 0x63, 0x74, 0x6c, 0x2d, 0x66, 0x75, 0x7a, 0x7a, 0,
                                 6, 0, 0x02, 0, 0x63, 0, 0, 0] + expressions
            return [UInt8(16 + body.count), 0, 0, 0, 0x06, 0x0a, 0x02, 0, 1, 0, 0, 0, 0, 0, 0, 0] + body
        }
        let objects = Self.parse(rule(nameLength: 0x74) + rule(nameLength: 12))
        #expect(objects.rules.map(\.expressionKinds) == [["counter"]])
        #expect(objects.rules.first?.chain == "c")
    }

    /// A netlink attribute: length, type, payload, padding to 4.
    static func attribute(_ type: UInt16, _ payload: [UInt8]) -> [UInt8] {
        let length = UInt16(4 + payload.count)
        return [UInt8(length & 0xff), UInt8(length >> 8), UInt8(type & 0xff), UInt8(type >> 8)] + payload
            + [UInt8](repeating: 0, count: (4 - payload.count % 4) % 4)
    }

    /// A map element whose verdict jumps without naming the chain: libnftnl 1.2 read the
    /// missing chain through a wild pointer. The message is skipped; a whole one is read.
    @Test func skipsSetElementsWithAJumpToNoChain() {
        func elements(chain: [UInt8]) -> [UInt8] {
            // NFT_MSG_NEWSETELEM: nfgenmsg (inet), table, set, ELEMENTS { ELEM { KEY { VALUE "a" }, DATA { VERDICT { CODE jump, CHAIN } } } }.
            let verdict = Self.attribute(0x8002, Self.attribute(1, [0xff, 0xff, 0xff, 0xfd]) + chain)
            let element = Self.attribute(0x8001, Self.attribute(0x8001, Self.attribute(1, [0x61, 0])) + Self.attribute(0x8002, verdict))
            let body = [0x01, 0, 0, 0] + Self.attribute(1, Array("netctl-fuzz".utf8) + [0]) + Self.attribute(2, [0x6d, 0])
                + Self.attribute(0x8003, element)
            return [UInt8(16 + body.count), 0, 0, 0, 0x0c, 0x0a, 0x02, 0, 1, 0, 0, 0, 0, 0, 0, 0] + body
        }
        let objects = Self.parse(elements(chain: []) + elements(chain: Self.attribute(2, Array("from_a".utf8) + [0])))
        #expect(objects.elements.map(\.key) == [[0x61, 0]])
        #expect(objects.elements.first?.value == .verdict(.jump("from_a")))
    }

    /// An element attribute of a type above NFTA_SET_ELEM_MAX but not above NFTA_SET_MAX:
    /// libnftnl 1.2 stored it past its table on the stack. The message is skipped.
    @Test func skipsSetElementsWithAttributesLibnftnlDoesNotKnow() {
        func elements(extraType: UInt16) -> [UInt8] {
            // NFT_MSG_NEWSETELEM: nfgenmsg (inet), table, set, ELEMENTS { ELEM { KEY { VALUE "a" }, type extraType } }.
            let element = Self.attribute(0x8001, Self.attribute(0x8001, Self.attribute(1, [0x61, 0])) + Self.attribute(extraType, [0, 0, 0, 1]))
            let body = [0x01, 0, 0, 0] + Self.attribute(1, Array("netctl-fuzz".utf8) + [0]) + Self.attribute(2, [0x6d, 0])
                + Self.attribute(0x8003, element)
            return [UInt8(16 + body.count), 0, 0, 0, 0x0c, 0x0a, 0x02, 0, 1, 0, 0, 0, 0, 0, 0, 0] + body
        }
        // NFTA_SET_ELEM_FLAGS (3) is read; 16 is skipped with its message.
        #expect(Self.parse(elements(extraType: 16) + elements(extraType: 3)).elements.map(\.key) == [[0x61, 0]])
    }

    /// libmnl walks a message's attributes up to its length aligned to 4: an expression
    /// list that ends in those last three bytes was parsed by libnftnl but not checked.
    @Test func checksWhatLibnftnlWalksToTheAlignedEnd() {
        // NFT_MSG_NEWRULE: table, chain "c", NFTA_RULE_EXPRESSIONS { NFTA_LIST_ELEM { NFTA_EXPR_DATA {} } }
        // (no name), with nlmsg_len 3 bytes short of the list's end.
        let body = [0x01, 0, 0, 0] + Self.attribute(1, Array("netctl-fuzz".utf8) + [0]) + Self.attribute(2, [0x63, 0])
            + Self.attribute(0x8004, Self.attribute(0x8001, Self.attribute(0x8002, [])))
        let rule = [UInt8(16 + body.count - 3), 0, 0, 0, 0x06, 0x0a, 0x02, 0, 1, 0, 0, 0, 0, 0, 0, 0] + body
        let objects = Self.parse(rule + Self.table)
        #expect(objects.rules.isEmpty && objects.tables == [Table(.inet, "netctl-fuzz")])
    }

    /// A set element's expression without a name (NFTA_SET_ELEM_EXPR, or one of
    /// NFTA_SET_ELEM_EXPRESSIONS): libnftnl 1.2 dereferenced the missing name, as for rules.
    @Test func skipsSetElementsWithAnExpressionWithoutAName() {
        func elements(_ expressions: [UInt8]) -> [UInt8] {
            // NFT_MSG_NEWSETELEM: nfgenmsg (inet), table, set, ELEMENTS { ELEM { KEY { VALUE "a" }, expressions } }.
            let element = Self.attribute(0x8001, Self.attribute(0x8001, Self.attribute(1, [0x61, 0])) + expressions)
            let body = [0x01, 0, 0, 0] + Self.attribute(1, Array("netctl-fuzz".utf8) + [0]) + Self.attribute(2, [0x6d, 0])
                + Self.attribute(0x8003, element)
            return [UInt8(16 + body.count), 0, 0, 0, 0x0c, 0x0a, 0x02, 0, 1, 0, 0, 0, 0, 0, 0, 0] + body
        }
        let nameless = Self.attribute(0x8002, [0, 0, 0, 0])  // NFTA_EXPR_DATA only
        let counter = Self.attribute(1, Array("counter".utf8) + [0])
        let datagram = elements(Self.attribute(0x8007, nameless))
            + elements(Self.attribute(0x800b, Self.attribute(0x8001, counter) + Self.attribute(0x8001, nameless)))
            + elements(Self.attribute(0x8007, counter))
        #expect(Self.parse(datagram).elements.map(\.key) == [[0x61, 0]])
    }

    /// A set's expression without a name (NFTA_SET_EXPR, or one of NFTA_SET_EXPRESSIONS):
    /// libnftnl 1.2 dereferenced the missing name, as for rules and elements.
    @Test func skipsSetsWithAnExpressionWithoutAName() {
        func set(_ expressions: [UInt8]) -> [UInt8] {
            // NFT_MSG_NEWSET: nfgenmsg (inet), NFTA_SET_TABLE, NFTA_SET_NAME "m", expressions.
            let body = [0x01, 0, 0, 0] + Self.attribute(1, Array("netctl-fuzz".utf8) + [0]) + Self.attribute(2, [0x6d, 0]) + expressions
            return [UInt8(16 + body.count), 0, 0, 0, 0x09, 0x0a, 0x02, 0, 1, 0, 0, 0, 0, 0, 0, 0] + body
        }
        let nameless = Self.attribute(0x8002, [0, 0, 0, 0])  // NFTA_EXPR_DATA only
        let counter = Self.attribute(1, Array("counter".utf8) + [0])
        let datagram = set(Self.attribute(0x8011, nameless))
            + set(Self.attribute(0x8012, Self.attribute(0x8001, counter) + Self.attribute(0x8001, nameless)))
            + set(Self.attribute(0x8011, counter))
        #expect(Self.parse(datagram).sets.map(\.name) == ["m"])
    }

    /// A chain whose table name, its message's last attribute, has no NUL: libnftnl
    /// strdup()ed it on into the next message. It reads as the attribute's bytes.
    @Test func readsAStringWithoutItsNulUpToTheMessageEnd() {
        // NFT_MSG_NEWCHAIN: nfgenmsg (inet), NFTA_CHAIN_NAME "c", NFTA_CHAIN_TABLE "abcd" (no NUL).
        let body = [0x01, 0, 0, 0] + Self.attribute(3, [0x63, 0]) + Self.attribute(1, Array("abcd".utf8))
        let chain = [UInt8(16 + body.count), 0, 0, 0, 0x03, 0x0a, 0x02, 0, 1, 0, 0, 0, 0, 0, 0, 0] + body
        let objects = (chain + Self.table).withUnsafeBytes { NFTablesDump.parse($0, table: Table(.inet, "abcd")) }
        #expect(objects.chains.map(\.name) == ["c"])
    }

    /// libmnl's mnl_nlmsg_ok compares a length of 2 GiB or more as a negative int, and
    /// mnl_nlmsg_next then stepped 4 GiB past the datagram.
    @Test func stopsAtAMessageLongerThanTheDatagram() {
        var bytes = Self.table + Self.table
        bytes.replaceSubrange(64..<68, with: [0x74, 0xfe, 0xff, 0xff])
        #expect(Self.parse(bytes).tables == [Table(.inet, "netctl-fuzz")])
        #expect(bytes.withUnsafeBytes { NetlinkMessages.fits($0.baseAddress! + 64, remaining: 64) } == false)
    }
}
