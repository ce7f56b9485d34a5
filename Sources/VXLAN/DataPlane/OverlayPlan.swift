import Netlink

/// One subnet of an overlay network: its bridge `br<i>` carries the gateway, its VXLAN
/// device `vxlan<i>` carries the VNI.
public struct OverlaySubnetPlan: Sendable, Equatable {
    public var vni: UInt32
    public var subnet: IPNetwork
    public var gateway: IPAddress

    public init(vni: UInt32, subnet: IPNetwork, gateway: IPAddress) {
        self.vni = vni
        self.subnet = subnet
        self.gateway = gateway
    }
}

/// What one host builds for one overlay network: the network namespace that holds it, and
/// per subnet a bridge and a VTEP. The overlay driver and the agent derive it from the
/// cluster's records; the data plane only carries it out.
public struct OverlayPlan: Sendable, Equatable {
    /// The overlay namespace's name under /run/netns, unique machine-wide.
    public var namespace: String
    /// The alias put on the namespace's `lo`, so a reconcile can tell whose namespace it is.
    public var marker: String
    /// Subnet i becomes `br<i>` and `vxlan<i>`.
    public var subnets: [OverlaySubnetPlan]
    /// MTU of bridges, VTEPs and veths: the underlay's less the VXLAN overhead (`mtu(underlayMTU:)`).
    public var mtu: UInt32
    /// The VTEPs' UDP port, cluster-wide.
    public var port: UInt16
    /// This host's underlay address: the VTEPs' source, and what peers name as their `vtep`.
    public var vtep: IPAddress

    public init(namespace: String, marker: String, subnets: [OverlaySubnetPlan], mtu: UInt32,
                port: UInt16 = Overlay.defaultPort, vtep: IPAddress) {
        self.namespace = namespace
        self.marker = marker
        self.subnets = subnets
        self.mtu = mtu
        self.port = port
        self.vtep = vtep
    }

    /// The bridge of subnet `index` inside the overlay namespace.
    public static func bridgeName(_ index: Int) -> String { "br\(index)" }
    /// The VTEP of subnet `index` inside the overlay namespace.
    public static func vxlanName(_ index: Int) -> String { "vxlan\(index)" }

    /// The VNIs VXLAN can carry: 24 bits, 0 reserved.
    public static let vniRange: ClosedRange<UInt32> = 1...16_777_215

    /// Refuses a plan the kernel would half-build: checked before anything is made.
    func validate() throws {
        func fail(_ text: String) -> DataPlaneError { DataPlaneError("overlay namespace \"\(namespace)\": \(text)") }
        guard !namespace.isEmpty, namespace.utf8.count <= 255, !namespace.contains("/"), namespace != ".", namespace != ".." else {
            throw DataPlaneError("overlay namespace \"\(namespace)\": expected a name of 1 to 255 bytes without \"/\"")
        }
        guard !subnets.isEmpty else { throw fail("no subnets; expected at least one") }
        guard Self.vxlanName(subnets.count - 1).utf8.count <= maximumInterfaceNameLength else {
            throw fail("\(subnets.count) subnets; expected fewer")
        }
        guard (68...65_535).contains(mtu) else { throw fail("MTU \(mtu); expected 68 to 65535") }
        guard port != 0 else { throw fail("VXLAN port 0; expected 1 to 65535") }
        var vnis: Set<UInt32> = []
        for (index, subnet) in subnets.enumerated() {
            guard Self.vniRange.contains(subnet.vni) else {
                throw fail("subnet \(subnet.subnet): VNI \(subnet.vni) out of range; expected 1 to 16777215")
            }
            guard vnis.insert(subnet.vni).inserted else {
                throw fail("subnet \(subnet.subnet): VNI \(subnet.vni) is also another subnet's; expected one VNI per subnet")
            }
            guard subnet.subnet.contains(subnet.gateway), subnet.gateway.isIPv4 == subnet.subnet.isIPv4 else {
                throw fail("gateway \(subnet.gateway) is not in subnet \(subnet.subnet)")
            }
            for other in subnets[..<index] where other.subnet.overlaps(subnet.subnet) {
                throw fail("subnet \(subnet.subnet) overlaps subnet \(other.subnet)")
            }
        }
    }
}

/// One endpoint of this host on an overlay: a veth from the subnet's bridge into a sandbox.
public struct OverlayAttachment: Sendable, Equatable {
    /// The veth end that stays in the overlay namespace as a port of `br<subnetIndex>`.
    public var hostEnd: String
    /// The other end's name in the sandbox (`eth0`).
    public var sandboxInterface: String
    public var mac: MACAddress
    /// The endpoint's address with its subnet's prefix.
    public var address: IPNetwork
    public var subnetIndex: Int
    /// Also a default route via the subnet's gateway; routes to the overlay's other subnets
    /// are always added.
    public var defaultRoute: Bool

    public init(hostEnd: String, sandboxInterface: String, mac: MACAddress, address: IPNetwork,
                subnetIndex: Int, defaultRoute: Bool = false) {
        self.hostEnd = hostEnd
        self.sandboxInterface = sandboxInterface
        self.mac = mac
        self.address = address
        self.subnetIndex = subnetIndex
        self.defaultRoute = defaultRoute
    }
}

/// A remote endpoint: reached by sending frames for `mac` to the VTEP at `vtep`, and
/// answered for `address` by the local VTEP's ARP/ND proxy.
public struct OverlayPeer: Hashable, Sendable, CustomStringConvertible {
    public var mac: MACAddress
    public var address: IPAddress
    public var vtep: IPAddress
    public var subnetIndex: Int

    public init(mac: MACAddress, address: IPAddress, vtep: IPAddress, subnetIndex: Int) {
        self.mac = mac
        self.address = address
        self.vtep = vtep
        self.subnetIndex = subnetIndex
    }

    public var description: String { "\(address) \(mac) via \(vtep) on subnet \(subnetIndex)" }
}

/// A refused plan, attachment or peer, or a kernel failure in the middle of building one,
/// as one line naming the overlay namespace and the bad value.
public struct DataPlaneError: Error, CustomStringConvertible, Sendable {
    public var description: String

    public init(_ description: String) { self.description = description }
}
