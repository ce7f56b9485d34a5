import CNM
import CRuntimeShim
import Glibc
import Netlink
import Prometheus

/// `netctl agent`: one per host. It holds a lease on the host's record, so the cluster
/// knows the host is there; it watches the cluster's records from the revision it last
/// saw and keeps this host's FDB and neighbour entries equal to the peer table, for every
/// overlay this host has a part of, and the names of those peers in the state root's
/// resolver tables (`RemoteNames`). It reconciles from scratch when it starts, when the
/// watch breaks (etcd gone, then back) and when etcd compacted past its revision.
/// Forwarding never depends on it: entries stay in the kernel while etcd is away.
public final class OverlayAgent: @unchecked Sendable {
    public struct Settings: Sendable {
        /// Seconds the host's record outlives a silent agent.
        public var leaseTTL: Int = 10
        /// `HOST:PORT` for Prometheus's scrape of `/metrics`; nil for none.
        public var metricsAddress: String?
        public init() {}
    }

    let driver: OverlayDriver
    let host: HostContext
    let settings: Settings
    let metrics = AgentMetrics()
    private let lock = Lock()
    /// One kernel update at a time, each from the view as it is when it starts: the last
    /// write is always from the newest view (the watch and the periodic pass both program).
    private let programLock = Lock()
    private var log: @Sendable (String) -> Void = { _ in }

    // What the agent knows of the cluster, as of `revision`.
    private var networks: [String: NetworkRecord] = [:]
    private var peers: [String: [String: PeerRecord]] = [:]
    private var hosts: Set<String> = []
    private var revision: Int64 = 0

    public init(driver: OverlayDriver, host: HostContext, settings: Settings) {
        self.driver = driver
        self.host = host
        self.settings = settings
    }

    /// Runs until the process is killed.
    public func run(log: @escaping @Sendable (String) -> Void) throws -> Never {
        self.log = log
        _ = try driver.catalog()
        let configuration = driver.configuration!
        // A watch that hears nothing (not even etcd's progress notices) for this long is
        // taken for a dead connection and resumed from its revision.
        let catalog = ClusterCatalog(client: try EtcdClient(endpoints: configuration.endpoints, tls: configuration.tls,
                                                            timeout: 5, watchSilenceLimit: 15))
        guard let vtep = configuration.advertiseAddress else {
            throw CNMError("agent: this host's underlay address is not known: give --advertise-addr or NETCTL_ADVERTISE_ADDR")
        }
        if let address = settings.metricsAddress {
            let server = try MetricsServer(address: address) { [metrics] in metrics.registry.emitToBuffer() }
            Threads.detached { server.serve() }
        }
        let record = HostRecord(name: configuration.nodeName, vtep: vtep, agentPID: getpid(), started: Timestamp.now())
        Threads.detached { [self] in holdLease(record, catalog: catalog, log: log) }
        log("agent for node \(configuration.nodeName) (VTEP \(vtep)) watching \(configuration.endpoints.joined(separator: ","))")

        // From scratch once; after that the watch goes on from the last revision it
        // applied, through etcd restarts and failovers, until etcd no longer has that
        // revision (compaction): then from scratch again.
        var synchronised = false
        while true {
            do {
                if !synchronised {
                    try synchronise(catalog)
                    synchronised = true
                    // An agent mostly waits: the pages that start-up and the full read
                    // touched (netctl's binary, libcurl and its TLS libraries) go back to
                    // the kernel, and the few the watch needs fault in again.
                    _ = shim_release_file_pages()
                }
                try catalog.client.watch(prefix: ClusterCatalog.prefix, fromRevision: lock.locked { revision } + 1) { event in
                    self.apply(event)
                    return true
                }
                log("watch ended at revision \(lock.locked { revision }); watching on")
            } catch let error as EtcdError where error.isCompacted {
                log("etcd compacted past revision \(lock.locked { revision } + 1) (kept from \(error.compactRevision ?? 0)); resynchronising")
                synchronised = false
                continue
            } catch {
                metrics.errors.increment()
                log("\(error); retrying in 1 s")
            }
            sleep(1)
        }
    }

    /// Reads every record at one revision and programs every overlay of this host from it.
    func synchronise(_ catalog: ClusterCatalog) throws {
        let (items, revision) = try catalog.client.range(prefix: ClusterCatalog.prefix)
        lock.locked {
            networks = [:]
            peers = [:]
            hosts = []
            for item in items { record(item, deleted: false) }
            self.revision = revision
        }
        metrics.resyncs.increment()
        programAll()
    }

    private func apply(_ event: EtcdClient.WatchEvent) {
        let affected: Set<String>? = lock.locked {
            revision = max(revision, event.revision)
            return record(event.keyValue, deleted: event.kind == .delete)
        }
        metrics.lastRevision.set(Double(event.revision))
        if let affected {
            for id in affected { program(network: id) }
        } else {
            programAll()
        }
    }

