import Foundation
import Testing
import TestSupport

/// The engines as the plug-in tests start them, with their own runtime (runc): a baseline
/// that tells a fixture's failure from netctl's, and that they leave the host as it was.
@Suite struct EngineFixtureTests {
    @Test func dockerdRunsAContainerWithRuncAndLeavesNothing() throws {
        let before = HostNetworkState.read()
        var directory = ""
        var cgroup = ""
        try withTestNamespace { namespace in
            try withDockerd(netns: namespace.name) { docker in
                directory = docker.daemon.directory
                cgroup = docker.cgroupParent
                let image = try docker.loadBusybox()
                let result = try docker.docker(["run", "--rm", "--network", "none", image, "sh", "-c", "echo hi; exit 3"])
                #expect(result.stdout == "hi\n")
                #expect(result.status == 3)
            }
        }
        #expect(HostNetworkState.read() == before)
        #expect(!FileManager.default.fileExists(atPath: directory))
        #expect(!FileManager.default.fileExists(atPath: "/sys/fs/cgroup/memory/\(cgroup)"))
    }

    @Test func containerdRunsAContainerWithRuncAndLeavesNothing() throws {
        var directory = ""
        var namespacePID: Int32 = 0
        var cgroup = ""
        try withContainerd { containerd in
            directory = containerd.daemon.directory
            namespacePID = containerd.daemon.pid
            cgroup = containerd.namespace
            let image = try containerd.importBusybox()
            let result = try containerd.ctr(["run", "--rm", "--snapshotter", "native", image, uniqueName("nctc"), "sh", "-c", "echo hi; exit 3"])
            #expect(result.stdout == "hi\n")
            #expect(result.status == 3)
        }
        #expect(!FileManager.default.fileExists(atPath: directory))
        #expect(kill(namespacePID, 0) != 0)
        #expect(!FileManager.default.fileExists(atPath: "/sys/fs/cgroup/memory/\(cgroup)"))
    }
}
