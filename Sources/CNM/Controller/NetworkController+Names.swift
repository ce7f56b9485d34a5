import DNS
import Glibc
import Netlink
import NFTables

/// Names on networks: what CNM keeps for the resolver (`netctl-dns`) and what it sets up in
/// a sandbox so that the resolver is reachable there at 127.0.0.11:53, as Docker's
/// embedded DNS is.
///
/// CNM writes the tables under `ROOT/dns` (see `ResolverTables`) holding the store's lock,
/// from the endpoint records, then asks the resolver to reread them. Every connect,
/// disconnect, sandbox removal, network removal and reconcile that touches a network with
/// names rewrites that network's table whole: the records are the truth, the tables a view.
extension NetworkController {
    /// The resolver of the state root at `root`: `netctl-dns` next to the running
    /// executable (or `NETCTL_DNS_BINARY`), entering `hostNamespace` (`--host-netns`).
    public static func resolver(forRoot root: String, hostNamespace: String?) -> ResolverControl {
        ResolverControl(root: root, executable: ResolverControl.executableNextToSelf(), hostNamespace: hostNamespace)
    }

    /// The address containers send their queries to; the sandbox's NAT takes it to the
    /// resolver's port.
    public static let resolverAddress = "127.0.0.11"

    /// Whether endpoints on `network` answer to names: networks of drivers that give
    /// addresses (not `host`, `null`), except the default bridge (as in Docker) and the
    /// gateway bridge (a way out, not a network containers meet on).
    func servesNames(_ network: NetworkRecord, driver: any NetworkDriver) -> Bool {
        guard resolver != nil, driver.servesNames, network.options[BridgeDriver.Option.defaultBridge] != "true" else { return false }
        return !(network.name == Self.gatewayBridgeName && network.scope == NetworkScope.local.rawValue)
    }

    /// The names an endpoint answers to: the runtime's (container name, hostname, short
    /// id), or the sandbox's own name for a bare sandbox, then the aliases; lowercased,
    /// each once, in that order.
    static func dnsNames(for request: ConnectRequest, sandbox: SandboxRecord) -> [String] {
        var names: [String] = []
        for name in (request.names.isEmpty ? [sandbox.name] : request.names) + request.aliases {
            let lower = name.lowercased()
            if !names.contains(lower) { names.append(lower) }
        }
        return names
    }

    /// An alias as Docker takes it: a letter or digit, then letters, digits, `_`, `.` and
    /// `-`, at most 253 bytes (a DNS name).
    public static func validateAlias(_ alias: String) throws {
        guard isDockerName(alias, maximumLength: 253) else {
            throw CNMError("invalid alias \"\(alias)\": expected 1 to 253 of [a-zA-Z0-9_.-], starting with a letter or digit")
        }
    }

    // MARK: Tables

    /// Rewrites the table of `network` from its endpoints' records; removes it when none
    /// has names.
    /// `endpoints`, when the caller has just read them, saves reading every record of the
    /// network again (a connect to a network of 200 containers would decode 200).
    func writeNameTable(of network: NetworkRecord, tables: ResolverTables, endpoints known: [EndpointRecord]? = nil) throws {
        var records: [NameRecord] = []
        for endpoint in try known ?? endpoints(of: network) {
            guard let names = endpoint.dnsNames, !names.isEmpty else { continue }
            records.append(NameRecord(names: names, ipv4: endpoint.ipv4.map { $0.address.description },
                                      ipv6: endpoint.ipv6.map { $0.address.description }, sandbox: endpoint.sandboxName))
        }
        if records.isEmpty {
            tables.removeNetwork(network.id)
        } else {
            do {
                try tables.write(network: network.id, NetworkTable(name: network.name, records: records))
            } catch let error as TableError {
                throw CNMError(error.description)
            }
        }
    }

