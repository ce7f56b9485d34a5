import CSeccomp
import Glibc

/// Turns a profile into the BPF program the kernel runs, with libseccomp, in the parent:
/// the container's first process only installs the bytes. libseccomp's binary-tree
/// optimisation (level 2) keeps the number of instructions a syscall walks logarithmic.
public enum SeccompCompiler {
    public enum Format: String, Sendable { case bpf, pfc }

    /// For a container holding `capabilities` (a capset mask): rules that include or
    /// exclude capabilities, architectures or kernel versions are chosen as Docker does.
    public static func compile(_ profile: SeccompProfile, capabilities: UInt64, format: Format = .bpf) throws -> [UInt8] {
        let defaultAction = try action(profile.defaultAction, errno: profile.defaultErrnoRet, profile: profile, field: "defaultAction")
        guard let context = seccomp_init(defaultAction) else { throw SeccompError("seccomp: libseccomp could not start a filter") }
        defer { seccomp_release(context) }
        seccomp_attr_set(context, SCMP_FLTATR_CTL_OPTIMIZE, 2)

        let arches = try architectures(profile)
        for arch in arches where arch != nc_seccomp_native_arch() {
            let result = seccomp_arch_add(context, arch)
            guard result == 0 || result == -EEXIST else { throw SeccompError("seccomp: adding an architecture failed: \(String(cString: strerror(-result)))") }
        }

        for (index, rule) in (profile.syscalls ?? []).enumerated() {
            let field = "syscalls[\(index)]"
            let ruleAction = try action(rule.action, errno: rule.errnoRet ?? profile.defaultErrnoRet, profile: profile, field: "\(field).action")
            let comparisons = try (rule.args ?? []).map { try comparison($0, field: field) }
            guard try applies(rule, capabilities: capabilities) else { continue }
            // Several comparisons on one argument cannot be ANDed by libseccomp: each becomes
            // a rule of its own (so they are ORed), as runc and Docker do it.
            let indexes = comparisons.map(\.arg)
            let groups = Set(indexes).count == indexes.count ? [comparisons] : comparisons.map { [$0] }
            for name in rule.allNames {
                let number = seccomp_syscall_resolve_name(name)
                if number == __NR_SCMP_ERROR { continue }  // not on this architecture or kernel
                for group in groups {
                    let result = group.withUnsafeBufferPointer {
                        seccomp_rule_add_array(context, ruleAction, number, UInt32($0.count), $0.baseAddress)
                    }
                    // -EACCES: the rule's action is the default one, nothing to add.
                    guard result == 0 || result == -EACCES || result == -EEXIST else {
                        throw SeccompError("seccomp: \(field) (\(name)): libseccomp refused the rule: \(String(cString: strerror(-result)))")
                    }
                }
            }
        }

        var bytes: UnsafeMutablePointer<UInt8>?
        var length = 0
        let result = nc_seccomp_export(context, format == .pfc ? 1 : 0, &bytes, &length)
        guard result == 0, let bytes else { throw SeccompError("seccomp: exporting the filter failed (\(result))") }
        defer { free(bytes) }
        let program = Array(UnsafeBufferPointer(start: bytes, count: length))
        guard NewerSyscalls.applies(toDefault: defaultAction) else { return program }
        let newest = NewerSyscalls.newest(in: profile, arches: [nc_seccomp_native_arch()] + arches)
        switch format {
        case .bpf:
            return NewerSyscalls.patch(program, defaultAction: defaultAction, newest: newest)
        case .pfc:
            let note = newest.map { "# syscalls after \($0.name) (\($0.number)) on arch 0x\(String($0.arch, radix: 16)): ERRNO(\(ENOSYS)), newer than the profile\n" }
            return program + Array(note.joined().utf8)
        }
    }

    // MARK: Profile fields

