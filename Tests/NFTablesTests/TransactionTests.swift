import Foundation
import Netlink
import NFTables
import Testing
import TestSupport

/// nf_tables through libnftnl, against the kernel, each test in a namespace of its own.
@Suite struct TransactionTests {
    let table = Table(.inet, "nctest")

    /// A small firewall in the shapes netctl uses: sets, concatenated maps, base chains,
    /// lookups, DNAT through a map, marks and masquerade.
    func sampleRuleset() -> Transaction {
        let transaction = Transaction()
        transaction.add(table)
        transaction.add(SetDefinition("bridges", key: [.ifname]), to: table)
        transaction.add(SetDefinition("same", key: [.ifname, .ifname]), to: table)
        transaction.add(SetDefinition("pub4", key: [.inetProtocol, .ipv4Address, .inetService],
                                      data: .values([.ipv4Address, .inetService])), to: table)
        transaction.add(SetDefinition("dispatch", key: [.ifname], data: .verdict), to: table)
        transaction.add(Chain("publish"), to: table)
        transaction.add(Chain("prerouting", base: .init(.nat, hook: .prerouting, priority: Chain.Priority.dstnat)), to: table)
        transaction.add(Chain("forward", base: .init(.filter, hook: .forward, priority: Chain.Priority.filter)), to: table)
        transaction.add(Chain("postrouting", base: .init(.nat, hook: .postrouting, priority: Chain.Priority.srcnat)), to: table)
        transaction.add(Rule("publish", Match.addressIsLocal(source: true) + Match.setMark(0x0010_0000)), to: table)
        transaction.add(Rule("publish", Match.nfproto(.ip) + [
            .meta(.l4proto, into: .r1),
            .payload(.network, offset: 16, length: 4, into: .word(1)),
            .payload(.transport, offset: 2, length: 2, into: .word(2)),
            .lookup(set: "pub4", key: .r1, into: .r1),
            .nat(.destination, family: .ip, address: .r1, port: .word(1)),
        ]), to: table)
        transaction.add(Rule("prerouting", Match.addressIsLocal(source: false) + [.verdict(.jump("publish"))]), to: table)
        transaction.add(Rule("forward", Match.destinationNATted() + [.verdict(.accept)]), to: table)
        transaction.add(Rule("forward", Match.interfacePair(in: "same") + [.verdict(.accept)]), to: table)
        transaction.add(Rule("forward", Match.interfaceName(input: true, in: "bridges")
                             + Match.interfaceName(input: false, in: "bridges") + [.verdict(.drop)]), to: table)
        transaction.add(Rule("postrouting", Match.markHas(0x0010_0000) + [.masquerade]), to: table)
        return transaction
    }

    @Test func ruleset_isInstalledWhole_andNftReadsIt() throws {
        try withTestNamespace { namespace in
            let session = try NFTablesSession(in: namespace.namespace)
            try session.commit(sampleRuleset())

            #expect(try session.exists(table))
            #expect(try session.tables().contains(table))
            let chains = try session.chains(in: table)
            #expect(Set(chains.map(\.name)) == ["publish", "prerouting", "forward", "postrouting"])
            #expect(chains.first { $0.name == "prerouting" }?.base?.priority == -100)
            let sets = try session.sets(in: table)
            #expect(sets.first { $0.name == "pub4" }?.keyLength == 12)
            #expect(sets.first { $0.name == "pub4" }?.dataLength == 8)
            let rules = try session.rules(in: table)
            #expect(rules.count == 7)
            #expect(rules.first { $0.chain == "postrouting" }?.expressionKinds == ["meta", "bitwise", "cmp", "masq"])

            // The real nft reads it back, with the types and statements netctl meant.
            let text = try namespace.run(["nft", "list", "table", "inet", "nctest"])
            #expect(text.status == 0, "\(text.stderr)")
            #expect(text.stdout.contains("type inet_proto . ipv4_addr . inet_service : ipv4_addr . inet_service"))
            #expect(text.stdout.contains("type ifname : verdict"))
            #expect(text.stdout.contains("dnat ip to meta l4proto . ip daddr . th dport map @pub4"))
            #expect(text.stdout.contains("fib daddr type local jump publish"))
            #expect(text.stdout.contains("iifname . oifname @same accept"))
            #expect(text.stdout.contains("masquerade"))
            let json = try namespace.run(["nft", "-j", "list", "ruleset"])
            #expect(json.status == 0 && json.stderr.isEmpty, "\(json.stderr)")
            #expect(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) is [String: Any])
        }
    }

    @Test func elements_addAndDelete_andReadBack() throws {
        try withTestNamespace { namespace in
            let session = try NFTablesSession(in: namespace.namespace)
            try session.commit(sampleRuleset())
            let elements = (0..<5000).map { index -> SetElement in
                var key = Concatenation()
                key.append([6])
                key.append([198, 18, 0, 1])
                key.append(Concatenation.port(UInt16(10000 + index)))
                var value = Concatenation()
                value.append([198, 18, 1, 2])
                value.append(Concatenation.port(80))
                return SetElement(key: key.bytes, value: .bytes(value.bytes))
            }
            let add = Transaction()
            add.add(elements, toSet: "pub4", in: table, exclusive: true)
            add.add([SetElement(key: Concatenation.ifname("br0"), value: .verdict(.jump("publish")))], toSet: "dispatch", in: table)
            try session.commit(add)
            let installed = try session.elements(ofSet: "pub4", in: table)
            #expect(installed.count == 5000)
            #expect(Set(installed) == Set(elements))
            #expect(try session.elements(ofSet: "dispatch", in: table) ==
                    [SetElement(key: Concatenation.ifname("br0"), value: .verdict(.jump("publish")))])

            let remove = Transaction()
            remove.delete(Array(elements[0..<4000]), fromSet: "pub4", in: table)
            try session.commit(remove)
            #expect(Set(try session.elements(ofSet: "pub4", in: table)) == Set(elements[4000...]))
        }
    }

    @Test func failingMessage_abortsTheWholeBatch_andNamesIt() throws {
        try withTestNamespace { namespace in
            let session = try NFTablesSession(in: namespace.namespace)
            try session.commit(sampleRuleset())
            let before = try namespace.run(["nft", "list", "ruleset"]).stdout

            let transaction = Transaction()
            transaction.add(SetDefinition("extra", key: [.ifname]), to: table)
            transaction.add([SetElement(key: Concatenation.ifname("br0"))], toSet: "bridges", in: table)
            transaction.delete([SetElement(key: Concatenation.ifname("absent"))], fromSet: "same", in: table)
            let error = try #require(throws: NetlinkError.self) { try session.commit(transaction) }
            #expect(error.errno == ENOENT || error.errno == EINVAL)
            #expect(error.description.contains("set inet nctest same"))
            #expect(try namespace.run(["nft", "list", "ruleset"]).stdout == before)
        }
    }

    @Test func deletingTheTable_removesEverything() throws {
        try withTestNamespace { namespace in
            let session = try NFTablesSession(in: namespace.namespace)
            try session.commit(sampleRuleset())
            let transaction = Transaction()
            transaction.delete(table)
            try session.commit(transaction)
            #expect(try !session.exists(table))
            #expect(try namespace.run(["nft", "list", "ruleset"]).stdout.isEmpty)
        }
    }
}
