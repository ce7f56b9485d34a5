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

    struct Resources: Decodable {
        var memory: Memory?
        var pids: Pids?
        var cpu: CPU?

        struct Memory: Decodable { var limit: Int64? }
        struct Pids: Decodable { var limit: Int64 }
        struct CPU: Decodable {
            var quota: Int64?
            var period: UInt64?
        }
    }
}

/// `state` output (runtime-spec's State).
public struct RuntimeState: Codable, Sendable {
    public var ociVersion = "1.0.2"
    public var id: String
    public var status: String
    public var pid: Int32
    public var bundle: String
    public var annotations: [String: String]?
}