    static func action(_ name: String, errno: UInt16?, profile: SeccompProfile, field: String) throws -> UInt32 {
        switch name {
        case "SCMP_ACT_ALLOW": return nc_seccomp_allow()
        case "SCMP_ACT_ERRNO": return nc_seccomp_errno(errno ?? UInt16(EPERM))
        case "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD": return nc_seccomp_kill_thread()
        case "SCMP_ACT_KILL_PROCESS": return nc_seccomp_kill_process()
        case "SCMP_ACT_TRAP": return nc_seccomp_trap()
        case "SCMP_ACT_TRACE": return nc_seccomp_trace(errno ?? UInt16(EPERM))
        case "SCMP_ACT_LOG": return nc_seccomp_log()
        default:
            throw SeccompError("seccomp profile: \(field) \"\(name)\" is not an action (expected SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_KILL, SCMP_ACT_KILL_PROCESS, SCMP_ACT_TRAP, SCMP_ACT_TRACE or SCMP_ACT_LOG)")
        }
    }

    private static let operators: [String: scmp_compare] = [
        "SCMP_CMP_NE": SCMP_CMP_NE, "SCMP_CMP_LT": SCMP_CMP_LT, "SCMP_CMP_LE": SCMP_CMP_LE, "SCMP_CMP_EQ": SCMP_CMP_EQ,
        "SCMP_CMP_GE": SCMP_CMP_GE, "SCMP_CMP_GT": SCMP_CMP_GT, "SCMP_CMP_MASKED_EQ": SCMP_CMP_MASKED_EQ,
    ]

    private static func comparison(_ argument: SeccompProfile.Argument, field: String) throws -> scmp_arg_cmp {
        guard let op = operators[argument.op] else {
            throw SeccompError("seccomp profile: \(field).args: \"\(argument.op)\" is not an operator (expected SCMP_CMP_NE, _LT, _LE, _EQ, _GE, _GT or _MASKED_EQ)")
        }
        guard argument.index < 6 else { throw SeccompError("seccomp profile: \(field).args: index \(argument.index) is not 0 to 5") }
        return scmp_arg_cmp(arg: argument.index, op: op, datum_a: argument.value, datum_b: argument.valueTwo ?? 0)
    }

    /// The architectures the filter covers: from archMap the native one and its
    /// sub-architectures (x86_64: x86 and x32), else the `architectures` list.
    static func architectures(_ profile: SeccompProfile) throws -> [UInt32] {
        func resolve(_ name: String) throws -> UInt32 {
            let arch = architecture(name)
            guard arch != 0 else { throw SeccompError("seccomp profile: \"\(name)\" is not an architecture libseccomp knows") }
            return arch
        }
        if let map = profile.archMap {
            var arches: [UInt32] = []
            // Entries for other machines may name architectures this libseccomp predates.
            for entry in map where (try? resolve(entry.architecture)) == nc_seccomp_native_arch() {
                arches += [nc_seccomp_native_arch()] + (try (entry.subArchitectures ?? []).map(resolve))
            }
            return arches
        }
        return try (profile.architectures ?? []).map(resolve)
    }

    /// Docker's includes/excludes: every included capability held, no excluded one;
    /// the native architecture listed (or not excluded); the kernel new enough.
    static func applies(_ rule: SeccompProfile.Rule, capabilities: UInt64) throws -> Bool {
        func held(_ name: String) throws -> Bool {
            guard let number = Capability.number(name) else { throw SeccompError("seccomp profile: unknown capability \"\(name)\"") }
            return capabilities & (1 << UInt64(number)) != 0
        }
        let native = nc_seccomp_native_arch()
        func resolved(_ names: [String]) -> [UInt32] { names.map(architecture) }
        if let include = rule.includes {
            for cap in include.caps ?? [] where try !held(cap) { return false }
            if let arches = include.arches, !arches.isEmpty, !resolved(arches).contains(native) { return false }
            if let minimum = include.minKernel, let kernel = kernelVersion(), kernel.lexicographicallyPrecedes(version(minimum)) { return false }
        }
        if let exclude = rule.excludes {
            for cap in exclude.caps ?? [] where try held(cap) { return false }
            if let arches = exclude.arches, resolved(arches).contains(native) { return false }
        }
        return true
    }

