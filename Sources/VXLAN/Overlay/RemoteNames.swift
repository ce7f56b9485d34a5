import CNM
import DNS
import Glibc

/// The names of an overlay's endpoints on other hosts, as this host's resolver serves them:
/// `ROOT/dns/networks/NETID.remote`, beside the table CNM keeps of this host's own endpoints
/// (`NETID`). One code path for both writers: the agent, on every change of a peer table it
/// acts on, and a connect on a host whose agent is not running, from the peers it read to
/// program the kernel.
///
///     netctl-dns 1 network red
///     - 198.19.100.3 - b 3f2a9c1d7e40 db        (name, short id, alias; no sandbox here)
///
/// A running resolver is told to reread (`sync(start: false)`); none is started for names
/// of other hosts: it serves only when a local container needs it, and then reads this
/// file with the others.
public struct RemoteNames: Sendable {
    public let tables: ResolverTables
    let control: ResolverControl

    public init(root: String) {
        tables = ResolverTables(root: root)
        // Never started from here; named as CNM names it (`netctl agent` is the netctl
        // binary, so netctl-dns is next to it).
        control = ResolverControl(root: root, executable: ResolverControl.executableNextToSelf())
    }

    /// The table of `peers` (endpoints of network `name` on other hosts) as the resolver
    /// reads it, in a stable order so that an unchanged peer table gives the same text; nil
    /// when none of them has a name and an address.
    public static func table(network name: String, peers: some Sequence<PeerRecord>) -> NetworkTable? {
        let records = peers.compactMap { peer -> NameRecord? in
            let names = servable(peer.names)
            let ipv4 = peer.ipv4.map { $0.address.description }, ipv6 = peer.ipv6.map { $0.address.description }
            guard !names.isEmpty, ipv4 != nil || ipv6 != nil else { return nil }
            return NameRecord(names: names, ipv4: ipv4, ipv6: ipv6, sandbox: nil)
        }.sorted { ($0.names[0], $0.ipv4 ?? "", $0.ipv6 ?? "") < ($1.names[0], $1.ipv4 ?? "", $1.ipv6 ?? "") }
        return records.isEmpty ? nil : NetworkTable(name: name, records: records)
    }

    /// Makes `NETID.remote` list `peers`: written when its content changes, removed when no
    /// peer is left; a running resolver then rereads. Returns whether the file changed.
    @discardableResult
    public func update(_ network: NetworkRecord, peers: some Sequence<PeerRecord>) throws -> Bool {
        guard let table = Self.table(network: network.name, peers: peers) else { return try remove(network: network.id) }
        // A damaged or unreadable file is rewritten.
        if (try? tables.network(network.id, remote: true)) == table { return false }
        try tables.write(network: network.id, table, remote: true)
        try control.sync(start: false)
        return true
    }

    /// Removes `NETID.remote` (the network is gone, or this host has no part in it any more).
    @discardableResult
    public func remove(network id: String) throws -> Bool {
        guard access(tables.paths.network(id, remote: true), F_OK) == 0 else { return false }
        tables.removeNetwork(id, remote: true)
        try control.sync(start: false)
        return true
    }

    /// The networks that have a remote table, by id.
    public func networks() -> [String] {
        tables.names(in: tables.paths.networks).filter { $0.hasSuffix(".remote") }.map { String($0.dropLast(".remote".count)) }
    }

    /// The names of a peer that a table can carry. They come from other hosts through the
    /// cluster store: one that is not a DNS name (a space or a newline would break the
    /// table's lines) is left out, not trusted.
    static func servable(_ names: [String]) -> [String] {
        var seen = Set<String>()
        return names.map { $0.lowercased() }.filter { name in
            name.utf8.count <= 253 && !name.hasPrefix(".") && !name.hasSuffix(".") && !name.contains("..")
                && name.utf8.allSatisfy { (0x61...0x7a).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2d || $0 == 0x5f || $0 == 0x2e }
                && !name.isEmpty && seen.insert(name).inserted
        }
    }
}

extension Sequence<PeerRecord> {
    /// The endpoints that this host programs and names: those of other hosts whose agents
    /// are alive (a dead host's endpoints cannot be reached, so they are not answered for).
    func remote(from node: String, alive: Set<String>) -> [PeerRecord] {
        filter { $0.node != node && alive.contains($0.node) }
    }
}
