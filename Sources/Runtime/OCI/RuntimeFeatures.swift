import Security

/// runtime-spec's features document (`runc features`): what this runtime does, honestly.
public enum RuntimeFeatures {
    public static func json(version: String) throws -> String {
        let seccompActions = ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
                              "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"]
        let operators = ["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"]
        let features = Features(
            ociVersionMin: "1.0.0", ociVersionMax: "1.1.0",
            hooks: ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
            mountOptions: MountOptions.names,
            linux: .init(
                namespaces: ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"],
                capabilities: Capability.names,
                cgroup: .init(v1: true, v2: true, systemd: false, systemdUser: false),
                seccomp: .init(enabled: true, actions: seccompActions, operators: operators, archs: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]),
                apparmor: .init(enabled: true), selinux: .init(enabled: false)),
            annotations: ["org.opencontainers.runc.version": version, "io.github.netctl.runtime": "netctl-runc",
                          "io.github.netctl.devices-cgroup": "cgroup v1 only (no BPF device filter on v2 yet)",
                          "io.github.netctl.systemd-cgroup": "slice:prefix:name mapped to cgroupfs paths, no systemd scope"])
        return try encodeJSONLine(features)
    }

    struct Features: Encodable {
        var ociVersionMin: String
        var ociVersionMax: String
        var hooks: [String]
        var mountOptions: [String]
        var linux: Linux
        var annotations: [String: String]

        struct Linux: Encodable {
            var namespaces: [String]
            var capabilities: [String]
            var cgroup: Cgroup
            var seccomp: Seccomp
            var apparmor: Enabled
            var selinux: Enabled
        }
        struct Cgroup: Encodable { var v1, v2, systemd, systemdUser: Bool }
        struct Seccomp: Encodable {
            var enabled: Bool
            var actions: [String]
            var operators: [String]
            var archs: [String]
        }
        struct Enabled: Encodable { var enabled: Bool }
    }
}
