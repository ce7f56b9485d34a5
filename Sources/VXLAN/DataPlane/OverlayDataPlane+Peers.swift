import CNetlink
import Netlink

extension OverlayDataPlane {
    /// Makes the overlay namespace's forwarding entries equal `peers`: per peer a static FDB
    /// entry and a permanent neighbour entry on `vxlan<subnetIndex>`,
    ///
    ///     bridge fdb append MAC dev vxlanI dst VTEP self permanent
    ///     ip neigh replace IP lladdr MAC dev vxlanI nud permanent
    ///
    /// Entries of peers no longer in the set are deleted, and so is any other FDB entry on a
    /// VTEP (an all-zeros flooding destination included: nothing floods). Entries already
    /// right are not touched, so a resync of unchanged peers costs two dumps and no write.
    /// A peer whose VTEP changed loses its old destination before it gets the new one, so
    /// its frames never go to both. Returns how many peers were added (or repaired) and how
    /// many removed. With `pruning` false, nothing is removed: a command that read the
    /// peers once (a connect) adds what it knows, and leaves removals to the agent, which
    /// sees every change in order; otherwise its read, stale by the time it writes, could
    /// undo what the agent had just added.
    @discardableResult
    public static func program(_ plan: OverlayPlan, peers: Set<OverlayPeer>, pruning: Bool = true) throws -> (added: Int, removed: Int) {
        let subject = "overlay namespace \"\(plan.namespace)\""
        for peer in peers {
            guard plan.subnets.indices.contains(peer.subnetIndex) else {
                throw DataPlaneError("\(subject): peer \(peer): subnet index \(peer.subnetIndex); expected 0 to \(plan.subnets.count - 1)")
            }
            guard plan.subnets[peer.subnetIndex].subnet.contains(peer.address) else {
                throw DataPlaneError("\(subject): peer \(peer): address not in subnet \(plan.subnets[peer.subnetIndex].subnet)")
            }
        }
        do {
            let session = try NetlinkSession(in: try open(plan))
            let installed = try InstalledEntries(plan, session: session)
            let vteps = installed.vteps

            let wantedFDB = Set(peers.map { FDBKey(interface: vteps[$0.subnetIndex], mac: $0.mac, vtep: $0.vtep) })
            let wantedNeighbours = Dictionary(peers.map { (NeighbourKey(interface: vteps[$0.subnetIndex], address: $0.address), $0.mac) },
                                              uniquingKeysWith: { first, _ in first })

            var writes: [(RequestBatch) -> Void] = []
            // Removals first: a MAC that moved to another VTEP must not go to both meanwhile.
            for key in installed.fdb.subtracting(wantedFDB) where pruning {
                // bridge fdb del MAC dev vxlanI dst VTEP self
                writes.append { session.addFDBDelete(key.entry, tolerating: [ENOENT], to: $0) }
            }
            for (key, _) in installed.neighbours where pruning && wantedNeighbours[key] == nil {
                // ip neigh del IP dev vxlanI
                writes.append { session.addNeighbourDelete(Neighbour(address: key.address, mac: nil, interfaceIndex: key.interface),
                                                           tolerating: [ENOENT], to: $0) }
            }
            for key in wantedFDB.subtracting(installed.fdb) {
                // bridge fdb append MAC dev vxlanI dst VTEP self permanent
                writes.append { session.addFDBAdd(key.entry, to: $0) }
            }
            for (key, mac) in wantedNeighbours where installed.neighbours[key] != mac {
                // ip neigh replace IP lladdr MAC dev vxlanI nud permanent
                writes.append { session.addNeighbourAdd(Neighbour(address: key.address, mac: mac, interfaceIndex: key.interface), to: $0) }
            }
            try execute(writes, session: session)

            let before = installed.peers(plan)
            return (added: peers.subtracting(before).count, removed: pruning ? before.subtracting(peers).count : 0)
        } catch let error as DataPlaneError {
            throw error
        } catch {
            throw DataPlaneError("\(subject): program peers: \(error)")
        }
    }

