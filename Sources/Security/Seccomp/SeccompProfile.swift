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

extension SeccompProfile {
    /// Every field the compiler reads, in a fixed order: a cache key for a profile that is
    /// not read from a file, some twenty times cheaper to make than its JSON.
    public var fingerprint: String {
        func list(_ items: [String]?) -> String { (items ?? []).joined(separator: ",") }
        func filter(_ filter: Filter?) -> String {
            guard let filter else { return "-" }
            return list(filter.caps) + ";" + list(filter.arches) + ";" + (filter.minKernel ?? "")
        }
        var text = defaultAction + " " + String(defaultErrnoRet ?? 0) + " " + list(architectures)
        for entry in archMap ?? [] { text += " " + entry.architecture + ":" + list(entry.subArchitectures) }
        for rule in syscalls ?? [] {
            text += "\n" + rule.action + " " + String(rule.errnoRet ?? 0) + " " + list(rule.allNames)
            text += " " + filter(rule.includes) + " " + filter(rule.excludes)
            for argument in rule.args ?? [] {
                text += " " + String(argument.index) + argument.op + String(argument.value) + "," + String(argument.valueTwo ?? 0)
            }
        }
        return text
    }
}

public struct SeccompError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
