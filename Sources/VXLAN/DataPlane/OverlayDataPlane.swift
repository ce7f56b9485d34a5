import CNetlink
import Netlink

/// The kernel side of an overlay network on one host, as Docker's overlay driver builds it.
///
/// Per overlay network, a namespace of its own holds per subnet a bridge `br<i>` with the
/// subnet's gateway and a VTEP `vxlan<i>` as its port. The VTEP is created by a session in
/// the host namespace and moved into the overlay namespace in the same request, so its UDP
/// socket is bound in the host namespace (where the underlay is) while its frames are
/// bridged in the overlay's. Learning is off and the VTEP answers ARP/ND itself (`proxy`)
/// from its neighbour table: every remote endpoint is a static FDB entry and a neighbour
/// entry (`program`), and no frame is ever flooded to all VTEPs. Subnets are routed between
/// inside the overlay namespace.
///
///     host ns:     eth0 (underlay, VTEP address)   UDP :4789 socket of each vxlan<i>
///     overlay ns:  br0 (gateway 0) ── vxlan0 (VNI 0), veth ends of subnet 0's endpoints
///                  br1 (gateway 1) ── vxlan1 (VNI 1), …          ip_forward=1
///     sandbox ns:  eth0 (endpoint address, routes to the other subnets via its gateway)
public enum OverlayDataPlane {
    /// The bytes VXLAN adds over IPv4: outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14).
    public static let ipv4Overhead: UInt32 = 50

    /// MTU for an overlay on an IPv4 underlay link: underlay MTU − 50, so a full-size inner
    /// packet fills the underlay's without fragmenting.
    public static func mtu(underlayMTU: UInt32) -> UInt32 {
        underlayMTU > ipv4Overhead ? underlayMTU - ipv4Overhead : 0
    }

    /// Whether the overlay's namespace is there (complete or not: `ensure` completes it).
    public static func exists(_ plan: OverlayPlan) -> Bool {
        NetworkNamespace.exists(named: plan.namespace)
    }

    // MARK: Building

    /// Creates the namespace and its devices if missing. Idempotent: an existing, complete
    /// network is left alone; a partial one (a crash halfway, a device deleted by hand) is
    /// completed; a VTEP whose VNI, port or address differs from the plan is made again
    /// (its FDB goes with it: `program` refills it). A new namespace gets its name only
    /// once it is complete, so a process killed halfway never leaves a named half; on a
    /// failure, what this call made is removed.
    ///
    /// `host` is a session in the namespace whose underlay carries the VTEPs' UDP. Callers
    /// serialize `ensure` and `remove` of one network (the state root's lock does).
    public static func ensure(_ plan: OverlayPlan, host: NetlinkSession) throws {
        try plan.validate()
        if NetworkNamespace.exists(named: plan.namespace) {
            if let namespace = try? NetworkNamespace.open(named: plan.namespace) {
                let session: NetlinkSession
                do { session = try NetlinkSession(in: namespace) } catch {
                    throw DataPlaneError("overlay namespace \"\(plan.namespace)\": \(error)")
                }
                try complete(plan, namespace: namespace, session: session, host: host, fresh: false)
                return
            }
            // The empty placeholder of a creation killed before its mount: made anew.
            try? NetworkNamespace.remove(named: plan.namespace)
        }
        do {
            // ip netns add NS; everything below runs inside it before the name appears.
            try NetworkNamespace.create(named: plan.namespace) { session in
                try complete(plan, namespace: try NetworkNamespace.current(), session: session, host: host, fresh: true)
            }
        } catch let error as DataPlaneError {
            throw error
        } catch {
            throw DataPlaneError("overlay namespace \"\(plan.namespace)\": \(error)")
        }
    }

    /// Removes the overlay network from this host: the namespace, with its bridges, VTEPs
    /// and the veths of endpoints still attached (their sandbox ends go with them). The
    /// VTEPs are deleted first and explicitly: the kernel frees a namespace later, on a work
    /// queue, and until then their VNIs and UDP port would stay taken in the host namespace.
    public static func remove(_ plan: OverlayPlan) throws {
        guard NetworkNamespace.exists(named: plan.namespace) else { return }
        do {
            // A placeholder left by a crash before its mount has no devices to delete.
            if let namespace = try? NetworkNamespace.open(named: plan.namespace) {
                let session = try NetlinkSession(in: namespace)
                let request = session.batch()
                for link in try session.links() where link.kind == "vxlan" {
                    // ip link del vxlanI
                    session.addLinkDelete(.index(link.index), tolerating: [ENODEV], to: request)
                }
                try session.execute(request)
            }
            // ip netns del NS
            try NetworkNamespace.remove(named: plan.namespace)
        } catch {
            throw DataPlaneError("overlay namespace \"\(plan.namespace)\": remove: \(error)")
        }
    }

