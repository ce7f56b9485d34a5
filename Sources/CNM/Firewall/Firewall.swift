import Glibc
import Netlink
import NFTables

/// Port publishing, masquerade and isolation for bridge networks, in nf_tables tables of
/// this root's own (`inet netctl-ROOT` and `bridge netctl-ROOT`). The rules are fixed and
/// written once; networks, endpoints and published ports are elements of sets and maps, so
/// a change is a few elements added or deleted in one transaction, and the cost per packet
/// does not grow with the number of ports.
///
///     table inet netctl-ROOT {
///       chain publish {
///         iifname @bridges meta mark set meta mark | MARK ct mark set ct mark | MARK   # hairpin
///         meta nfproto ipv4 dnat ip to meta l4proto . ip daddr . th dport map @ports4
///         meta nfproto ipv4 dnat ip to meta l4proto . th dport map @ports4_any
///         (the same for ip6)
///       }
///       chain mark       { type filter hook prerouting priority mangle; ct mark & MARK != 0 meta mark set meta mark | MARK }
///       chain prerouting { type nat hook prerouting priority dstnat; fib daddr type local jump publish }
///       chain output     { type nat hook output priority dstnat; fib daddr type local jump publish }
///       chain forward {
///         type filter hook forward priority filter;
///         iifname . oifname @bridge_pairs accept                    # within one network
///         iifname @internal drop; oifname @internal drop            # --internal
///         ct status dnat accept                                     # published ports
///         iifname @bridges oifname @bridges drop                    # isolation
///         iifname @masquerade meta mark set meta mark | MARK        # outbound
///       }
///       chain postrouting {
///         type nat hook postrouting priority srcnat;
///         meta mark & MARK != 0 masquerade
///         ct status dnat fib saddr type local masquerade            # from the host, 127.0.0.1
///       }
///     }
///     table bridge netctl-ROOT {
///       chain forward {
///         type filter hook forward priority -200;
///         meta mark & MARK != 0 accept; iifname @icc_off ether type != arp drop
///       }
///     }
struct Firewall {
    let host: HostContext
    let inet: Table
    let bridge: Table
    /// What each network's driver says the firewall needs to know of it: the only thing
    /// the firewall reads of a network besides its id.
    let attachment: (NetworkRecord) -> FirewallAttachment?

    /// The packet mark bit that asks postrouting to masquerade.
    static let masqueradeMark: UInt32 = 0x0100_0000

    enum SetName {
        static let bridges = "bridges"
        static let bridgePairs = "bridge_pairs"
        static let `internal` = "internal"
        static let masquerade = "masquerade"
        static let iccOff = "icc_off"
        static func ports(ipv4: Bool, anyAddress: Bool) -> String { "ports\(ipv4 ? 4 : 6)\(anyAddress ? "_any" : "")" }
    }

    init(host: HostContext, attachment: @escaping (NetworkRecord) -> FirewallAttachment?) {
        self.host = host
        self.attachment = attachment
        let name = "netctl-" + host.rootID.prefix(16)
        inet = Table(.inet, name)
        bridge = Table(.bridge, name)
    }

    // MARK: What the kernel should hold

    /// The elements that stand for a set of networks and their endpoints.
    struct Elements {
        var byTable: [Table: [String: [SetElement]]] = [:]

        mutating func insert(_ element: SetElement, into set: String, of table: Table) {
            byTable[table, default: [:]][set, default: []].append(element)
        }

        mutating func merge(_ other: Elements) {
            for (table, sets) in other.byTable {
                for (set, elements) in sets { byTable[table, default: [:]][set, default: []] += elements }
            }
        }

        var isEmpty: Bool { byTable.values.allSatisfy { $0.values.allSatisfy(\.isEmpty) } }
    }

    /// Whether the firewall has anything to do with this network.
    func manages(_ network: NetworkRecord) -> Bool { attachment(network) != nil }

    func elements(for network: NetworkRecord) -> Elements {
        var elements = Elements()
        guard let attachment = attachment(network) else { return elements }
        let name = Concatenation.ifname(attachment.bridge)
        elements.insert(SetElement(key: name), into: SetName.bridges, of: inet)
        elements.insert(SetElement(key: name + name), into: SetName.bridgePairs, of: inet)
        if attachment.isInternal {
            elements.insert(SetElement(key: name), into: SetName.`internal`, of: inet)
        } else if attachment.masquerade {
            elements.insert(SetElement(key: name), into: SetName.masquerade, of: inet)
        }
        return elements
    }

