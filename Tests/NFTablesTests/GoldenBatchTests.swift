import Glibc
import Netlink
import NFTables
import Testing
import TestSupport

/// The exact bytes of nf_tables batches, sent through the kernel's own socket in a fresh
/// namespace (so each golden string is one the kernel accepted) and compared with what was
/// frozen. A change here changes what goes on the wire: check it on purpose.
@Suite struct GoldenBatchTests {
    private func batch(_ transaction: Transaction) throws -> String {
        try withTestNamespace { namespace in
            let socket = TeeSocket(try namespace.namespace.perform { try NFTablesSession.kernelSocket() })
            try NFTablesSession(socket: socket).commit(transaction)
            return hex(socket.sent.last ?? [])
        }
    }

    @Test func tableSetMapAndElements() throws {
        // nft add table inet g; nft add map inet g ports { type inet_proto . inet_service : ipv4_addr . inet_service; }
        // nft add element inet g ports { tcp . 8080 : 198.18.0.2 . 80 }
        let table = Table(.inet, "g")
        let transaction = Transaction()
        transaction.add(table)
        transaction.add(SetDefinition("ports", key: [.inetProtocol, .inetService], data: .values([.ipv4Address, .inetService])), to: table)
        var key = Concatenation(), value = Concatenation()
        key.append([6])
        key.append(Concatenation.port(8080))
        value.append([198, 18, 0, 2])
        value.append(Concatenation.port(80))
        transaction.add([SetElement(key: key.bytes, value: .bytes(value.bytes))], toSet: "ports", in: table)
        let got = try batch(transaction)
        #expect(got == Self.tableSetMapAndElements, "\(got)")
    }

    @Test func baseChainAndRule() throws {
        // nft add table ip g; nft add chain ip g post { type nat hook postrouting priority srcnat; }
        // nft add rule ip g post meta mark & 0x00100000 == 0x00100000 masquerade
        let table = Table(.ip, "g")
        let transaction = Transaction()
        transaction.add(table)
        transaction.add(Chain("post", base: .init(.nat, hook: .postrouting, priority: Chain.Priority.srcnat)), to: table)
        transaction.add(Rule("post", Match.markHas(0x0010_0000) + [.masquerade]), to: table)
        let got = try batch(transaction)
        #expect(got == Self.baseChainAndRule, "\(got)")
    }

    static let tableSetMapAndElements = "140000001000010001000000000000000000000a1c000000000a0504020000000000000001000000060001006700000058000000090a050403000000000000000100000006000100670000000a000200706f7274730000000800030000000008080004000000030d080005000000000808000600000001cd080007000000000808000a0000000003500000000c0a05040400000000000000010000000a000200706f72747300000006000100670000002800038024000180100001800c000100060000001f900000100002800c000100c612000200500000140000001100010005000000000000000000000a"
    static let baseChainAndRule = "140000001000010001000000000000000000000a1c000000000a050402000000000000000200000006000100670000004c000000030a0504030000000000000002000000060001006700000009000300706f73740000000014000480080001000000000408000200000000640800050000000001080007006e617400d4000000060a050c040000000000000002000000060001006700000009000200706f737400000000ac00048024000180090001006d657461000000001400028008000200000000030800010000000001440001800c0001006269747769736500340002800800010000000001080002000000000108000300000000040c00048008000100000010000c00058008000100000000002c00018008000100636d700020000280080001000000000108000200000000010c000380080001000000000014000180090001006d6173710000000004000280140000001100010005000000000000000000000a"
}
