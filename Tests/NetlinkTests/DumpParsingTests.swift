import Glibc
import Netlink
import Testing

/// Answers a session's dump request with a datagram of the test's making, then NLMSG_DONE.
final class ReplayingSocket: NetlinkSocket {
    let datagram: [UInt8]
    var sequence: UInt32 = 0
    var answered = false

    init(_ datagram: [UInt8]) { self.datagram = datagram }

    func send(_ bytes: UnsafeRawBufferPointer) throws {
        sequence = bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self)
    }

    func receive(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var bytes = datagram
        if answered {
            bytes = [20, 0, 0, 0, 3, 0, 2, 0] + [0, 0, 0, 0] + [0, 0, 0, 0] + [0, 0, 0, 0]  // NLMSG_DONE, NLM_F_MULTI
        }
        answered = true
        bytes.withUnsafeBytes { buffer.copyMemory(from: $0) }
        buffer.storeBytes(of: sequence, toByteOffset: 8, as: UInt32.self)
        return bytes.count
    }
}

/// What the readers take from a datagram that does not hold together (found by
/// Fuzz/Sources/FuzzNetlink).
@Suite struct DumpParsingTests {
    /// RTM_NEWLINK for index 1, `lo`: nlmsghdr (sequence 1), ifinfomsg, IFLA_IFNAME.
    static let loopback: [UInt8] = [
        40, 0, 0, 0, 16, 0, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 4, 3, 1, 0, 0, 0, 0x49, 0, 1, 0, 0, 0, 0, 0,
        7, 0, 3, 0, 0x6c, 0x6f, 0, 0,
    ]

    /// libmnl's mnl_nlmsg_ok compares a length of 2 GiB or more as a negative int, so the
    /// walk took a message of 0xfffffe74 bytes and stepped 4 GiB past the datagram.
    @Test func stopsAtAMessageLongerThanTheDatagram() throws {
        var second = Self.loopback
        second.replaceSubrange(0..<4, with: [0x74, 0xfe, 0xff, 0xff])
        let session = NetlinkSession(socket: ReplayingSocket(Self.loopback + second))
        let links = try session.links()
        #expect(links.map(\.name) == ["lo"])
        #expect(links.first?.index == 1)
    }

    /// A route or an address whose prefix is longer than its address (33 bits of IPv4)
    /// trapped in IPNetwork's precondition; it is skipped, and the good one beside it read.
    @Test func skipsPrefixesLongerThanTheirAddress() throws {
        func route(prefix: UInt8) -> [UInt8] {
            // nlmsghdr (RTM_NEWROUTE, sequence 1), rtmsg (AF_INET, dst_len, table main), RTA_DST 198.18.0.0.
            [36, 0, 0, 0, 24, 0, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0,
             2, prefix, 0, 0, 254, 4, 0, 1, 0, 0, 0, 0,
             8, 0, 1, 0, 198, 18, 0, 0]
        }
        let routes = try NetlinkSession(socket: ReplayingSocket(route(prefix: 33) + route(prefix: 24))).routes()
        #expect(routes.map { $0.destination?.description } == ["198.18.0.0/24"])

        func address(prefix: UInt8) -> [UInt8] {
            // nlmsghdr (RTM_NEWADDR, sequence 1), ifaddrmsg (AF_INET, prefixlen, index 1), IFA_LOCAL 198.18.0.1.
            [32, 0, 0, 0, 20, 0, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0,
             2, prefix, 0, 0, 1, 0, 0, 0,
             8, 0, 2, 0, 198, 18, 0, 1]
        }
        let addresses = try NetlinkSession(socket: ReplayingSocket(address(prefix: 200) + address(prefix: 24))).addresses()
        #expect(addresses.map(\.network.description) == ["198.18.0.1/24"])
    }

    /// ifa_index is a u32 in ifaddrmsg; `Int32(_:)` trapped on one above Int32.max. It is
    /// read as the kernel's int ifindex, bit for bit.
    @Test func readsAnAddressInterfaceIndexBitForBit() throws {
        // nlmsghdr (RTM_NEWADDR, sequence 1), ifaddrmsg (AF_INET, /24, index 0x80000001), IFA_LOCAL 198.18.0.1.
        let message: [UInt8] = [32, 0, 0, 0, 20, 0, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0,
                                2, 24, 0, 0, 1, 0, 0, 0x80,
                                8, 0, 2, 0, 198, 18, 0, 1]
        let addresses = try NetlinkSession(socket: ReplayingSocket(message)).addresses()
        #expect(addresses.map(\.interfaceIndex) == [Int32(bitPattern: 0x8000_0001)])
    }

    /// An NLMSG_ERROR answering the dump with error Int32.min: negating it trapped; it is
    /// an error all the same.
    @Test func anErrorOfInt32MinIsAnError() throws {
        // nlmsghdr (NLMSG_ERROR, sequence 1), nlmsgerr { error 0x80000000, the request's header }.
        let message: [UInt8] = [36, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80] + [UInt8](repeating: 0, count: 16)
        let error = #expect(throws: NetlinkError.self) { try NetlinkSession(socket: ReplayingSocket(message)).links() }
        #expect(error?.errno == Int32.max)
    }

    /// An NLMSG_ERROR too short for its nlmsgerr was read past its end (and past the
    /// datagram); it is a protocol error. A link message too short for its ifinfomsg
    /// reads as zeros.
    @Test func truncatedMessagesAreNotReadPastTheirEnd() throws {
        let error: [UInt8] = [18, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]
        let refused = #expect(throws: NetlinkError.self) { try NetlinkSession(socket: ReplayingSocket(error)).links() }
        #expect(refused?.errno == EPROTO)
        let link: [UInt8] = [20, 0, 0, 0, 16, 0, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]
        let links = try NetlinkSession(socket: ReplayingSocket(link)).links()
        #expect(links.map(\.index) == [0] && links.map(\.isUp) == [false])
    }
}