    /// After a connect to a network with names: the network's table, the sandbox's port,
    /// NAT and table (on its first network with names), and the resolver told (started if
    /// it is not running). On failure, the tables are as before and the sandbox's NAT gone
    /// if this call made it; the caller undoes the endpoint.
    func publishNames(on network: NetworkRecord, endpoints: [EndpointRecord], sandbox: SandboxRecord, upstreams: [String]) throws {
        guard let resolver else { return }
        let tables = ResolverTables(root: resolver.root)
        var madeSandbox = false
        do {
            try writeNameTable(of: network, tables: tables, endpoints: endpoints)
            if try tables.sandbox(sandbox.name) == nil {
                let port = try installResolverNAT(in: SandboxContext(record: sandbox))
                madeSandbox = true
                try tables.write(sandbox: sandbox.name, SandboxTable(
                    namespace: sandbox.namespaceFile, port: port, upstreams: upstreams))
            }
            host.faults.reach("connect.after-names")
            try syncResolver(start: true)
        } catch {
            // The records still hold the endpoint: the caller removes it, then rewrites.
            if madeSandbox {
                tables.removeSandbox(sandbox.name)
                try? removeResolverNAT(in: SandboxContext(record: sandbox))
            }
            throw error
        }
    }

    /// After endpoints left: the tables of `networks` rewritten, the sandbox's own table
    /// removed with the sandbox, and the resolver told, not started. A sandbox that stays
    /// stays served, as Docker's embedded DNS stays with a container for its life: left on
    /// no network with names, it still has names forwarded, and a later connect finds its
    /// port and NAT in place (replacing an nftables table costs the kernel a grace period,
    /// ~13 ms). Nothing here is worth failing a removal for: a table left stale is
    /// rewritten by the next change or reconcile.
    func withdrawNames(networks: [NetworkRecord], sandbox: SandboxRecord, sandboxGoes: Bool) {
        guard let resolver else { return }
        let tables = ResolverTables(root: resolver.root)
        let served = sandboxGoes && access(tables.paths.sandbox(sandbox.name), F_OK) == 0
        guard !networks.isEmpty || served else { return }
        for network in networks { try? writeNameTable(of: network, tables: tables) }
        if served { tables.removeSandbox(sandbox.name) }
        try? syncResolver(start: false)
    }

    /// `sync` on the resolver's control socket.
    func syncResolver(start: Bool) throws {
        guard let resolver else { return }
        do {
            try resolver.sync(start: start)
        } catch let error as TableError {
            throw CNMError(error.description)
        }
    }

    // MARK: The sandbox's NAT

    static let resolverTable = Table(.ip, "netctl-dns")

    /// Picks the port the resolver will listen on in the sandbox (one free for UDP and TCP
    /// on 127.0.0.11), and takes 127.0.0.11:53 there in one transaction:
    ///
    ///     table ip netctl-dns {
    ///       chain output {
    ///         type nat hook output priority -100;
    ///         ip daddr 127.0.0.11 udp dport 53 dnat to 127.0.0.11:PORT
    ///         ip daddr 127.0.0.11 tcp dport 53 dnat to 127.0.0.11:PORT
    ///       }
    ///     }
    func installResolverNAT(in sandbox: SandboxContext) throws -> UInt16 {
        let namespace = try sandbox.namespace()
        let port = try namespace.perform { try Self.freeLoopbackPort() }
        let session = try NFTablesSession(in: namespace)
        let table = Self.resolverTable
        let transaction = Transaction()
        // What a killed connect may have left, with another port.
        if try session.exists(table) { transaction.delete(table) }
        transaction.add(table)
        transaction.add(Chain("output", base: .init(.nat, hook: .output, priority: Chain.Priority.dstnat)), to: table)
        let address: [UInt8] = [127, 0, 0, 11]
        for proto: UInt8 in [17, 6] {  // udp, tcp
            transaction.add(Rule("output", [
                .payload(.network, offset: 16, length: 4, into: .r1), .compare(.equal, .r1, address),
                .meta(.l4proto, into: .r1), .compare(.equal, .r1, [proto]),
                .payload(.transport, offset: 2, length: 2, into: .r1), .compare(.equal, .r1, Concatenation.port(53)),
                .immediate(.r1, address), .immediate(.r2, Concatenation.port(port)),
                .nat(.destination, family: .ip, address: .r1, port: .r2),
            ]), to: table)
        }
        do {
            try session.commit(transaction)
        } catch {
            throw CNMError.kernel("sandbox \"\(sandbox.record.name)\"", error)
        }
        return port
    }