    /// Builds what is missing of `plan` inside `namespace`, whose session is `session`. A
    /// namespace that was there before (not `fresh`) must carry the plan's marker: ours get
    /// it before their name, so one without it is someone else's and is left alone.
    private static func complete(_ plan: OverlayPlan, namespace: NetworkNamespace, session: NetlinkSession,
                                 host: NetlinkSession, fresh: Bool) throws {
        var made: [String] = []
        do {
            let links = Dictionary(try session.links().map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
            if !fresh, links["lo"]?.alias != plan.marker {
                throw DataPlaneError("overlay namespace \"\(plan.namespace)\": exists marked "
                    + "\(links["lo"]?.alias.map { "\"\($0)\"" } ?? "by nothing"); expected \"\(plan.marker)\" (not an overlay's namespace?)")
            }
            // ip link set lo up alias MARK
            if links["lo"]?.alias != plan.marker || links["lo"]?.isUp != true {
                try session.linkSet(.name("lo"), up: true, alias: plan.marker)
            }
            // sysctl -w net.ipv4.ip_forward=1 (net.ipv6.conf.all.forwarding=1): br0 ↔ br1.
            for family in Set(plan.subnets.map(\.subnet.isIPv4)) {
                let key = family ? "net/ipv4/ip_forward" : "net/ipv6/conf/all/forwarding"
                if try namespace.perform({ try Sysctl.read(key) }) != "1" { try namespace.setSysctl(key, "1") }
            }
            for (index, subnet) in plan.subnets.enumerated() {
                let bridge = try ensureBridge(index, subnet, plan, links: links, session: session, made: &made)
                try ensureVTEP(index, subnet, plan, bridge: bridge, links: links, namespace: namespace,
                               session: session, host: host, made: &made)
            }
        } catch {
            // The VTEPs first, for their VNIs (see `remove`); a new namespace takes the rest.
            let request = session.batch()
            for name in made.reversed() { session.addLinkDelete(.name(name), tolerating: [ENODEV], to: request) }
            try? session.execute(request)
            if let error = error as? DataPlaneError { throw error }
            throw DataPlaneError("overlay namespace \"\(plan.namespace)\": \(error)")
        }
    }

    /// `br<i>` with the gateway address, up, at the plan's MTU; its index.
    private static func ensureBridge(_ index: Int, _ subnet: OverlaySubnetPlan, _ plan: OverlayPlan,
                                     links: [String: Link], session: NetlinkSession, made: inout [String]) throws -> Int32 {
        let name = OverlayPlan.bridgeName(index)
        let bridge: Int32
        if let existing = links[name] {
            guard existing.kind == "bridge" else {
                throw DataPlaneError("overlay namespace \"\(plan.namespace)\": \(name) is a \(existing.kind ?? "device"); expected a bridge")
            }
            bridge = existing.index
            if !existing.isUp || existing.mtu != plan.mtu {
                try session.linkSet(.index(bridge), up: true, mtu: plan.mtu)
            }
        } else {
            // ip link add brI address RANDOM mtu MTU up type bridge. A MAC of its own, set
            // explicitly, so it neither follows its lowest port as veths come and go (the
            // gateway's MAC would change under the sandboxes' ARP caches) nor equals another
            // host's bridge (a routed frame from it would look like the bridge's own).
            try session.linkAdd(LinkSpec(name: name, kind: .bridge, mtu: plan.mtu, mac: .random(), up: true))
            made.append(name)
            bridge = try session.index(of: .name(name))
        }
        let gateway = subnet.subnet.with(address: subnet.gateway)
        let present = try session.addresses(interface: bridge, family: subnet.subnet.family).map(\.network)
        if !present.contains(gateway) {
            // ip addr add GATEWAY/PREFIX dev brI
            try session.addressAdd(gateway, interface: bridge)
        }
        return bridge
    }

    /// `vxlan<i>` as the plan says, a port of `bridge`, up.
    private static func ensureVTEP(_ index: Int, _ subnet: OverlaySubnetPlan, _ plan: OverlayPlan, bridge: Int32,
                                   links: [String: Link], namespace: NetworkNamespace, session: NetlinkSession,
                                   host: NetlinkSession, made: inout [String]) throws {
        let name = OverlayPlan.vxlanName(index)
        let options = VXLANOptions(vni: subnet.vni, local: plan.vtep, port: plan.port, learning: false, proxy: true)
        if let existing = links[name] {
            if existing.kind == "vxlan", let current = existing.vxlan, current.vni == options.vni,
               current.port == options.port, current.local == options.local, !current.learning, current.proxy {
                if existing.masterIndex != bridge || !existing.isUp || existing.mtu != plan.mtu {
                    // ip link set vxlanI master brI mtu MTU up
                    try session.linkSet(.index(existing.index), up: true, mtu: plan.mtu, master: bridge)
                }
                return
            }
            // ip link del vxlanI: not the VTEP the plan asks for.
            try session.linkDelete(.index(existing.index))
        }
        // ip link add vxlanI netns NS mtu MTU type vxlan id VNI local VTEP dstport PORT nolearning proxy
        // (sent in the host namespace: the UDP socket stays there).
        do {
            try host.linkAdd(LinkSpec(name: name, kind: .vxlan(options), mtu: plan.mtu, namespace: namespace))
        } catch let error as NetlinkError where error.errno == EEXIST {
            throw DataPlaneError("overlay namespace \"\(plan.namespace)\": VNI \(subnet.vni) on UDP port \(plan.port) "
                + "is taken by another VXLAN device of this host (\(error)); expected a VNI of this network alone")
        }
        made.append(name)
        // ip link set vxlanI master brI up
        try session.linkSet(.name(name), up: true, master: bridge)
    }

    // MARK: Endpoints

    /// Attaches an endpoint: a veth whose `hostEnd` is a port of the subnet's bridge and whose
    /// other end is born in `sandbox` (created there, not moved: one RCU wait fewer), with
    /// its MAC, address, routes to the overlay's other subnets via its gateway, and a default
    /// route if asked. On a failure the veth is deleted.
    public static func attach(_ attachment: OverlayAttachment, plan: OverlayPlan, sandbox: NetworkNamespace) throws {
        let subject = "overlay namespace \"\(plan.namespace)\": endpoint \(attachment.hostEnd)"
        guard plan.subnets.indices.contains(attachment.subnetIndex) else {
            throw DataPlaneError("\(subject): subnet index \(attachment.subnetIndex); expected 0 to \(plan.subnets.count - 1)")
        }
        let subnet = plan.subnets[attachment.subnetIndex]
        guard subnet.subnet.contains(attachment.address.address),
              attachment.address.prefixLength == subnet.subnet.prefixLength else {
            throw DataPlaneError("\(subject): address \(attachment.address); expected one in \(subnet.subnet)")
        }
        for name in [attachment.hostEnd, attachment.sandboxInterface]
        where name.isEmpty || name.utf8.count > maximumInterfaceNameLength {
            throw DataPlaneError("\(subject): interface name \"\(name)\"; expected 1 to \(maximumInterfaceNameLength) bytes")
        }
        let session: NetlinkSession
        let bridge: Int32
        do {
            session = try NetlinkSession(in: try open(plan))
            bridge = try session.index(of: .name(OverlayPlan.bridgeName(attachment.subnetIndex)))
            // ip link add HOSTEND mtu MTU master brI up type veth peer name IF netns SANDBOX address MAC mtu MTU
            let peer = VethPeer(name: attachment.sandboxInterface, namespace: sandbox, mac: attachment.mac, mtu: plan.mtu)
            try session.linkAdd(LinkSpec(name: attachment.hostEnd, kind: .veth(peer: peer), mtu: plan.mtu,
                                         master: bridge, up: true))
        } catch {
            throw DataPlaneError("\(subject): \(error)")
        }
        do {
            let inside = try NetlinkSession(in: sandbox)
            let interface = try inside.index(of: .name(attachment.sandboxInterface))
            let request = inside.batch()
            // ip link set IF up; ip addr add ADDRESS/PREFIX dev IF
            inside.addLinkSet(.index(interface), up: true, to: request)
            inside.addAddressAdd(attachment.address, interface: interface, to: request)
            // ip route add OTHER-SUBNET via GATEWAY dev IF, for each other subnet of its family.
            for (index, other) in plan.subnets.enumerated()
            where index != attachment.subnetIndex && other.subnet.isIPv4 == subnet.subnet.isIPv4 {
                inside.addRouteAdd(Route(destination: other.subnet.masked, gateway: subnet.gateway, interfaceIndex: interface),
                                   tolerateExisting: true, to: request)
            }
            if attachment.defaultRoute {
                // ip route add default via GATEWAY dev IF
                inside.addRouteAdd(Route(gateway: subnet.gateway, interfaceIndex: interface, family: subnet.subnet.family),
                                   to: request)
            }
            try inside.execute(request)
        } catch {
            try? session.linkDelete(.name(attachment.hostEnd))
            throw DataPlaneError("\(subject): \(error)")
        }
    }

    /// Detaches an endpoint: `ip link del HOSTEND` in the overlay namespace (its sandbox end
    /// goes with it). Detaching one already gone is no error.
    public static func detach(hostEnd: String, plan: OverlayPlan) throws {
        do {
            let session = try NetlinkSession(in: try open(plan))
            let request = session.batch()
            session.addLinkDelete(.name(hostEnd), tolerating: [ENODEV], to: request)
            try session.execute(request)
        } catch {
            throw DataPlaneError("overlay namespace \"\(plan.namespace)\": endpoint \(hostEnd): detach: \(error)")
        }
    }

    static func open(_ plan: OverlayPlan) throws -> NetworkNamespace {
        do {
            return try NetworkNamespace.open(named: plan.namespace)
        } catch {
            throw DataPlaneError("overlay namespace \"\(plan.namespace)\": \(error); expected one made by ensure")
        }
    }
}