    /// libseccomp's number for an architecture, 0 if unknown. archMap names them as
    /// libseccomp does (SCMP_ARCH_X86_64), rules' includes and excludes as Go does (amd64).
    private static func architecture(_ name: String) -> UInt32 {
        let go = ["amd64": "x86_64", "386": "x86", "arm64": "aarch64", "mips64le": "mipsel64", "loong64": "loongarch64"]
        let short = (name.hasPrefix("SCMP_ARCH_") ? String(name.dropFirst(10)) : name).lowercased()
        return seccomp_arch_resolve_name(go[short] ?? short)
    }

    private static func version(_ text: String) -> [Int] {
        text.split(separator: ".").prefix(2).map { Int($0.prefix { $0.isNumber }) ?? 0 }
    }

    private static func kernelVersion() -> [Int]? {
        var names = utsname()
        guard uname(&names) == 0 else { return nil }
        let release = withUnsafeBytes(of: names.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return version(release)
    }
}

/// `seccomp check`: what a profile decides for each syscall this machine knows, and which
/// rule decides it, for a container holding `capabilities`.
public enum SeccompCheck {
    public struct Decision: Sendable {
        public var syscall: String
        public var action: String
        /// "default", or `syscalls[N]` with the rule's comment.
        public var reason: String
        /// The rule compares arguments: the action applies only when they match.
        public var conditional: Bool
    }

    public static func decisions(_ profile: SeccompProfile, capabilities: UInt64) throws -> [Decision] {
        _ = try SeccompCompiler.action(profile.defaultAction, errno: profile.defaultErrnoRet, profile: profile, field: "defaultAction")
        var byName: [String: Decision] = [:]
        for (index, rule) in (profile.syscalls ?? []).enumerated() {
            _ = try SeccompCompiler.action(rule.action, errno: rule.errnoRet, profile: profile, field: "syscalls[\(index)].action")
            guard try SeccompCompiler.applies(rule, capabilities: capabilities) else { continue }
            var action = rule.action
            if rule.action == "SCMP_ACT_ERRNO" { action += "(\(errnoName(rule.errnoRet ?? profile.defaultErrnoRet ?? UInt16(EPERM))))" }
            let reason = "syscalls[\(index)]" + (rule.comment.map { $0.isEmpty ? "" : " (\($0))" } ?? "")
            for name in rule.allNames where byName[name] == nil || byName[name]!.conditional {
                byName[name] = Decision(syscall: name, action: action, reason: reason, conditional: !(rule.args ?? []).isEmpty)
            }
        }
        var defaultAction = profile.defaultAction
        if defaultAction == "SCMP_ACT_ERRNO" { defaultAction += "(\(errnoName(profile.defaultErrnoRet ?? UInt16(EPERM))))" }
        var result: [Decision] = []
        let native = nc_seccomp_native_arch()
        for number in 0..<1024 {
            guard let name = seccomp_syscall_resolve_num_arch(native, Int32(number)) else { continue }
            defer { free(name) }
            let syscall = String(cString: name)
            result.append(byName[syscall] ?? Decision(syscall: syscall, action: defaultAction, reason: "default", conditional: false))
        }
        return result
    }

    /// The newest syscall the profile names on this machine's architecture, after which
    /// syscalls answer ENOSYS; nil when the profile does not deny by default.
    public static func newestSyscall(_ profile: SeccompProfile) throws -> (name: String, number: UInt32)? {
        let defaultAction = try SeccompCompiler.action(profile.defaultAction, errno: profile.defaultErrnoRet, profile: profile, field: "defaultAction")
        guard NewerSyscalls.applies(toDefault: defaultAction) else { return nil }
        return NewerSyscalls.newest(in: profile, arches: [nc_seccomp_native_arch()]).first.map { ($0.name, $0.number) }
    }

    /// libseccomp's version, as it reports it at run time.
    public static var libraryVersion: String {
        guard let version = seccomp_version() else { return "unknown" }
        return "\(version.pointee.major).\(version.pointee.minor).\(version.pointee.micro)"
    }

    static func errnoName(_ code: UInt16) -> String {
        let names: [UInt16: String] = [1: "EPERM", 13: "EACCES", 22: "EINVAL", 38: "ENOSYS"]
        return names[code] ?? String(code)
    }
}