    /// Takes one record into the agent's view. Returns the networks to reprogram (nil: all).
    @discardableResult
    private func record(_ item: EtcdClient.KeyValue, deleted: Bool) -> Set<String>? {
        let path = item.key.dropFirst(ClusterCatalog.prefix.count).split(separator: "/").map(String.init)
        guard let kind = path.first else { return [] }
        switch (kind, path.count) {
        case ("networks", 2):
            if deleted { networks[path[1]] = nil } else { networks[path[1]] = try? driver.catalog().decode(NetworkRecord.self, item) }
            return [path[1]]
        case ("peers", 3):
            if deleted {
                peers[path[1]]?[path[2]] = nil
            } else if let peer = try? driver.catalog().decode(PeerRecord.self, item) {
                peers[path[1], default: [:]][path[2]] = peer
            }
            return [path[1]]
        case ("hosts", 2):
            if deleted { hosts.remove(path[1]) } else { hosts.insert(path[1]) }
            return nil
        default:
            return []
        }
    }

    private func programAll() {
        let ids = lock.locked { Array(networks.keys) }
        for id in ids { program(network: id) }
        // Names of networks removed while the agent was not watching (a gap, a restart).
        for id in driver.remoteNames.networks() where !ids.contains(id) { program(network: id) }
    }

    /// Makes the kernel's entries for one overlay, and its names, equal to the live peers
    /// on other hosts.
    private func program(network id: String) {
        programLock.locked { programLocked(network: id) }
    }

    private func programLocked(network id: String) {
        let (network, wanted, alive): (NetworkRecord?, [PeerRecord], Set<String>) = lock.locked {
            (networks[id], peers[id].map { Array($0.values) } ?? [], hosts)
        }
        guard let network else { return updateNames(of: id, "gone") { try $0.remove(network: id) } }
        guard let me = try? driver.node(), let plan = try? driver.plan(for: network, host: host) else { return }
        guard OverlayDataPlane.exists(plan) else {
            return updateNames(of: network.name, "no endpoint on this host") { try $0.remove(network: id) }
        }
        let remote = wanted.remote(from: me, alive: alive)
        let entries = Set(remote.compactMap { OverlayPeer(record: $0, plan: plan) })
        do {
            let changed = try OverlayDataPlane.program(plan, peers: entries)
            metrics.peers(of: network.name).set(Double(entries.count))
            if changed.added + changed.removed > 0 {
                log("network \(network.name): \(entries.count) remote endpoint\(entries.count == 1 ? "" : "s") (+\(changed.added) -\(changed.removed)) as of revision \(lock.locked { revision })")
            }
        } catch {
            metrics.errors.increment()
        }
        // Forwarding first; names after, so a slow resolver never holds up the kernel.
        updateNames(of: network.name, "\(remote.count) remote endpoint\(remote.count == 1 ? "" : "s")") {
            try $0.update(network, peers: remote)
        }
    }

    /// Applies a change to a network's remote names table; logs it when the file changed.
    private func updateNames(of network: String, _ what: String, _ change: (RemoteNames) throws -> Bool) {
        do {
            if try change(driver.remoteNames) {
                log("network \(network): names of other hosts updated (\(what)) as of revision \(lock.locked { revision })")
            }
        } catch {
            metrics.errors.increment()
            log("network \(network): names of other hosts: \(error)")
        }
    }

    /// Keeps the host's record alive: a lease renewed every third of its time to live. When
    /// the lease was lost (etcd away longer than that), a new one is taken and the record
    /// written again, so the host's peers come back into every FDB.
    private func holdLease(_ record: HostRecord, catalog: ClusterCatalog, log: (String) -> Void) {
        var lease: Int64 = 0
        let key = ClusterCatalog.Key.host(record.name)
        while true {
            do {
                if try lease == 0 || catalog.client.keepAlive(lease) <= 0 {
                    lease = try catalog.client.grantLease(ttl: settings.leaseTTL)
                    _ = try catalog.client.put(key, try catalog.encode(record), lease: lease)
                    log("holding lease \(lease) for node \(record.name)")
                }
                let status = try catalog.client.status()
                metrics.watchLag.set(Double(max(0, status.revision - lock.locked { revision })))
                // A periodic pass from the agent's view: it repairs what a connect added
                // from a read gone stale (a peer that left meanwhile), and what someone
                // changed by hand. Unchanged overlays cost two dumps and no write.
                programAll()
            } catch {
                metrics.errors.increment()
                lease = 0
            }
            usleep(useconds_t(max(1, settings.leaseTTL) * 1_000_000 / 3))
        }
    }
}

/// What the agent reports to Prometheus.
final class AgentMetrics: @unchecked Sendable {
    let registry = PrometheusCollectorRegistry()
    // Made at once, so that a scrape shows every metric from the start, at zero.
    let errors: Counter
    let resyncs: Counter
    let watchLag: Gauge
    let lastRevision: Gauge

    init() {
        errors = registry.makeCounter(name: "netctl_agent_errors_total", help: "Failed etcd calls and kernel updates.")
        resyncs = registry.makeCounter(name: "netctl_agent_resyncs_total", help: "Full reads of the cluster's records.")
        watchLag = registry.makeGauge(name: "netctl_agent_watch_lag_revisions", help: "etcd's revision minus the last one the agent applied.")
        lastRevision = registry.makeGauge(name: "netctl_agent_revision", help: "The last etcd revision the agent applied.")
    }

    func peers(of network: String) -> Gauge {
        registry.makeGauge(name: "netctl_agent_peers_programmed", labels: [("network", network)],
                           help: "Remote endpoints programmed as FDB and neighbour entries.")
    }
}

/// A mutex for the agent's view, shared by the watch and lease threads.
final class Lock: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    init() { pthread_mutex_init(&mutex, nil) }
    func locked<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return try body()
    }
}
