import Netlink
import TestSupport
import Testing
import Glibc

@Suite("Addresses, routes, neighbours and FDB in a real namespace")
struct AddressRouteNeighbourTests {
    @Test func addressesOfBothFamiliesAreAddedListedAndDeleted() throws {
        try withTestNamespace { ns in
            let session = try ns.session()
            try session.linkAdd(LinkSpec(name: "a0", kind: .bridge, up: true))
            let index = try session.index(of: .name("a0"))
            let v4 = IPNetwork(cidr: "198.18.3.1/24")!, v6 = IPNetwork(cidr: "2001:db8:3::1/64")!
            try session.addressAdd(v4, interface: index)
            try session.addressAdd(v6, interface: index)
            let listed = try session.addresses(interface: index).map(\.network)
            #expect(listed.contains(v4))
            #expect(listed.contains(v6))
            #expect(try session.addresses(interface: index, family: AF_INET6).first { $0.network == v6 }?.isTentative == false)

            try session.addressDelete(v4, interface: index)
            #expect(!(try session.addresses(interface: index).map(\.network).contains(v4)))
        }
    }

    @Test func routesIncludingDefaultAreAddedAndDeleted() throws {
        try withTestNamespace { ns in
            let session = try ns.session()
            try session.linkAdd(LinkSpec(name: "r0", kind: .bridge, up: true))
            let index = try session.index(of: .name("r0"))
            try session.addressAdd(IPNetwork(cidr: "198.18.4.2/24")!, interface: index)
            let gateway = IPAddress("198.18.4.1")!
            let defaultRoute = Route(gateway: gateway, interfaceIndex: index)
            let subnetRoute = Route(destination: IPNetwork(cidr: "198.19.0.0/16"), gateway: gateway, interfaceIndex: index)
            try session.routeAdd(defaultRoute)
            try session.routeAdd(subnetRoute)
            try session.routeAdd(defaultRoute, tolerateExisting: true)
            #expect(throws: NetlinkError.self) { try session.routeAdd(defaultRoute) }

            let routes = try session.routes(table: Route.mainTable)
            #expect(routes.contains { $0.isDefault && $0.gateway == gateway && $0.interfaceIndex == index })
            #expect(routes.contains { $0.destination == IPNetwork(cidr: "198.19.0.0/16") && $0.gateway == gateway })

            try session.routeDelete(defaultRoute)
            #expect(!(try session.routes(table: Route.mainTable)).contains { $0.isDefault })
        }
    }

    @Test func ipv6DefaultRoute() throws {
        try withTestNamespace { ns in
            let session = try ns.session()
            try session.linkAdd(LinkSpec(name: "r6", kind: .bridge, up: true))
            let index = try session.index(of: .name("r6"))
            try session.addressAdd(IPNetwork(cidr: "2001:db8:4::2/64")!, interface: index)
            try session.routeAdd(Route(gateway: IPAddress("2001:db8:4::1"), interfaceIndex: index))
            #expect(try session.routes(family: AF_INET6, table: Route.mainTable)
                .contains { $0.isDefault && $0.gateway == IPAddress("2001:db8:4::1") })
        }
    }

    @Test func permanentNeighboursAreAddedAndDeleted() throws {
        try withTestNamespace { ns in
            let session = try ns.session()
            try session.linkAdd(LinkSpec(name: "n0", kind: .bridge, up: true))
            let index = try session.index(of: .name("n0"))
            let entry = Neighbour(address: IPAddress("198.18.5.9")!, mac: MACAddress("02:42:c6:12:05:09"), interfaceIndex: index)
            try session.neighbourAdd(entry)
            #expect(try session.neighbours(interface: index).contains(entry))
            try session.neighbourDelete(entry)
            #expect(!(try session.neighbours(interface: index)).contains { $0.address == entry.address })
        }
    }

    @Test func vxlanFDBEntriesPointAtRemoteVTEPs() throws {
        try withTestNamespace { ns in
            let session = try ns.session()
            try session.linkAdd(LinkSpec(name: "u0", kind: .bridge, up: true))
            try session.linkAdd(LinkSpec(name: "vx1", kind: .vxlan(VXLANOptions(vni: 7, local: IPAddress("198.18.6.1"), underlay: .name("u0")))))
            let index = try session.index(of: .name("vx1"))
            let mac = MACAddress("02:42:c6:12:06:02")!
            let remote = FDBEntry(mac: mac, interfaceIndex: index, destination: IPAddress("198.18.6.2"))
            let flood = FDBEntry(mac: MACAddress("00:00:00:00:00:00")!, interfaceIndex: index, destination: IPAddress("198.18.6.3"))
            try session.fdbAdd(remote)
            try session.fdbAdd(flood)
            let entries = try session.fdbEntries(interface: index)
            #expect(entries.contains { $0.mac == mac && $0.destination == IPAddress("198.18.6.2") })
            #expect(entries.contains { $0.mac == flood.mac && $0.destination == IPAddress("198.18.6.3") })
            try session.fdbDelete(remote)
            #expect(!(try session.fdbEntries(interface: index)).contains { $0.mac == mac })
        }
    }
}
