/// A seccomp profile in Docker's JSON format (the one `--security-opt seccomp=PATH` takes,
/// moby's profiles/seccomp): a default action, the architectures it covers, and rules by
/// syscall name with optional argument comparisons, included or excluded by capability,
/// architecture or kernel version.
public struct SeccompProfile: Codable, Sendable {
    public var defaultAction: String
    public var defaultErrnoRet: UInt16?
    public var architectures: [String]?
    public var archMap: [ArchMap]?
    public var syscalls: [Rule]?

    public init(defaultAction: String, defaultErrnoRet: UInt16? = nil, architectures: [String]? = nil, archMap: [ArchMap]? = nil, syscalls: [Rule]? = nil) {
        self.defaultAction = defaultAction
        self.defaultErrnoRet = defaultErrnoRet
        self.architectures = architectures
        self.archMap = archMap
        self.syscalls = syscalls
    }

    public struct ArchMap: Codable, Sendable {
        public var architecture: String
        public var subArchitectures: [String]?
    }

    public struct Rule: Codable, Sendable {
        public var names: [String]?
        public var name: String?
        public var action: String
        public var errnoRet: UInt16?
        public var args: [Argument]?
        public var includes: Filter?
        public var excludes: Filter?
        public var comment: String?

        public var allNames: [String] { (names ?? []) + (name.map { [$0] } ?? []) }

        public init(names: [String], action: String, errnoRet: UInt16? = nil, args: [Argument]? = nil, comment: String? = nil,
                    includes: Filter? = nil, excludes: Filter? = nil) {
            self.names = names
            self.action = action
            self.errnoRet = errnoRet
            self.args = args
            self.comment = comment
            self.includes = includes
            self.excludes = excludes
        }
    }

    public struct Argument: Codable, Sendable {
        public var index: UInt32
        public var value: UInt64
        public var valueTwo: UInt64?
        public var op: String
    }

    public struct Filter: Codable, Sendable {
        public var caps: [String]?
        public var arches: [String]?
        public var minKernel: String?
    }
}

public struct SeccompError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
