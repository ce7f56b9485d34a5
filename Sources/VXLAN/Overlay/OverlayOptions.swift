import CNM
import Glibc

/// Docker's `-o` options for overlay networks.
public enum OverlayOptions {
    /// `com.docker.network.driver.overlay.vxlanid_list=N[,M…]`: one VNI per subnet, in order.
    public static let vxlanIDList = "com.docker.network.driver.overlay.vxlanid_list"
    public static let mtu = "com.docker.network.driver.mtu"
    /// `-o encrypted`: IPsec ESP between VTEPs (refused where the kernel has no ESP).
    public static let encrypted = "encrypted"
    public static let interfacePrefix = "com.docker.network.container_iface_prefix"
    static let all = [vxlanIDList, mtu, encrypted, interfacePrefix]

    /// VNIs are 24 bits; 0 is not a VNI.
    public static let vniRange: ClosedRange<UInt32> = 1...16_777_215
    /// Where the cluster's allocator starts, as Docker's.
    static let firstAllocatedVNI: UInt32 = 4096

    /// The VNIs asked for with `vxlanid_list`, checked.
    static func requestedVNIs(_ network: NetworkRecord) throws -> [UInt32] {
        guard let text = network.options[vxlanIDList] else { return [] }
        var vnis: [UInt32] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard let vni = UInt32(String(part.filter { $0 != " " })), vniRange.contains(vni) else {
                throw CNMError("invalid VNI \"\(part)\" in option \(vxlanIDList): expected a number from 1 to 16777215")
            }
            guard !vnis.contains(vni) else { throw CNMError("VNI \(vni) is given twice in option \(vxlanIDList)") }
            vnis.append(vni)
        }
        guard vnis.count <= max(network.pools.count, 1) else {
            throw CNMError("option \(vxlanIDList) gives \(vnis.count) VNIs for \(network.pools.count) subnet\(network.pools.count == 1 ? "" : "s"): expected at most one per subnet")
        }
        return vnis
    }

    /// The VNIs a recorded network holds, one per subnet.
    public static func vnis(of network: NetworkRecord) -> [UInt32] {
        (network.options[vxlanIDList] ?? "").split(separator: ",").compactMap { UInt32($0) }
    }

    /// Whether this kernel can run ESP between VTEPs: the esp4 module, built in or loaded,
    /// and the xfrm framework.
    static var kernelHasESP: Bool {
        access("/proc/net/xfrm_stat", F_OK) == 0 && access("/sys/module/esp4", F_OK) == 0
    }
}
