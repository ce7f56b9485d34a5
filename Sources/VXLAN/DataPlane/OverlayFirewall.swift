import CNM
import NFTables
import Netlink

/// VXLAN traffic of this host's VTEP, kept out of conntrack. Once the gateway bridge's NAT
/// chains are in the host namespace, the kernel follows every flow through it, the VXLAN
/// packets between VTEPs too, for nothing: they are never NATed, and a reply is never the
/// reverse of a request (each side picks its source port from the inner flow's hash). A
/// table of the overlay's own, with the host's first overlay and gone with its last:
///
///     table inet netctl-overlay-ROOT {
///       chain untrack_in  { type filter hook prerouting priority raw; ip daddr VTEP udp dport PORT counter notrack }
///       chain untrack_out { type filter hook output priority raw; ip saddr VTEP udp dport PORT counter notrack }
///     }
public enum OverlayFirewall {
    public static func table(root: String) -> Table { Table(.inet, "netctl-overlay-" + root.prefix(16)) }

    /// Makes the table if it is not there.
    public static func ensure(host: HostContext, vtep: IPAddress, port: UInt16) throws {
        let session = try host.nftables()
        let table = table(root: host.rootID)
        guard try !session.exists(table) else { return }
        let transaction = Transaction()
        transaction.add(table)
        transaction.add(Chain("untrack_in", base: .init(.filter, hook: .prerouting, priority: Chain.Priority.raw)), to: table)
        transaction.add(Chain("untrack_out", base: .init(.filter, hook: .output, priority: Chain.Priority.raw)), to: table)
        for (chain, addressOffset) in [("untrack_in", UInt32(16)), ("untrack_out", UInt32(12))] {
            transaction.add(Rule(chain, Match.nfproto(.ip) + [
                .payload(.network, offset: addressOffset, length: 4, into: .r1),
                .compare(.equal, .r1, vtep.bytes),
                .meta(.l4proto, into: .r1),
                .compare(.equal, .r1, [17]),
                .payload(.transport, offset: 2, length: 2, into: .r1),
                .compare(.equal, .r1, Concatenation.port(port)),
                .counter, .notrack,
            ]), to: table)
        }
        try session.commit(transaction)
    }

    /// Removes the table (this root's last overlay left the host).
    public static func remove(host: HostContext) throws {
        let session = try host.nftables()
        let table = table(root: host.rootID)
        guard try session.exists(table) else { return }
        let transaction = Transaction()
        transaction.delete(table)
        try session.commit(transaction)
    }
}
