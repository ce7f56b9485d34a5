import CSeccomp
import Foundation
import Security
import Testing

/// netctl's built-in seccomp profile against Docker's own (the fixture), compared on the
/// compiled programs: every syscall number of x86_64 and x86, with the argument values the
/// profiles' argument checks turn on, for the capability sets that change the answers.
@Suite struct DefaultProfileTests {
    static let mobyDefault: String = {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("shared/fixtures/seccomp/moby-default.json").path
    }()

    static var docker: SeccompProfile {
        get throws { try JSONDecoder().decode(SeccompProfile.self, from: Data(contentsOf: URL(fileURLWithPath: mobyDefault))) }
    }

    static let capabilitySets: [[String]] = [
        [], ["SYS_ADMIN"], ["SYS_PTRACE"], ["BPF", "PERFMON", "SYSLOG"], ["SYS_MODULE", "SYS_BOOT", "SYS_CHROOT", "SYS_PACCT"],
        ["SYS_RAWIO", "SYS_TIME", "SYS_TTY_CONFIG", "SYS_NICE", "DAC_READ_SEARCH"], ["ALL"],
    ]

    static let x86_64 = seccomp_arch_resolve_name("x86_64"), x86 = seccomp_arch_resolve_name("x86")

    /// Values around the socket families, personalities and clone flags the profiles test,
    /// and every single bit.
    static let argumentSamples: [UInt64] = [0, 1, 8, 37, 38, 39, 40, 41, 0x20000, 0x20008, 0xffff_ffff, 0x1_0000_0000, 0x7e02_0000, 0x11]
        + (0..<32).map { 1 << UInt64($0) }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: mobyDefault), "../shared/fixtures is not beside the checkout"),
          arguments: capabilitySets)
    func decidesAsDockersProfile(_ added: [String]) throws {
        let capabilities = try CapabilitySets.resolve(add: added, drop: [], privileged: false, uid: 0).bounding
        let docker = try Self.docker
        let ours = ClassicBPF(try SeccompCompiler.compile(.builtinDefault, capabilities: capabilities))
        let theirs = ClassicBPF(try SeccompCompiler.compile(docker, capabilities: capabilities))

        // Syscalls that some rule checks the arguments of, in either profile.
        let checked = Set(((SeccompProfile.builtinDefault.syscalls ?? []) + (docker.syscalls ?? []))
            .filter { !($0.args ?? []).isEmpty }.flatMap(\.allNames))
        var compared = 0
        for arch in [Self.x86_64, Self.x86] {
            let checkedNumbers = Set(checked.map { UInt32(bitPattern: seccomp_syscall_resolve_name_arch(arch, $0)) })
            for number in UInt32(0)..<1024 {
                var samples: [[UInt64]] = [[]]
                if checkedNumbers.contains(number) {
                    samples += Self.argumentSamples.map { [$0] } + Self.argumentSamples.map { [0, $0] }
                }
                for arguments in samples {
                    let mine = ours.run(arch: arch, number: number, arguments: arguments)
                    let expected = theirs.run(arch: arch, number: number, arguments: arguments)
                    #expect(mine == expected, "arch \(String(arch, radix: 16)) syscall \(number) \(arguments) with \(added): \(String(mine, radix: 16)) instead of \(String(expected, radix: 16))")
                    compared += 1
                }
            }
        }
        #expect(compared > 2048)
    }

    static let allow: UInt32 = 0x7fff_0000, eperm: UInt32 = 0x0005_0001, enosys: UInt32 = 0x0005_0026

    @Test func answersWhatDockerAnswers() throws {
        let defaults = try CapabilitySets.resolve(add: [], drop: [], privileged: false, uid: 0).bounding
        let filter = ClassicBPF(try SeccompCompiler.compile(.builtinDefault, capabilities: defaults))
        func answer(_ name: String, _ arguments: [UInt64] = []) -> UInt32 {
            filter.run(arch: Self.x86_64, number: UInt32(seccomp_syscall_resolve_name(name)), arguments: arguments)
        }
        for name in ["read", "write", "openat", "execve", "mmap", "futex", "clone", "wait4", "getppid", "socketpair"] {
            #expect(answer(name) == Self.allow, "\(name)")
        }
        for name in ["keyctl", "bpf", "unshare", "mount", "setns", "kexec_load", "io_uring_setup", "userfaultfd", "reboot"] {
            #expect(answer(name) == Self.eperm, "\(name)")
        }
        #expect(answer("clone3") == Self.enosys)
        #expect(answer("clone", [0x2000_0000]) == Self.eperm)  // CLONE_NEWUTS
        #expect(answer("socket", [2]) == Self.allow && answer("socket", [40]) == Self.eperm)  // AF_INET, AF_VSOCK
        #expect(answer("personality", [0x0040_0000]) == Self.eperm)  // READ_IMPLIES_EXEC

        // Newer than the profile: ENOSYS, also for numbers libseccomp has no name for.
        let newest = try #require(try SeccompCheck.newestSyscall(.builtinDefault))
        for number in [newest.number + 1, 462 /* mseal, unknown to libseccomp 2.5 */, 1000] where number > newest.number {
            #expect(filter.run(arch: Self.x86_64, number: number) == Self.enosys, "syscall \(number)")
        }
        #expect(filter.run(arch: Self.x86_64, number: newest.number) == Self.allow)
        // x32 numbers (bit 30) are left to the filter's x32 rules, not taken for new ones.
        #expect(filter.run(arch: Self.x86_64, number: 0x4000_0000 | 39) == Self.allow)

        // A profile that allows by default is not touched: a new syscall stays allowed.
        let open = ClassicBPF(try SeccompCompiler.compile(SeccompProfile(defaultAction: "SCMP_ACT_ALLOW", syscalls: [
            .init(names: ["keyctl"], action: "SCMP_ACT_ERRNO"),
        ]), capabilities: defaults))
        #expect(open.run(arch: Self.x86_64, number: 1000) == Self.allow)
        #expect(open.run(arch: Self.x86_64, number: 250) == Self.eperm)
    }

    @Test func builtinRoundTripsThroughDockersFormat() throws {
        let encoded = try JSONEncoder().encode(SeccompProfile.builtinDefault)
        let decoded = try JSONDecoder().decode(SeccompProfile.self, from: encoded)
        let capabilities = try CapabilitySets.resolve(add: [], drop: [], privileged: false, uid: 0).bounding
        #expect(try SeccompCompiler.compile(decoded, capabilities: capabilities) == SeccompCompiler.compile(.builtinDefault, capabilities: capabilities))
    }
}