    func elements(for endpoint: EndpointRecord, on network: NetworkRecord) -> Elements {
        var elements = Elements()
        guard let attachment = attachment(network) else { return elements }
        if !attachment.interContainer, let port = endpoint.hostInterface {
            elements.insert(SetElement(key: Concatenation.ifname(port)), into: SetName.iccOff, of: bridge)
        }
        for binding in endpoint.bindings {
            let ipv4 = binding.hostIP.isIPv4
            guard let target = ipv4 ? endpoint.ipv4?.address : endpoint.ipv6?.address else { continue }
            var key = Concatenation()
            key.append([binding.proto.number])
            if !binding.isWildcard { key.append(binding.hostIP.bytes) }
            key.append(Concatenation.port(binding.hostPort))
            var value = Concatenation()
            value.append(target.bytes)
            value.append(Concatenation.port(binding.containerPort))
            elements.insert(SetElement(key: key.bytes, value: .bytes(value.bytes)),
                            into: SetName.ports(ipv4: ipv4, anyAddress: binding.isWildcard), of: inet)
        }
        return elements
    }

    func elements(networks: [NetworkRecord], endpoints: [EndpointRecord]) -> Elements {
        var all = Elements()
        let byID = Dictionary(uniqueKeysWithValues: networks.map { ($0.id, $0) })
        for network in networks { all.merge(elements(for: network)) }
        for endpoint in endpoints {
            if let network = byID[endpoint.networkID] { all.merge(elements(for: endpoint, on: network)) }
        }
        return all
    }

    // MARK: Changing the kernel

    /// Adds and removes elements in one transaction. When the tables are missing (first use,
    /// `nft flush ruleset`) or the change does not fit what is installed, the whole ruleset
    /// is rebuilt from `desired` instead, also in one transaction.
    func apply(adding: Elements, removing: Elements, desired: () throws -> Elements) throws {
        guard !adding.isEmpty || !removing.isEmpty else { return }
        let session = try host.nftables()
        guard try session.exists(inet), try session.exists(bridge) else {
            return try rebuild(try desired())
        }
        let transaction = Transaction()
        for (table, sets) in removing.byTable {
            for (set, elements) in sets.sorted(by: { $0.key < $1.key }) { transaction.delete(elements, fromSet: set, in: table) }
        }
        for (table, sets) in adding.byTable {
            for (set, elements) in sets.sorted(by: { $0.key < $1.key }) { transaction.add(elements, toSet: set, in: table) }
        }
        do {
            try session.commit(transaction)
        } catch let error as NetlinkError where [ENOENT, EEXIST, EBUSY].contains(error.errno) {
            // What is installed drifted from the records (a hand edit, a crash): start over.
            try rebuild(try desired())
        }
    }

    /// Replaces both tables with the full ruleset and `elements`, atomically.
    func rebuild(_ elements: Elements) throws {
        let transaction = Transaction()
        for table in [inet, bridge] {
            // `add` first, so that `delete` succeeds whether or not the table is there.
            transaction.add(table)
            transaction.delete(table)
        }
        declareRuleset(in: transaction)
        for (table, sets) in elements.byTable {
            for (set, members) in sets.sorted(by: { $0.key < $1.key }) { transaction.add(members, toSet: set, in: table) }
        }
        try host.nftables().commit(transaction)
    }

    /// Removes both tables (the root has no bridge networks left).
    func remove() throws {
        let session = try host.nftables()
        let transaction = Transaction()
        for table in [inet, bridge] where try session.exists(table) { transaction.delete(table) }
        try session.commit(transaction)
    }

