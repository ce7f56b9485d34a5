import CRuntimeShim
import CSeccomp
import Glibc
import Security

/// `seccomp record -- CMD…`: runs a workload under ptrace (every process it starts too),
/// and writes the smallest profile that lets it run: the syscalls it made, and those the
/// runtime itself makes between installing the filter and execve; everything else EPERM.
public enum SeccompRecorder {
    /// What the shim calls after an early-installed filter (no no_new_privs), up to execve.
    static let runtimeSyscalls = ["capset", "chdir", "close", "close_range", "execve", "getresgid", "getresuid", "openat", "prctl", "setgroups", "setresgid", "setresuid", "write"]

    public static func record(_ command: [String]) throws -> (profile: SeccompProfile, status: Int32) {
        guard let name = command.first else { throw RuntimeError("seccomp record: no command given") }
        let path = try resolve(name)
        var seen = [UInt8](repeating: 0, count: 1024)
        let status = withCStrings([path] + command.dropFirst()) { argv in shim_record_syscalls(argv, &seen) }
        guard status >= 0 else { throw RuntimeError.system("seccomp record: \(name)") }
        let native = nc_seccomp_native_arch()
        var names: [String] = []
        for number in seen.indices where seen[number] != 0 {
            guard let resolved = seccomp_syscall_resolve_num_arch(native, Int32(number)) else { continue }
            names.append(String(cString: resolved))
            free(resolved)
        }
        let made = SeccompProfile.Rule(names: names.sorted(), action: "SCMP_ACT_ALLOW", comment: "made by: \(command.joined(separator: " "))")
        let runtime = SeccompProfile.Rule(names: runtimeSyscalls, action: "SCMP_ACT_ALLOW",
                                          comment: "the runtime's own, between installing the filter and execve")
        let profile = SeccompProfile(defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: UInt16(EPERM),
                                     architectures: ["SCMP_ARCH_X86_64"], archMap: nil, syscalls: [made, runtime])
        return (profile, Launcher.decode(status).code)
    }

    /// argv[0] as execvp would find it.
    private static func resolve(_ name: String) throws -> String {
        if name.contains("/") { return name }
        let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") where access("\(directory)/\(name)", X_OK) == 0 {
            return "\(directory)/\(name)"
        }
        throw RuntimeError("seccomp record: \"\(name)\": executable file not found in $PATH", exitCode: 127)
    }
}
