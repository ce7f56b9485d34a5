@testable import CNM
import Netlink
import Testing

@Suite("IPAM")
struct IPAMTests {
    let pool = AddressPoolConfig(subnet: IPNetwork(cidr: "198.18.0.0/24")!, gateway: IPAddress("198.18.0.1"),
                                 auxiliaryAddresses: ["printer": IPAddress("198.18.0.2")!])

    @Test func lowestFreeSkippingNetworkGatewayAuxAndUsed() throws {
        let used = [IPAddress("198.18.0.3")!: "a"]
        let got = try AddressAllocator.allocate(in: pool, used: used, requested: nil, network: "web")
        #expect(got.description == "198.18.0.4/24")
    }

    @Test func requestedAddressMustBeFreeInsideAndNotReserved() throws {
        let used = [IPAddress("198.18.0.9")!: "a"]
        #expect(try AddressAllocator.allocate(in: pool, used: used, requested: IPAddress("198.18.0.10"), network: "web").description == "198.18.0.10/24")
        #expect(throws: CNMError.self) { try AddressAllocator.allocate(in: pool, used: used, requested: IPAddress("198.18.0.9"), network: "web") }
        #expect(throws: CNMError.self) { try AddressAllocator.allocate(in: pool, used: used, requested: IPAddress("198.18.0.1"), network: "web") }
        #expect(throws: CNMError.self) { try AddressAllocator.allocate(in: pool, used: used, requested: IPAddress("198.18.0.255"), network: "web") }
        #expect(throws: CNMError.self) { try AddressAllocator.allocate(in: pool, used: used, requested: IPAddress("198.18.1.1"), network: "web") }
    }

    @Test func ipRangeBoundsDynamicAllocationAndExhausts() throws {
        var ranged = pool
        ranged.ipRange = IPNetwork(cidr: "198.18.0.252/30")
        var used: [IPAddress: String] = [:]
        var handed: [String] = []
        for _ in 0..<3 {
            let address = try AddressAllocator.allocate(in: ranged, used: used, requested: nil, network: "web")
            used[address.address] = "x"
            handed.append(address.address.description)
        }
        // .255 is the broadcast address of the /24.
        #expect(handed == ["198.18.0.252", "198.18.0.253", "198.18.0.254"])
        let error = try #require(throws: CNMError.self) { try AddressAllocator.allocate(in: ranged, used: used, requested: nil, network: "web") }
        #expect(error.description == "network \"web\": no free IPv4 address in 198.18.0.252/30")
    }

    @Test func ipv6SkipsTheSubnetRouterAnycastAddress() throws {
        let v6 = AddressPoolConfig(subnet: IPNetwork(cidr: "2001:db8::/64")!, gateway: IPAddress("2001:db8::1"))
        #expect(try AddressAllocator.allocate(in: v6, used: [:], requested: nil, network: "web").description == "2001:db8::2/64")
    }

    @Test func subnetsComeFromThePoolsAvoidingTakenOnes() throws {
        let pools = try DefaultAddressPool.parseList("base=198.18.0.0/16,size=24 base=2001:db8::/48,size=64")
        let taken = [IPNetwork(cidr: "198.18.0.0/23")!, IPNetwork(cidr: "198.18.3.0/24")!]
        #expect(AddressAllocator.chooseSubnet(from: pools, ipv4: true, avoiding: taken)?.description == "198.18.2.0/24")
        #expect(AddressAllocator.chooseSubnet(from: pools, ipv4: false, avoiding: [])?.description == "2001:db8::/64")
        let full = try DefaultAddressPool.parseList("base=198.18.0.0/24,size=24")
        #expect(AddressAllocator.chooseSubnet(from: full, ipv4: true, avoiding: [IPNetwork(cidr: "198.18.0.0/16")!]) == nil)
    }

    @Test func badPoolsAreRefused() {
        for text in ["base=198.18.0.0/16", "base=198.18.0.0/16,size=8", "base=banana,size=24", "size=24", "base=198.18.0.1/16,size=24"] {
            #expect(throws: CNMError.self, "\(text)") { try DefaultAddressPool.parse(text) }
        }
    }
}
