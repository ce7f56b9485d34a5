import CNM
import Netlink

/// Overlay networks across hosts: VXLAN carries a flat layer-2 network over a routed
/// underlay, etcd holds the cluster's records, an agent per host keeps the kernel's
/// forwarding entries equal to the peer table.
public enum Overlay {
    /// The VXLAN UDP port, cluster-wide (IANA's 4789, as Docker and the kernel's default).
    public static let defaultPort: UInt16 = 4789
}
