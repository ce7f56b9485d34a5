import Netlink
import Testing

@Suite("IP addresses and networks")
struct AddressingTests {
    @Test func parsesAndFormatsBothFamilies() {
        #expect(IPAddress("198.18.0.1")?.description == "198.18.0.1")
        #expect(IPAddress("2001:db8:0::1")?.description == "2001:db8::1")
        #expect(IPAddress("198.18.0.256") == nil)
        #expect(IPAddress("banana") == nil)
        #expect(IPAddress("198.18.0.1")?.bytes == [198, 18, 0, 1])
    }

    @Test func cidrArithmetic() throws {
        let net = try #require(IPNetwork(cidr: "198.18.0.0/15"))
        #expect(net.isSubnet)
        #expect(net.last == IPAddress("198.19.255.255"))
        #expect(net.contains(IPAddress("198.19.1.1")!))
        #expect(!net.contains(IPAddress("198.20.0.0")!))
        #expect(net.overlaps(IPNetwork(cidr: "198.19.4.0/24")!))
        #expect(!net.overlaps(IPNetwork(cidr: "198.20.0.0/24")!))
        #expect(IPNetwork(cidr: "198.18.0.5/24")?.isSubnet == false)
        #expect(IPNetwork(cidr: "198.18.0.5/24")?.masked.description == "198.18.0.0/24")
        #expect(IPNetwork(cidr: "198.18.0.0/33") == nil)
        #expect(IPNetwork(cidr: "198.18.0.0/+8") == nil)
        let v6 = try #require(IPNetwork(cidr: "2001:db8::/64"))
        #expect(v6.size == UInt128(1) << 64)
        #expect(v6.contains(IPAddress("2001:db8::ffff")!))
        #expect(!v6.contains(IPAddress("198.18.0.1")!))
    }

    @Test func macFromIPv4IsDockers() {
        #expect(MACAddress(derivedFrom: IPAddress("198.18.0.2")!).description == "02:42:c6:12:00:02")
        #expect(MACAddress("02:42:C6:12:00:02")?.description == "02:42:c6:12:00:02")
        #expect(MACAddress("02:42:c6:12:00") == nil)
    }
}
