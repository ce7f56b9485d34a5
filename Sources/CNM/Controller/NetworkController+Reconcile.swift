import Netlink
import Glibc

extension NetworkController {
    /// Makes the kernel and the records agree again after a crash, a kill -9 or a reboot:
    /// records whose kernel objects are gone are repaired (networks) or dropped (sandboxes,
    /// endpoints); kernel objects marked as this root's that no record owns are removed.
    /// Returns one line per repair.
    public func reconcile() throws -> [String] {
        try store.locked {
            // Half-done commands first, so that what they made is not taken for a leftover of unknown origin.
            var report = try recoverInterruptedChanges()
            let session = try host.session()
            var networks = try localNetworks()
            var sandboxes = try self.sandboxes()
            var endpoints = try allEndpoints()

            // Sandboxes whose namespace is gone take their endpoints with them.
            for sandbox in sandboxes where !namespaceExists(of: sandbox) {
                for endpoint in endpoints where endpoint.sandboxID == sandbox.id {
                    try store.delete(Keys.endpoint(endpoint.id, network: endpoint.networkID))
                    report.append("removed endpoint \(endpoint.shortID): its sandbox \"\(sandbox.name)\" is gone")
                }
                endpoints.removeAll { $0.sandboxID == sandbox.id }
                try store.delete(Keys.sandbox(sandbox.id))
                report.append("removed sandbox \"\(sandbox.name)\": its network namespace is gone")
            }
            sandboxes.removeAll { !namespaceExists(of: $0) }

            // Namespaces this root marked but never recorded (a create killed halfway).
            let recordedNames = Set(sandboxes.map(\.name))
            // Namespaces a driver made for a network (an overlay's part on this host) that
            // no endpoint of this root uses any more (a connect killed halfway).
            let usedNetworks = Set(endpoints.map(\.networkID))
            for name in NetworkNamespace.names() where !recordedNames.contains(name) {
                guard let marker = try? loopbackMarker(of: name), marker.belongs(to: host.rootID) else { continue }
                switch marker.kind {
                case .sandbox:
                    try NetworkNamespace.remove(named: name)
                    report.append("removed network namespace \"\(name)\": no sandbox record owns it")
                case .network where !usedNetworks.contains(marker.id):
                    try NetworkNamespace.remove(named: name)
                    report.append("removed network namespace \"\(name)\" of network \(marker.id.prefix(12)): no endpoint uses it")
                default:
                    break
                }
            }

            // Networks whose devices are gone are made again: they are configuration.
            // (Not a predefined one no endpoint uses: the default bridge is made on first use.)
            for network in networks where !network.predefined || usedNetworks.contains(network.id) {
                let driver = try drivers.named(network.driver)
                if try !driver.networkIsPresent(network, host: host) {
                    report.append(try driver.restoreNetwork(network, host: host))
                }
            }
            networks = try localNetworks()

            // Endpoints whose interface is gone are dropped, freeing their addresses.
            let sandboxByID = Dictionary(uniqueKeysWithValues: sandboxes.map { ($0.id, $0) })
            // Another engine's endpoints live as long as that engine keeps them (it removes them).
            var liveEndpoints = Set(endpoints.filter(\.isEngineEndpoint).map(\.id))
            for endpoint in endpoints {
                guard let sandbox = sandboxByID[endpoint.sandboxID] else { continue }
                let network = networks.first(where: { $0.id == endpoint.networkID })
                if let network, try drivers.named(network.driver).endpointIsPresent(
                    endpoint, network: network, sandbox: SandboxContext(record: sandbox), host: host) {
                    liveEndpoints.insert(endpoint.id)
                    continue
                }
                if let network {
                    try? drivers.named(network.driver).leave(endpoint, network: network, sandbox: SandboxContext(record: sandbox), host: host)
                }
                try store.delete(Keys.endpoint(endpoint.id, network: endpoint.networkID))
                report.append("removed endpoint \(endpoint.shortID) of sandbox \"\(sandbox.name)\": its interface is gone")
            }

            // Host devices marked as this root's that no record owns.
            let networkIDs = Set(networks.map(\.id))
            let request = session.batch()
            for link in try session.links() {
                guard let marker = Marker(alias: link.alias), marker.belongs(to: host.rootID) else { continue }
                let owned = marker.kind == .network ? networkIDs.contains(marker.id) : liveEndpoints.contains(marker.id)
                if !owned {
                    // Tolerated: a veth whose other end was in a namespace being freed goes with it meanwhile.
                    session.addLinkDelete(.index(link.index), tolerating: [ENODEV], to: request)
                    report.append("removed \(link.kind ?? "link") \(link.name): no \(marker.kind.rawValue) record owns it")
                }
            }
            try session.execute(request)

            // Devices inside recorded sandboxes that no endpoint owns (a macvlan left by a kill).
            for sandbox in sandboxes {
                let inside = try SandboxContext(record: sandbox).session()
                let request = inside.batch()
                for link in try inside.links() {
                    guard let marker = Marker(alias: link.alias), marker.kind == .endpoint,
                          marker.belongs(to: host.rootID), !liveEndpoints.contains(marker.id) else { continue }
                    inside.addLinkDelete(.index(link.index), to: request)
                    report.append("removed \(link.kind ?? "link") \(link.name) in sandbox \"\(sandbox.name)\": no endpoint record owns it")
                }
                try inside.execute(request)
            }

            // The firewall is configuration too: rebuilt whole from the records, in one
            // transaction, whatever was flushed or edited by hand.
            try reconcileFirewall(report: &report)

            // What drivers keep outside this root (an overlay's cluster records).
            let remaining = try allEndpoints()
            for driver in drivers.all { report += driver.reconcile(endpoints: remaining, host: host) }

            // The resolver's tables, from the records.
            do {
                try reconcileNames(report: &report)
            } catch {
                report.append("names: \(error)")
            }

            // Temporary files of writes a kill cut short.
            for path in try store.sweep(under: "") {
                report.append("removed \(path): a temporary file a killed command was writing")
            }
            return report
        }
    }

    private func reconcileFirewall(report: inout [String]) throws {
        let endpoints = try allEndpoints()
        let networks = firewalled(try localNetworks(), endpoints: endpoints)
        let firewall = self.firewall
        let session = try host.nftables()
        guard networks.contains(where: firewall.manages) else {
            if try session.exists(firewall.inet) || session.exists(firewall.bridge) {
                try firewall.remove()
                report.append("removed nftables tables \(firewall.inet.name): no bridge network left")
            }
            return
        }
        let desired = firewall.elements(networks: networks, endpoints: endpoints)
        let missing = try !session.exists(firewall.inet) || !session.exists(firewall.bridge)
        let wanted = Set(Firewall.portSets.flatMap { desired.byTable[firewall.inet]?[$0] ?? [] })
        let installed = missing ? [] : (try? firewall.installedPortElements()) ?? []
        try firewall.rebuild(desired)
        if missing {
            report.append("rebuilt nftables tables \(firewall.inet.name) (they were missing): \(wanted.count) published port\(wanted.count == 1 ? "" : "s")")
        } else if installed != wanted {
            report.append("rebuilt nftables tables \(firewall.inet.name): \(wanted.subtracting(installed).count) published port(s) restored, \(installed.subtracting(wanted).count) unowned removed")
        }
    }

    private func loopbackMarker(of namespace: String) throws -> Marker? {
        let session = try NetlinkSession(in: try NetworkNamespace.open(named: namespace))
        return Marker(alias: try session.link(.name("lo"))?.alias)
    }
}
