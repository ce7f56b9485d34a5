import FoundationEssentials
import Glibc
import Netlink
import Synchronization

extension Lab {
    /// `lab up FILE`: the underlay (switches, routers, hosts), etcd, an agent per host, the
    /// overlay networks and the containers, in that order. All or nothing: a failure
    /// halfway takes down whatever was made, and the error is one line.
    public static func up(file: String, directory: String? = nil, progress: (String) -> Void = { _ in }) throws -> Lab {
        LabRunner.keepDescriptorsFromChildren()
        let text = try LabFiles.read(file, limit: LabTopology.maximumFileSize)
        let topology = try LabTopology.parse(text, file: file)
        let directory = absolute(directory ?? defaultDirectory(name: topology.name))
        // One up or down of a lab name at a time: a second `lab up` waits, then finds the
        // lab there and refuses, instead of racing the first for its namespaces.
        let lock = try LabLock(name: topology.name)
        // The lock file stays while the lab does; `down` (or undoing a failure) removes it.
        var labRemains = true
        defer { labRemains ? lock.release() : lock.remove() }
        if access(directory + "/topology.yaml", F_OK) == 0 || !labNamespaces(name: topology.name, directory: directory).isEmpty {
            throw LabError("lab \"\(topology.name)\" is already up, or was left half made (expected netctl lab down \(topology.name) first)")
        }
        var lab = Lab(directory: directory, topology: topology, state: LabState())
        lab.state.fileDirectory = absolute(file.contains("/") ? String(file[..<file.lastIndex(of: "/")!]) : ".")
        do {
            try LabFiles.makeDirectories(directory, mode: 0o700)
            try LabFiles.write(directory + "/topology.yaml", Array(text.utf8))
            try lab.saveState()
            // Each step reports what it made and how long it took.
            func step(_ title: String, _ body: () throws -> Void) throws {
                let started = monotonicSeconds()
                try body()
                let milliseconds = Int(((monotonicSeconds() - started) * 1000).rounded())
                progress("\(title) (\(milliseconds) ms)")
            }
            try step("underlay: \(lab.plan.switches.count) segment(s), \(lab.plan.nodes.count) node(s)") { try lab.buildUnderlay() }
            // While etcd starts, the hosts get what needs no cluster store: their state roots,
            // the containers' sandboxes, the images.
            let hosts = lab
            try step("etcd: \(topology.etcd.members) member(s)\(topology.etcd.tls ? " with TLS" : ""); host roots, sandboxes, images") {
                try LabRunner.together({
                    try lab.startEtcd()
                    try lab.saveState()
                }, { try hosts.prepareHosts() })
            }
            try step("agents: \(topology.hosts.count)") {
                try lab.startAgents()
                try lab.saveState()
            }
            if !topology.networks.isEmpty {
                try step("networks: \(topology.networks.map(\.name).joined(separator: ", "))") { try lab.createNetworks() }
            }
            if !topology.containers.isEmpty {
                try step("containers: \(topology.containers.map(\.name).joined(separator: ", "))") { try lab.createContainers() }
            }
            lab.state.complete = true
            try lab.saveState()
            return lab
        } catch {
            labRemains = !Lab.tearDown(name: topology.name, directory: directory).isEmpty
            throw error
        }
    }

    // MARK: Underlay

