import Glibc
import Netlink
import TestSupport
import Testing

/// The exact bytes of requests, frozen after the kernel accepted them (the kernel tests run
/// the same encoders). A change here changes what goes on the wire: check it on purpose.
@Suite("Golden request bytes")
struct GoldenTests {
    private func bytes(_ body: (NetlinkSession) throws -> Void) rethrows -> String {
        let socket = RecordingSocket()
        try body(NetlinkSession(socket: socket))
        return socket.lastHex
    }

    @Test func bridgeAdd() throws {
        // ip link add br-g mtu 1400 up type bridge
        let hex = try bytes { try $0.linkAdd(LinkSpec(name: "br-g", kind: .bridge, mtu: 1400, up: true)) }
        #expect(hex == "44000000100005060100000000000000000000000000000001000000010000000900030062722d67000000000800040078050000100012800b0001006272696467650000")
    }

    @Test func vethIntoIndexedMaster() throws {
        // ip link add vh-g master 7 up type veth peer name eth0 address 02:42:c6:12:00:02 mtu 1500
        let hex = try bytes {
            try $0.linkAdd(LinkSpec(name: "vh-g", kind: .veth(peer: VethPeer(name: "eth0", mac: MACAddress("02:42:c6:12:00:02"), mtu: 1500)),
                                    master: 7, up: true))
        }
        #expect(hex == "7c000000100005060100000000000000000000000000000001000000010000000900030076682d670000000008000a00070000004800128009000100766574680000000038000280340001800000000000000000000000000000000009000300657468300000000008000400dc0500000a0001000242c61200020000")
    }

    @Test func addressAndDefaultRoute() throws {
        // ip addr add 198.18.0.2/24 brd 198.18.0.255 dev 3; ip route add default via 198.18.0.1 dev 3
        let hex = try bytes { session in
            let request = session.batch()
            session.addAddressAdd(IPNetwork(cidr: "198.18.0.2/24")!, interface: 3, to: request)
            session.addRouteAdd(Route(gateway: IPAddress("198.18.0.1"), interfaceIndex: 3), to: request)
            try session.execute(request)
        }
        #expect(hex == "30000000140005060100000000000000021800000300000008000200c612000208000100c612000208000400c61200ff2c00000018000506020000000000000002000000fe0300010000000008000500c61200010800040003000000")
    }

    @Test func ipv6AddressWithoutDAD() throws {
        // ip addr add 2001:db8::2/64 dev 3 nodad
        let hex = try bytes { try $0.addressAdd(IPNetwork(cidr: "2001:db8::2/64")!, interface: 3) }
        #expect(hex == "480000001400050601000000000000000a400200030000001400020020010db80000000000000000000000021400010020010db80000000000000000000000020800080002000000")
    }

    @Test func vxlanFDBAppend() throws {
        // bridge fdb append 00:00:00:00:00:00 dev 5 dst 198.18.1.2 self permanent
        let hex = try bytes {
            try $0.fdbAdd(FDBEntry(mac: MACAddress("00:00:00:00:00:00")!, interfaceIndex: 5, destination: IPAddress("198.18.1.2")))
        }
        #expect(hex == "300000001c00050c01000000000000000700000005000000c00002000a000200000000000000000008000100c6120102")
    }

    @Test func linkDeleteByName() throws {
        // ip link del nc-veth01234567
        let hex = try bytes { try $0.linkDelete(.name("nc-veth01234567")) }
        #expect(hex == "3400000011000500010000000000000000000000000000000000000000000000140003006e632d76657468303132333435363700")
    }

    @Test func permanentNeighbourReplace() throws {
        // ip neigh replace 198.18.100.3 lladdr 02:42:c6:12:64:03 dev 5 nud permanent
        let hex = try bytes {
            try $0.neighbourAdd(Neighbour(address: IPAddress("198.18.100.3")!, mac: MACAddress("02:42:c6:12:64:03"), interfaceIndex: 5))
        }
        #expect(hex == "300000001c000505010000000000000002000000050000008000000008000100c61264030a0002000242c61264030000")
    }

    @Test func staleOverlayPeerDeletedInOneBatch() throws {
        // bridge fdb del 02:42:c6:12:64:63 dev 5 dst 198.18.0.2 self; ip neigh del 198.18.100.99 dev 5
        let hex = try bytes { session in
            let request = session.batch()
            session.addFDBDelete(FDBEntry(mac: MACAddress("02:42:c6:12:64:63")!, interfaceIndex: 5, destination: IPAddress("198.18.0.2")),
                                 tolerating: [ENOENT], to: request)
            session.addNeighbourDelete(Neighbour(address: IPAddress("198.18.100.99")!, mac: nil, interfaceIndex: 5),
                                       tolerating: [ENOENT], to: request)
            try session.execute(request)
        }
        #expect(hex == "300000001d00050001000000000000000700000005000000c00002000a0002000242c6126463000008000100c6120002240000001d000500020000000000000002000000050000008000000008000100c6126463")
    }
}