    private func declareRuleset(in transaction: Transaction) {
        let mark = Self.masqueradeMark
        transaction.add(inet)
        for set in [SetName.bridges, SetName.`internal`, SetName.masquerade] {
            transaction.add(SetDefinition(set, key: [.ifname]), to: inet)
        }
        transaction.add(SetDefinition(SetName.bridgePairs, key: [.ifname, .ifname]), to: inet)
        for ipv4 in [true, false] {
            let address: DataType = ipv4 ? .ipv4Address : .ipv6Address
            transaction.add(SetDefinition(SetName.ports(ipv4: ipv4, anyAddress: false), key: [.inetProtocol, address, .inetService],
                                          data: .values([address, .inetService])), to: inet)
            transaction.add(SetDefinition(SetName.ports(ipv4: ipv4, anyAddress: true), key: [.inetProtocol, .inetService],
                                          data: .values([address, .inetService])), to: inet)
        }

        transaction.add(Chain("publish"), to: inet)
        transaction.add(Chain("prerouting", base: .init(.nat, hook: .prerouting, priority: Chain.Priority.dstnat)), to: inet)
        transaction.add(Chain("mark", base: .init(.filter, hook: .prerouting, priority: Chain.Priority.mangle)), to: inet)
        transaction.add(Chain("output", base: .init(.nat, hook: .output, priority: Chain.Priority.dstnat)), to: inet)
        transaction.add(Chain("forward", base: .init(.filter, hook: .forward, priority: Chain.Priority.filter)), to: inet)
        transaction.add(Chain("postrouting", base: .init(.nat, hook: .postrouting, priority: Chain.Priority.srcnat)), to: inet)

        // From a container: mark the packet (for masquerade) and its connection (so that
        // every later packet of it, both ways, passes an ICC-off bridge).
        transaction.add(Rule("publish", Match.interfaceName(input: true, in: SetName.bridges) + Match.setMark(mark)
                             + Match.setConntrackMark(mark)), to: inet)
        for ipv4 in [true, false] {
            let family: Family = ipv4 ? .ip : .ip6
            // The destination address sits at offset 16 (IPv4) or 24 (IPv6); registers
            // after it hold the port. nft writes `dnat ip to meta l4proto . ip daddr . th dport map @ports4`
            // the same way.
            let addressWords: UInt32 = ipv4 ? 1 : 4
            transaction.add(Rule("publish", Match.nfproto(family) + [
                .meta(.l4proto, into: .r1),
                .payload(.network, offset: ipv4 ? 16 : 24, length: ipv4 ? 4 : 16, into: .word(1)),
                .payload(.transport, offset: 2, length: 2, into: .word(1 + addressWords)),
                .lookup(set: SetName.ports(ipv4: ipv4, anyAddress: false), key: .r1, into: .r1),
                .nat(.destination, family: family, address: .r1, port: .word(addressWords)),
            ]), to: inet)
            transaction.add(Rule("publish", Match.nfproto(family) + [
                .meta(.l4proto, into: .r1),
                .payload(.transport, offset: 2, length: 2, into: .word(1)),
                .lookup(set: SetName.ports(ipv4: ipv4, anyAddress: true), key: .r1, into: .r1),
                .nat(.destination, family: family, address: .r1, port: .word(addressWords)),
            ]), to: inet)
        }
        transaction.add(Rule("mark", Match.conntrackMarkHas(mark) + Match.setMark(mark)), to: inet)
        for chain in ["prerouting", "output"] {
            transaction.add(Rule(chain, Match.addressIsLocal(source: false) + [.verdict(.jump("publish"))]), to: inet)
        }

        transaction.add(Rule("forward", Match.interfacePair(in: SetName.bridgePairs) + [.verdict(.accept)]), to: inet)
        transaction.add(Rule("forward", Match.interfaceName(input: true, in: SetName.`internal`) + [.verdict(.drop)]), to: inet)
        transaction.add(Rule("forward", Match.interfaceName(input: false, in: SetName.`internal`) + [.verdict(.drop)]), to: inet)
        transaction.add(Rule("forward", Match.destinationNATted() + [.verdict(.accept)]), to: inet)
        transaction.add(Rule("forward", Match.interfaceName(input: true, in: SetName.bridges)
                             + Match.interfaceName(input: false, in: SetName.bridges) + [.verdict(.drop)]), to: inet)
        transaction.add(Rule("forward", Match.interfaceName(input: true, in: SetName.masquerade) + Match.setMark(mark)), to: inet)

        transaction.add(Rule("postrouting", Match.markHas(mark) + [.masquerade]), to: inet)
        transaction.add(Rule("postrouting", Match.destinationNATted() + Match.addressIsLocal(source: true) + [.masquerade]), to: inet)

        transaction.add(bridge)
        transaction.add(SetDefinition(SetName.iccOff, key: [.ifname]), to: bridge)
        transaction.add(Chain("forward", base: .init(.filter, hook: .forward, priority: Chain.Priority.bridgeFilter)), to: bridge)
        // Published ports stay open to neighbours: where bridged traffic passes netfilter
        // (br_netfilter), a neighbour's frame DNATed by `publish` (which marked it) is
        // bridged straight to the port. (`ct` needs bridge conntrack, which is not always there.)
        transaction.add(Rule("forward", Match.markHas(mark) + [.verdict(.accept)]), to: bridge)
        transaction.add(Rule("forward", Match.interfaceName(input: true, in: SetName.iccOff) + Match.notARP() + [.verdict(.drop)]), to: bridge)
    }

    // MARK: Reading back

    static let portSets = [true, false].flatMap { ipv4 in [true, false].map { SetName.ports(ipv4: ipv4, anyAddress: $0) } }

    /// The published-port elements the kernel holds, for reconcile to compare.
    func installedPortElements() throws -> Set<SetElement> {
        let session = try host.nftables()
        return Set(try Self.portSets.flatMap { try session.elements(ofSet: $0, in: inet) })
    }
}
