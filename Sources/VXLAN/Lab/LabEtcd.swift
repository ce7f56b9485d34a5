import Netlink

extension Lab {
    /// etcd for the lab: each member in a namespace of its own on the etcd segment, with
    /// TLS on client and peer URLs (certificates the lab makes, the members' addresses in
    /// their SANs) unless the topology says `tls: false`.
    mutating func startEtcd() throws {
        let members = plan.etcdMembers.map {
            EtcdCluster.Member(name: $0.name, namespace: $0.namespace, address: $0.address.description,
                               clientPort: Self.etcdClientPort, peerPort: Self.etcdPeerPort)
        }
        try LabFiles.makeDirectories(etcdDirectory, mode: 0o700)
        var certificates: ClusterCertificates?
        if topology.etcd.tls {
            try LabFiles.makeDirectories(certificateDirectory, mode: 0o700)
            let made = try ClusterCertificates.make(in: certificateDirectory, serverAddresses: members.map(\.address))
            state.clientTLS = LabState.ClientTLS(ca: made.ca, cert: made.clientCert, key: made.clientKey)
            certificates = made
        }
        let cluster = try EtcdCluster.start(members: members, directory: etcdDirectory, certificates: certificates)
        // etcd outlives `lab up`; `lab down` stops the members by pid.
        for (member, pid) in zip(members, cluster.detach()) { state.etcd[member.name] = LabProcessStamp(pid: pid) }
    }

    /// Each member's answer to a client on the first host, as the hosts reach etcd.
    func etcdHealth() -> String {
        guard let host = plan.hosts.first, let namespace = try? NetworkNamespace.open(named: host.namespace) else {
            return "unknown (no host namespace)"
        }
        let scheme = state.clientTLS == nil ? "http" : "https"
        let tls = state.clientTLS.map { EtcdTLS(caFile: $0.ca, certFile: $0.cert, keyFile: $0.key) }
        return plan.etcdMembers.map { member in
            let endpoint = "\(scheme)://\(member.address):\(Self.etcdClientPort)"
            do {
                let status = try namespace.perform { try EtcdClient(endpoints: [endpoint], tls: tls, timeout: 2).status() }
                return "\(member.name) healthy (etcd \(status.version), revision \(status.revision))"
            } catch {
                return "\(member.name) unhealthy (\(error))"
            }
        }.joined(separator: "; ")
    }
}
