import Security

/// config.json of an OCI bundle (runtime-spec 1.x), as far as netctl runs it. Fields it
/// does not know are ignored, as runc ignores them.
struct RuntimeSpec: Decodable {
    var ociVersion: String
    var process: Process?
    var root: Root?
    var hostname: String?
    var mounts: [Mount]?
    var linux: Linux?
    var annotations: [String: String]?
    var hooks: Hooks?

    struct Process: Decodable {
        var terminal: Bool?
        var user: User
        var args: [String]?
        var env: [String]?
        var cwd: String
        var capabilities: Capabilities?
        var rlimits: [Rlimit]?
        var noNewPrivileges: Bool?
        var apparmorProfile: String?
        var oomScoreAdj: Int?
    }

    /// runtime-spec's hooks: programs run with the container's state on stdin.
    struct Hooks: Codable {
        var prestart: [Hook]?
        var createRuntime: [Hook]?
        var createContainer: [Hook]?
        var startContainer: [Hook]?
        var poststart: [Hook]?
        var poststop: [Hook]?
    }

    struct Hook: Codable {
        var path: String
        var args: [String]?
        var env: [String]?
        var timeout: Int?
    }

    struct User: Decodable {
        var uid: UInt32
        var gid: UInt32
        var additionalGids: [UInt32]?
    }

    struct Capabilities: Decodable {
        var bounding: [String]?
        var effective: [String]?
        var permitted: [String]?
        var inheritable: [String]?
        var ambient: [String]?
    }

    struct Rlimit: Decodable {
        var type: String
        var hard: UInt64
        var soft: UInt64
    }

    struct Root: Decodable {
        var path: String
        var readonly: Bool?
    }

    struct Mount: Decodable {
        var destination: String
        var type: String?
        var source: String?
        var options: [String]?
    }

    struct Linux: Decodable {
        var namespaces: [Namespace]?
        var maskedPaths: [String]?
        var readonlyPaths: [String]?
        var resources: Resources?
        var rootfsPropagation: String?
        var uidMappings: [IDMapping]?
        var gidMappings: [IDMapping]?
        /// runtime-spec's linux.seccomp: the same fields as Docker's format, without its
        /// includes and excludes.
        var seccomp: SeccompProfile?
        var cgroupsPath: String?
        var sysctl: [String: String]?
        var devices: [Device]?
    }

    struct Device: Decodable {
        var type: String
        var path: String
        var major: Int64?
        var minor: Int64?
        var fileMode: UInt32?
        var uid: UInt32?
        var gid: UInt32?
    }

    struct Namespace: Decodable {
        var type: String
        var path: String?
    }

    struct IDMapping: Decodable {
        var containerID: UInt32
        var hostID: UInt32
        var size: UInt32
    }

    /// linux.resources, also the document `update --resources` reads.
    struct Resources: Decodable {
        var memory: Memory?
        var pids: Pids?
        var cpu: CPU?
        var devices: [DeviceRule]?

        /// linux.resources.devices: the device cgroup's allow and deny list.
        struct DeviceRule: Decodable {
            var allow: Bool
            var type: String?
            var major: Int64?
            var minor: Int64?
            var access: String?
        }

        struct Memory: Decodable {
            var limit: Int64?
            var reservation: Int64?
            var swap: Int64?
        }
        struct Pids: Decodable { var limit: Int64 }
        struct CPU: Decodable {
            var shares: UInt64?
            var quota: Int64?
            var period: UInt64?
            var cpus: String?
            var mems: String?
        }
    }
}

/// `state` output: runtime-spec's State, with runc's rootfs, created and owner.
public struct RuntimeState: Codable, Sendable {
    public var ociVersion = "1.0.2"
    public var id: String
    public var pid: Int32
    public var status: String
    public var bundle: String
    public var rootfs: String?
    public var created: String?
    public var owner: String?
    public var annotations: [String: String]?
}
