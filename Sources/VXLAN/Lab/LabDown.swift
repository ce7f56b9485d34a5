import FoundationEssentials
import Glibc
import Netlink

extension Lab {
    /// `lab down`: containers, sandboxes and overlays through each host's netctl while etcd
    /// still answers, then the agents and etcd by pid, whatever else still runs in the lab's
    /// namespaces, every namespace named `<lab>-…`, and the lab directory. Works from what
    /// is there, so it also clears a half-made or killed lab, and a second run finds
    /// nothing to do. Returns what it could not remove (empty when all went).
    @discardableResult
    public static func down(name: String, directory: String? = nil) -> [String] {
        let lock: LabLock
        do { lock = try LabLock(name: name) } catch { return ["\(error)"] }
        let problems = tearDown(name: name, directory: absolute(directory ?? defaultDirectory(name: name)))
        if problems.isEmpty { lock.remove() } else { lock.release() }
        return problems
    }

    /// `down`'s work, under the lab's lock (which `up` holds when it undoes a failure).
    static func tearDown(name: String, directory: String) -> [String] {
        var problems: [String] = []
        let lab = try? Lab.open(directory: directory)
        if let lab, lab.topology.name == name {
            lab.removeWorkloads()
            // Agents and etcd members are told at once, then waited for one by one.
            let services = Array(lab.state.agents.values) + Array(lab.state.etcd.values)
            for service in services where service.isAlive { kill(service.pid, SIGTERM) }
            for service in services { service.stop() }
        }
        let namespaces = labNamespaces(name: name, directory: directory)
        stopProcesses(in: namespaces)
        for namespace in namespaces {
            // Gone meanwhile (another `lab down` of the same lab) is as good as removed.
            do { try NetworkNamespace.remove(named: namespace) } catch where NetworkNamespace.exists(named: namespace) { problems.append("\(error)") } catch {}
        }
        if let problem = removeDirectory(directory) { problems.append(problem) }
        return problems
    }

    /// Each host's containers, sandboxes and (on the first host) overlays, removed by its
    /// own netctl; failures are left to the sweep that follows.
    func removeWorkloads() {
        let hosts = topology.hosts.map(\.name).filter { access(hostRoot($0), F_OK) == 0 }
        try? LabRunner.inParallel(hosts) { host in
            if let ids = records(host, "containers", listing: ["ps", "-aq"]), !ids.isEmpty {
                _ = try? run(host: host, ["netctl", "rm", "-f"] + ids)
            }
            if let ids = records(host, "sandboxes", listing: ["sandbox", "ls", "-q"]), !ids.isEmpty {
                _ = try? run(host: host, ["netctl", "sandbox", "rm"] + ids)
            }
        }
        if let first = hosts.first, !topology.networks.isEmpty {
            _ = try? run(host: first, ["netctl", "network", "rm"] + topology.networks.map(\.name))
        }
    }

    /// The ids of a host's containers or sandboxes. The local store keeps each record as
    /// `KIND/ID.json` in the state root, so they are read from there, which spares a netctl
    /// start per host (most of `lab down`'s time); without that folder, netctl lists them.
    private func records(_ host: String, _ kind: String, listing: [String]) -> [String]? {
        let folder = "\(hostRoot(host))/\(kind)"
        if access(folder, F_OK) == 0 {
            return Directory.names(in: folder).filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }
        }
        guard let listed = try? run(host: host, ["netctl"] + listing), listed.status == 0 else { return nil }
        return listed.output.split(separator: "\n").map(String.init)
    }

    /// The lab's namespaces: the underlay's, marked on their loopback's alias as the lab's
    /// (`netctl-lab:NAME`), and those the hosts' netctl made (sandboxes, an overlay's
    /// `ncov-ROOT-NETWORK`), marked `netctl:ROOT:KIND:ID` with the root of one of its hosts.
    static func labNamespaces(name: String, directory: String) -> [String] {
        struct RootRecord: Decodable { var id: String }
        let roots = Set(Directory.names(in: directory + "/hosts").compactMap { host -> String? in
            guard let text = try? LabFiles.read("\(directory)/hosts/\(host)/root/root.json", limit: 1 << 16),
                  let record = try? JSONDecoder().decode(RootRecord.self, from: Data(text.utf8)) else { return nil }
            return String(record.id.prefix(16))
        })
        return NetworkNamespace.names().filter { namespace in
            guard let session = try? NetlinkSession(in: NetworkNamespace.open(named: namespace)),
                  let alias = try? session.link(.name("lo"))?.alias else { return false }
            if alias == LabPlan.marker(name) { return true }
            let parts = alias.split(separator: ":")
            return parts.count == 4 && parts[0] == "netctl" && roots.contains(String(parts[1]))
        }
    }

    /// Every process in one of the lab's namespaces (an agent or etcd whose record was
    /// lost with a killed `lab up`, a container's process): the lab started them all.
    /// SIGTERM, then SIGKILL to those still there.
    static func stopProcesses(in namespaces: [String]) {
        var inodes: Set<UInt64> = []
        for namespace in namespaces {
            var info = stat()
            if stat("\(NetworkNamespace.directory)/\(namespace)", &info) == 0 { inodes.insert(UInt64(info.st_ino)) }
        }
        guard !inodes.isEmpty else { return }
        let stamps = Directory.names(in: "/proc").compactMap(Int32.init).filter { pid in
            var info = stat()
            return pid != getpid() && stat("/proc/\(pid)/ns/net", &info) == 0 && inodes.contains(UInt64(info.st_ino))
        }.compactMap(LabProcessStamp.init(pid:))
        stamps.forEach { kill($0.pid, SIGTERM) }
        for stamp in stamps { stamp.stop(grace: 2) }
    }

    /// The lab directory, after unmounting whatever a container left mounted in it. Only a
    /// directory that holds a lab (or nothing) is removed.
    static func removeDirectory(_ directory: String) -> String? {
        guard access(directory, F_OK) == 0 else { return nil }
        let names = Directory.names(in: directory)
        guard names.isEmpty || names.contains("topology.yaml") else {
            return "\(directory) is not a lab directory (no topology.yaml): left as it is"
        }
        let mounts = ((try? LabFiles.read("/proc/self/mountinfo", limit: 16 << 20)) ?? "").split(separator: "\n").compactMap { line -> String? in
            let fields = line.split(separator: " ")
            return fields.count > 4 ? String(fields[4]) : nil
        }
        for mount in mounts.reversed() where mount.hasPrefix(directory + "/") { umount2(mount, Int32(MNT_DETACH)) }
        // Out of the way in one step first, so that a second `lab down` at the same moment
        // finds either the whole lab or none of it, never a half-removed folder.
        let doomed = "\(directory).removing-\(getpid())"
        guard rename(directory, doomed) == 0 else {
            return errno == ENOENT ? nil : "rename \(directory): \(String(cString: strerror(errno)))"
        }
        do {
            try FileManager.default.removeItem(atPath: doomed)
        } catch {
            return "remove \(doomed): \(error)"
        }
        return nil
    }
}