    /// `nft delete table ip netctl-dns` in the sandbox, if it is there.
    func removeResolverNAT(in sandbox: SandboxContext) throws {
        let session = try NFTablesSession(in: try sandbox.namespace())
        guard try session.exists(Self.resolverTable) else { return }
        let transaction = Transaction()
        transaction.delete(Self.resolverTable)
        try session.commit(transaction)
    }

    /// A port of 127.0.0.11 free for UDP and TCP alike in the calling thread's namespace:
    /// the kernel picks one for UDP, and TCP must be able to bind it too.
    static func freeLoopbackPort() throws -> UInt16 {
        func bound(_ fd: Int32, _ address: inout sockaddr_in) -> Bool {
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
            }
        }
        for _ in 0..<16 {
            let udp = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard udp >= 0 else { throw CNMError("socket: \(String(cString: strerror(errno)))") }
            defer { close(udp) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = UInt32(127 | 11 << 24)  // 127.0.0.11, network order
            guard bound(udp, &address) else {
                throw CNMError("bind \(resolverAddress):0 in the sandbox: \(String(cString: strerror(errno)))")
            }
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let named = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(udp, $0, &length) == 0 }
            }
            guard named else { throw CNMError("getsockname: \(String(cString: strerror(errno)))") }
            let tcp = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard tcp >= 0 else { throw CNMError("socket: \(String(cString: strerror(errno)))") }
            defer { close(tcp) }
            if bound(tcp, &address) { return UInt16(bigEndian: address.sin_port) }
        }
        throw CNMError("no port of \(resolverAddress) is free for both UDP and TCP in the sandbox")
    }

    // MARK: Reconcile

    /// Rewrites every table from the records: networks with names, sandboxes served (their
    /// NAT made again when a kill left it half done), and nothing for what is gone. Then
    /// the resolver rereads them, started if a sandbox needs it.
    func reconcileNames(report: inout [String]) throws {
        guard let resolver else { return }
        let tables = ResolverTables(root: resolver.root)
        let networks = try localNetworks()
        var named: Set<String> = []
        for network in networks {
            guard let driver = try? drivers.named(network.driver), servesNames(network, driver: driver) else { continue }
            try writeNameTable(of: network, tables: tables)
            named.insert(network.id)
        }
        for id in tables.names(in: tables.paths.networks) where !id.hasSuffix(".remote") && !named.contains(id) {
            tables.removeNetwork(id)
            report.append("removed the resolver's table of network \(id.prefix(12)): no such network with names")
        }
        let endpoints = try allEndpoints()
        var served: Set<String> = []
        // (A sandbox served once stays served while it exists: see withdrawNames.)
        for sandbox in try sandboxes() where endpoints.contains(where: { $0.sandboxID == sandbox.id && $0.dnsNames != nil })
            || ((try? tables.sandbox(sandbox.name)) ?? nil) != nil {
            served.insert(sandbox.name)
            let context = SandboxContext(record: sandbox)
            let session = try NFTablesSession(in: try context.namespace())
            let table = (try? tables.sandbox(sandbox.name)) ?? nil
            let natPresent = try session.exists(Self.resolverTable)
            if table == nil || !natPresent {
                let upstreams = table?.upstreams ?? []
                let port = try installResolverNAT(in: context)
                do {
                    try tables.write(sandbox: sandbox.name, SandboxTable(
                        namespace: sandbox.namespaceFile, port: port, upstreams: upstreams))
                } catch let error as TableError {
                    throw CNMError(error.description)
                }
                report.append("restored the resolver's NAT and table of sandbox \"\(sandbox.name)\"")
            }
        }
        for name in tables.names(in: tables.paths.sandboxes) where !served.contains(name) {
            tables.removeSandbox(name)
            report.append("removed the resolver's table of sandbox \"\(name)\": it has no network with names")
        }
        try syncResolver(start: !served.isEmpty)
    }
}
