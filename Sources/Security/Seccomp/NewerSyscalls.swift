import CSeccomp
import Glibc

/// Syscalls newer than a profile answer ENOSYS, as runc makes them answer. A profile
/// written before a syscall existed cannot have meant to deny it, and ENOSYS is what a
/// program probing for a new syscall falls back from (glibc does so for clone3, faccessat2,
/// statx…), where EPERM makes it fail. "Newer" is by number: above the highest syscall
/// the profile names on that architecture.
///
/// libseccomp has a single default action for whatever no rule matches, so the compiled
/// program is patched: every `ret DEFAULT` becomes a jump to a tail appended to the program,
/// which answers ENOSYS for a number above the profile's newest and DEFAULT otherwise.
/// Syscalls a rule decides never reach the tail and cost nothing more.
enum NewerSyscalls {
    struct Newest: Equatable {
        /// The architecture's AUDIT_ARCH value (libseccomp's token for it).
        var arch: UInt32
        var number: UInt32
        var name: String
    }

    /// Only a profile that denies by default has anything to patch.
    static func applies(toDefault action: UInt32) -> Bool {
        action != nc_seccomp_allow() && action != nc_seccomp_log() && action != nc_seccomp_errno(UInt16(ENOSYS))
            && action & 0xffff_0000 != nc_seccomp_trace(0)
    }

    /// The newest syscall the profile names, for each architecture the filter covers
    /// (x32 shares x86_64's audit value and is left to the default).
    static func newest(in profile: SeccompProfile, arches: [UInt32]) -> [Newest] {
        let names = Set((profile.syscalls ?? []).flatMap(\.allNames))
        let x32 = seccomp_arch_resolve_name("x32")
        var result: [Newest] = []
        for arch in arches where arch != x32 && !result.contains(where: { $0.arch == arch }) {
            var newest: Newest?
            for name in names {
                let number = seccomp_syscall_resolve_name_arch(arch, name)
                if number >= 0, UInt32(number) > newest?.number ?? 0 { newest = Newest(arch: arch, number: UInt32(number), name: name) }
            }
            if let newest { result.append(newest) }
        }
        return result
    }

    /// `program` (libseccomp's BPF) with its default answers routed through the tail.
    static func patch(_ program: [UInt8], defaultAction: UInt32, newest: [Newest]) -> [UInt8] {
        var instructions = stride(from: 0, to: program.count, by: 8).map { Instruction(program[$0..<$0 + 8]) }
        let start = instructions.count
        for index in instructions.indices where instructions[index] == .ret(defaultAction) {
            instructions[index] = .jump(to: start, from: index)
        }

        // The tail: find the architecture's block, compare the number, answer.
        let x86_64 = seccomp_arch_resolve_name("x86_64")
        let blockSizes = newest.map { $0.arch == x86_64 ? 3 : 2 }
        let headerSize = 1 + newest.count + 1
        let blockStarts = blockSizes.indices.map { headerSize + blockSizes.prefix($0).reduce(0, +) }
        let enosys = headerSize + blockSizes.reduce(0, +), deny = enosys + 1

        var tail: [Instruction] = [.loadWord(offset: 4)]  // seccomp_data.arch
        for (index, entry) in newest.enumerated() {
            tail.append(.jumpIf(.equal, entry.arch, to: blockStarts[index], else: tail.count + 1, at: tail.count))
        }
        tail.append(.jump(to: deny, from: tail.count))
        for entry in newest {
            tail.append(.loadWord(offset: 0))  // seccomp_data.nr
            if entry.arch == x86_64 {
                // x32 syscalls arrive as x86_64 with bit 30 set: not this block's to judge.
                tail.append(.jumpIf(.greaterOrEqual, 0x4000_0000, to: deny, else: tail.count + 1, at: tail.count))
            }
            tail.append(.jumpIf(.greater, entry.number, to: enosys, else: deny, at: tail.count))
        }
        tail.append(.ret(nc_seccomp_errno(UInt16(ENOSYS))))
        tail.append(.ret(defaultAction))
        return (instructions + tail).flatMap(\.bytes)
    }

    /// One classic BPF instruction (struct sock_filter), in the host's byte order.
    struct Instruction: Equatable {
        var code: UInt16
        var jt: UInt8
        var jf: UInt8
        var k: UInt32

        enum Comparison: UInt16 { case equal = 0x10, greater = 0x20, greaterOrEqual = 0x30 }

        init(code: UInt16, jt: UInt8 = 0, jf: UInt8 = 0, k: UInt32) {
            self.code = code
            self.jt = jt
            self.jf = jf
            self.k = k
        }

        /// libseccomp writes the program in the host's byte order, which the kernel reads.
        init(_ bytes: ArraySlice<UInt8>) {
            (code, jt, jf, k) = bytes.withUnsafeBytes {
                ($0.loadUnaligned(as: UInt16.self), $0[2], $0[3], $0.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
            }
        }

        var bytes: [UInt8] { withUnsafeBytes(of: code, Array.init) + [jt, jf] + withUnsafeBytes(of: k, Array.init) }

        static func ret(_ value: UInt32) -> Instruction { Instruction(code: 0x06, k: value) }  // BPF_RET|BPF_K
        static func loadWord(offset: UInt32) -> Instruction { Instruction(code: 0x20, k: offset) }  // BPF_LD|BPF_W|BPF_ABS
        /// BPF_JMP|BPF_JA: jumps are relative to the next instruction.
        static func jump(to target: Int, from index: Int) -> Instruction { Instruction(code: 0x05, k: UInt32(target - index - 1)) }
        static func jumpIf(_ comparison: Comparison, _ value: UInt32, to target: Int, else other: Int, at index: Int) -> Instruction {
            Instruction(code: 0x05 | comparison.rawValue, jt: UInt8(target - index - 1), jf: UInt8(other - index - 1), k: value)
        }
    }
}
