import Netlink
import TestSupport
import Testing
import Glibc

@Suite("Links in a real namespace")
struct LinkTests {
    @Test func bridgeIsCreatedUpWithMTUAndDeleted() throws {
        try withTestNamespace { ns in
            let session = try ns.session()
            try session.linkAdd(LinkSpec(name: "br-t", kind: .bridge, mtu: 1400, up: true))
            let bridge = try #require(try session.link(.name("br-t")))
            #expect(bridge.kind == "bridge")
            #expect(bridge.mtu == 1400)
            #expect(bridge.isUp)
            try session.linkDelete(.name("br-t"))
            #expect(try session.link(.name("br-t")) == nil)
        }
    }

    @Test func vethPeerIsBornInTheOtherNamespaceAndHostEndIsEnslaved() throws {
        try withTestNamespaces(2) { ns in
            let (host, sandbox) = (ns[0], ns[1])
            let session = try host.session()
            try session.linkAdd(LinkSpec(name: "br-t", kind: .bridge, up: true))
            let bridge = try session.index(of: .name("br-t"))
            let mac = MACAddress("02:42:c6:12:00:07")!
            try session.linkAdd(LinkSpec(
                name: "vh-t", kind: .veth(peer: VethPeer(name: "eth0", namespace: sandbox.namespace, mac: mac)),
                master: bridge, up: true))

            let hostEnd = try #require(try session.link(.name("vh-t")))
            #expect(hostEnd.masterIndex == bridge)
            #expect(hostEnd.isUp)
            #expect(try session.link(.name("eth0")) == nil)

            let inside = try #require(try sandbox.session().link(.name("eth0")))
            #expect(inside.kind == "veth")
            #expect(inside.mac == mac)
            #expect(!inside.isUp)

            // Deleting one end takes the other with it.
            try session.linkDelete(.name("vh-t"))
            #expect(try sandbox.session().link(.name("eth0")) == nil)
        }
    }

    @Test func macvlanModesAreCreatedOnANamedParent() throws {
        try withTestNamespace { ns in
            let session = try ns.session()
            try session.linkAdd(LinkSpec(name: "up0", kind: .veth(peer: VethPeer(name: "up1")), up: true))
            for (index, mode) in [MacvlanMode.bridge, .private, .vepa].enumerated() {
                try session.linkAdd(LinkSpec(name: "mv\(index)", kind: .macvlan(parent: .name("up0"), mode: mode)))
                let link = try #require(try session.link(.name("mv\(index)")))
                #expect(link.kind == "macvlan")
                #expect(link.macvlanMode == mode)
                #expect(link.parentIndex == (try session.index(of: .name("up0"))))
            }
            // passthru takes the parent whole, so it must be alone on it.
            try session.linkAdd(LinkSpec(name: "pt0", kind: .macvlan(parent: .name("up1"), mode: .passthru)))
            #expect(try session.link(.name("pt0"))?.macvlanMode == .passthru)
        }
    }

    @Test func vxlanCarriesItsOptions() throws {
        try withTestNamespace { ns in
            let session = try ns.session()
            try session.linkAdd(LinkSpec(name: "und0", kind: .bridge, up: true))
            let options = VXLANOptions(vni: 4242, local: IPAddress("198.18.9.1"), group: IPAddress("198.18.9.2"),
                                       underlay: .name("und0"), port: 4789, learning: false, proxy: true, ttl: 16)
            try session.linkAdd(LinkSpec(name: "vx0", kind: .vxlan(options), mtu: 1450))
            let link = try #require(try session.link(.name("vx0")))
            #expect(link.kind == "vxlan")
            #expect(link.mtu == 1450)
            let got = try #require(link.vxlan)
            #expect(got.vni == 4242)
            #expect(got.local == IPAddress("198.18.9.1"))
            #expect(got.group == IPAddress("198.18.9.2"))
            #expect(got.port == 4789)
            #expect(got.learning == false)
            #expect(got.proxy == true)
            #expect(got.ttl == 16)
            #expect(got.underlay == .index(try session.index(of: .name("und0"))))
        }
    }

    @Test func setRenamesMovesAndChangesAttributes() throws {
        try withTestNamespaces(2) { ns in
            let session = try ns[0].session()
            try session.linkAdd(LinkSpec(name: "d0", kind: .veth(peer: VethPeer(name: "d0p"))))
            let index = try session.index(of: .name("d0"))
            let mac = MACAddress("02:00:c6:12:00:01")!
            try session.linkSet(.index(index), up: true, mtu: 1300, mac: mac, name: "d1", alias: "netctl test")
            let link = try #require(try session.link(.index(index)))
            #expect(link.name == "d1")
            #expect(link.mtu == 1300)
            #expect(link.mac == mac)
            #expect(link.isUp)
            #expect(link.alias == "netctl test")

            try session.linkSet(.name("d1"), namespace: ns[1].namespace)
            #expect(try session.link(.name("d1")) == nil)
            #expect(try ns[1].session().link(.name("d1")) != nil)
        }
    }

    @Test func kernelErrorsNameTheOperationObjectAndErrno() throws {
        try withTestNamespace { ns in
            let session = try ns.session()
            try session.linkAdd(LinkSpec(name: "dup0", kind: .bridge))
            let error = try #require(throws: NetlinkError.self) {
                try session.linkAdd(LinkSpec(name: "dup0", kind: .bridge))
            }
            #expect(error.errno == EEXIST)
            #expect(error.description.hasPrefix("link add dup0: File exists"))

            let missing = try #require(throws: NetlinkError.self) {
                try session.linkAdd(LinkSpec(name: "mvx", kind: .macvlan(parent: .name("nope0"), mode: .bridge)))
            }
            #expect(missing.errno == ENODEV)
            #expect(missing.description.contains("nope0"))
        }
    }

    @Test func extendedAckTextIsCarried() throws {
        try withTestNamespace { ns in
            let session = try ns.session()
            // A veth peer name longer than IFNAMSIZ is refused with a kernel message.
            let error = try #require(throws: NetlinkError.self) {
                try session.linkAdd(LinkSpec(name: "ok0", kind: .bridge, mtu: 10))
            }
            #expect(error.errno == EINVAL)
            #expect(error.kernelMessage?.isEmpty == false)
        }
    }

    @Test func listReturnsEveryLink() throws {
        try withTestNamespace { ns in
            let session = try ns.session()
            for name in ["l0", "l1", "l2"] { try session.linkAdd(LinkSpec(name: name, kind: .bridge)) }
            let names = Set(try session.links().map(\.name))
            #expect(names == ["lo", "l0", "l1", "l2"])
        }
    }
}