    /// The peers the kernel holds, read back from the FDB and neighbour dumps: a peer is a
    /// neighbour entry on a VTEP whose MAC has an FDB destination on the same VTEP.
    public static func installedPeers(_ plan: OverlayPlan) throws -> Set<OverlayPeer> {
        do {
            let session = try NetlinkSession(in: try open(plan))
            return try InstalledEntries(plan, session: session).peers(plan)
        } catch let error as DataPlaneError {
            throw error
        } catch {
            throw DataPlaneError("overlay namespace \"\(plan.namespace)\": read peers: \(error)")
        }
    }

    /// Requests per datagram. Each is acked into the socket's receive queue while the kernel
    /// works through the datagram; a queue overrun would lose acks, so it stays well below
    /// the default receive buffer's room.
    static let writesPerBatch = 64

    private static func execute(_ writes: [(RequestBatch) -> Void], session: NetlinkSession) throws {
        var start = 0
        while start < writes.count {
            let request = session.batch()
            for write in writes[start..<min(start + writesPerBatch, writes.count)] { write(request) }
            try session.execute(request)
            start += writesPerBatch
        }
    }
}

private struct FDBKey: Hashable {
    var interface: Int32
    var mac: MACAddress
    var vtep: IPAddress

    var entry: FDBEntry { FDBEntry(mac: mac, interfaceIndex: interface, destination: vtep) }

    /// A MAC on a VTEP, whatever its destinations.
    struct Owner: Hashable { var interface: Int32; var mac: MACAddress }
    var owner: Owner { Owner(interface: interface, mac: mac) }
}

private struct NeighbourKey: Hashable {
    var interface: Int32
    var address: IPAddress
}

/// The VTEPs of an overlay namespace and the forwarding entries on them, from one link
/// dump, one FDB dump and one neighbour dump.
private struct InstalledEntries {
    /// vxlan<i>'s index at i.
    var vteps: [Int32]
    var fdb: Set<FDBKey>
    var neighbours: [NeighbourKey: MACAddress]

    init(_ plan: OverlayPlan, session: NetlinkSession) throws {
        let links = try session.links()
        vteps = try plan.subnets.indices.map { index in
            let name = OverlayPlan.vxlanName(index)
            guard let link = links.first(where: { $0.name == name && $0.kind == "vxlan" }) else {
                throw DataPlaneError("overlay namespace \"\(plan.namespace)\": no VTEP \(name); expected one made by ensure")
            }
            return link.index
        }
        let ours = Set(vteps)
        // bridge fdb show: a VTEP's own entries (self) with a remote destination. The bridge's
        // entries for its VTEP port (master) carry none and are the bridge's business.
        fdb = Set(try session.fdbEntries().compactMap { entry in
            guard entry.onDevice, ours.contains(entry.interfaceIndex), let vtep = entry.destination else { return nil }
            return FDBKey(interface: entry.interfaceIndex, mac: entry.mac, vtep: vtep)
        })
        // ip neigh show nud permanent: the entries `program` writes. The kernel keeps entries
        // of its own on a VTEP (FAILED ones for the namespace's IPv6 multicast, say): those
        // are left to it, and a peer whose address has one gets a permanent entry over it.
        var neighbours: [NeighbourKey: MACAddress] = [:]
        for neighbour in try session.neighbours()
        where ours.contains(neighbour.interfaceIndex) && neighbour.state & Neighbour.permanent != 0 {
            guard let mac = neighbour.mac else { continue }
            neighbours[NeighbourKey(interface: neighbour.interfaceIndex, address: neighbour.address)] = mac
        }
        self.neighbours = neighbours
    }

    func peers(_ plan: OverlayPlan) -> Set<OverlayPeer> {
        var destinations: [FDBKey.Owner: [IPAddress]] = [:]
        for key in fdb { destinations[key.owner, default: []].append(key.vtep) }
        var result: Set<OverlayPeer> = []
        for (key, mac) in neighbours {
            guard let subnet = vteps.firstIndex(of: key.interface) else { continue }
            for vtep in destinations[FDBKey.Owner(interface: key.interface, mac: mac)] ?? [] {
                result.insert(OverlayPeer(mac: mac, address: key.address, vtep: vtep, subnetIndex: subnet))
            }
        }
        return result
    }
}
