/// Runs a seccomp program as the kernel does (classic BPF over struct seccomp_data), so
/// that two compiled profiles can be compared answer by answer without installing them.
struct ClassicBPF {
    private struct Instruction {
        var code: UInt16
        var jt: UInt8
        var jf: UInt8
        var k: UInt32
    }

    private let program: [Instruction]

    init(_ bytes: [UInt8]) {
        program = stride(from: 0, to: bytes.count, by: 8).map { offset in
            bytes[offset..<offset + 8].withUnsafeBytes {
                Instruction(code: $0.loadUnaligned(as: UInt16.self), jt: $0[2], jf: $0[3], k: $0.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
            }
        }
    }

    var count: Int { program.count }

    /// The filter's return value (action and data) for one syscall.
    func run(arch: UInt32, number: UInt32, arguments: [UInt64] = []) -> UInt32 {
        // struct seccomp_data: nr, arch, instruction_pointer, args[6], as 32-bit words.
        var data = [number, arch, 0, 0]
        for index in 0..<6 {
            let argument = index < arguments.count ? arguments[index] : 0
            data += [UInt32(truncatingIfNeeded: argument), UInt32(truncatingIfNeeded: argument >> 32)]
        }
        var a: UInt32 = 0, x: UInt32 = 0
        var scratch = [UInt32](repeating: 0, count: 16)
        var pc = 0
        while pc < program.count {
            let instruction = program[pc]
            pc += 1
            let operand = instruction.code & 0x08 != 0 ? x : instruction.k  // BPF_X or BPF_K
            switch instruction.code & 0x07 {
            case 0x00:  // BPF_LD
                switch instruction.code & 0xe0 {
                case 0x20: a = data[Int(instruction.k) / 4]  // BPF_ABS (words only in seccomp)
                case 0x00: a = instruction.k  // BPF_IMM
                case 0x60: a = scratch[Int(instruction.k)]  // BPF_MEM
                default: fatalError("unsupported load \(instruction.code)")
                }
            case 0x01:  // BPF_LDX
                x = instruction.code & 0xe0 == 0x60 ? scratch[Int(instruction.k)] : instruction.k
            case 0x02: scratch[Int(instruction.k)] = a  // BPF_ST
            case 0x03: scratch[Int(instruction.k)] = x  // BPF_STX
            case 0x04:  // BPF_ALU
                switch instruction.code & 0xf0 {
                case 0x00: a &+= operand
                case 0x10: a &-= operand
                case 0x20: a &*= operand
                case 0x40: a |= operand
                case 0x50: a &= operand
                case 0x60: a <<= operand
                case 0x70: a >>= operand
                case 0x80: a = 0 &- a
                case 0xa0: a ^= operand
                default: fatalError("unsupported ALU operation \(instruction.code)")
                }
            case 0x05:  // BPF_JMP
                let taken: Bool
                switch instruction.code & 0xf0 {
                case 0x00: pc += Int(instruction.k); continue  // BPF_JA
                case 0x10: taken = a == operand
                case 0x20: taken = a > operand
                case 0x30: taken = a >= operand
                case 0x40: taken = a & operand != 0
                default: fatalError("unsupported jump \(instruction.code)")
                }
                pc += Int(taken ? instruction.jt : instruction.jf)
            case 0x06:  // BPF_RET
                return instruction.code & 0x18 == 0x10 ? a : instruction.k
            default:  // BPF_MISC: TAX, TXA
                if instruction.code & 0xf8 == 0 { x = a } else { a = x }
            }
        }
        fatalError("the program ran off its end")
    }
}