    /// Switch namespaces with their bridges first, then every node at once: its namespace,
    /// a veth per segment made in the switch namespace with its peer born in the node's,
    /// addresses and routes.
    func buildUnderlay() throws {
        let switches = Mutex<[String: NetworkNamespace]>([:])
        try LabRunner.inParallel(plan.switches) { segment in
            // ip netns add <lab>-s-<seg>; ip link add br0 type bridge; ip link set br0 up
            let namespace = try NetworkNamespace.create(named: segment.namespace) { session in
                try session.linkSet(.name("lo"), up: true, alias: LabPlan.marker(topology.name))
                try session.linkAdd(LinkSpec(name: LabPlan.bridgeName, kind: .bridge, up: true))
                // A switch has no address of its own and takes no part in the traffic.
                try Sysctl.write("net/ipv6/conf/all/disable_ipv6", "1")
            }
            switches.withLock { $0[segment.segment] = namespace }
        }
        let switchOf = switches.withLock { $0 }
        try LabRunner.inParallel(plan.nodes) { node in
            let namespace = try NetworkNamespace.create(named: node.namespace) { session in
                try session.linkSet(.name("lo"), up: true, alias: LabPlan.marker(topology.name))
                // Only routers forward: a host must not carry one segment's traffic to another.
                try Sysctl.write("net/ipv4/ip_forward", node.role == .router ? "1" : "0")
            }
            for leg in node.legs {
                // ip -n <lab>-s-<seg> link add <node> master br0 up type veth peer <seg> netns <lab>-<node>
                let switchSession = try NetlinkSession(in: switchOf[leg.segment]!)
                let bridge = try switchSession.index(of: .name(LabPlan.bridgeName))
                try switchSession.linkAdd(LinkSpec(name: leg.port, kind: .veth(peer: VethPeer(name: leg.interface, namespace: namespace, mtu: leg.mtu)),
                                                   mtu: leg.mtu, master: bridge, up: true))
            }
            let session = try NetlinkSession(in: namespace)
            let request = session.batch()
            for leg in node.legs {
                // ip link set <seg> up; ip addr add <address> dev <seg>
                let index = try session.index(of: .name(leg.interface))
                session.addLinkSet(.index(index), up: true, to: request)
                session.addAddressAdd(leg.address, interface: index, to: request)
            }
            try session.execute(request)
            let routes = session.batch()
            for route in node.routes {
                // ip route add <segment subnet> via <router>
                session.addRouteAdd(Route(destination: route.destination, gateway: route.gateway), to: routes)
            }
            try session.execute(routes)
        }
    }

    // MARK: Agents, networks, containers

    /// `netctl agent` on every host, in the background, its log beside the host's root.
    mutating func startAgents() throws {
        for host in topology.hosts {
            let pid = try LabRunner.startService(try commandLine(host: host.name, ["netctl", "agent"]),
                                                  environment: environment(host: host.name),
                                                  log: hostDirectory(host.name) + "/agent.log")
            guard let stamp = LabProcessStamp(pid: pid) else {
                throw LabError("host \(host.name): the agent ended at once (see \(hostDirectory(host.name))/agent.log)")
            }
            state.agents[host.name] = stamp
        }
    }

    /// Overlays are cluster-wide: created once, on the first host.
    func createNetworks() throws {
        let first = topology.hosts[0].name
        for network in topology.networks {
            var arguments = ["network", "create", "-d", "overlay", "--attachable"]
            for subnet in network.subnets { arguments += ["--subnet", subnet.description] }
            if network.internal { arguments.append("--internal") }
            let result = try run(host: first, ["netctl"] + arguments + [network.name])
            guard result.status == 0 else {
                throw LabError("network \(network.name): netctl network create on \(first) exited \(result.status): \(result.reason)")
            }
        }
    }

    /// Each host's state root, its containers' sandboxes (`netctl sandbox create`) and
    /// the images its containers run (`netctl image import`), the hosts in parallel.
    func prepareHosts() throws {
        for host in topology.hosts { try LabFiles.makeDirectories(hostRoot(host.name), mode: 0o700) }
        let byHost = Dictionary(grouping: topology.containers, by: \.host)
        try LabRunner.inParallel(Array(byHost.keys).sorted()) { host in
            var imported: Set<String> = []
            for container in byHost[host]! {
                if let image = container.image {
                    guard !imported.contains(image) else { continue }
                    try netctl(host: host, "image", "import", "--name", imageName(image), try imagePath(image))
                    imported.insert(image)
                } else {
                    try netctl(host: host, "sandbox", "create", LabPlan.sandboxName(lab: topology.name, container: container.name))
                }
            }
        }
    }

    /// Containers join their networks on their hosts, the hosts in parallel: a sandbox by
    /// `netctl network connect`, an image by `netctl run -d`.
    func createContainers() throws {
        let byHost = Dictionary(grouping: topology.containers, by: \.host)
        try LabRunner.inParallel(Array(byHost.keys).sorted()) { host in
            for container in byHost[host]! {
                if let image = container.image {
                    var arguments = ["run", "-d", "--name", container.name, "--hostname", container.name]
                    for network in container.networks { arguments += ["--network", network] }
                    let result = try run(host: host, ["netctl"] + arguments + [imageName(image), "sleep", "2147483647"])
                    guard result.status == 0 else {
                        throw LabError("container \(container.name): netctl run on \(host) exited \(result.status): \(result.reason)")
                    }
                } else {
                    let sandbox = LabPlan.sandboxName(lab: topology.name, container: container.name)
                    for network in container.networks {
                        try netctl(host: host, "network", "connect", network, sandbox)
                    }
                }
            }
        }
    }
}
