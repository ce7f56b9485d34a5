import CNFTables

/// Turns `Expression`s into libnftnl expressions, and reads back their kind.
enum ExpressionEncoder {
    static func make(_ expression: Expression) -> OpaquePointer {
        let object = nftnl_expr_alloc(expression.kernelName)!
        func u32(_ attribute: Int, _ value: UInt32) {
            nftnl_expr_set_u32(object, UInt16(attribute), value)
        }
        func bytes(_ attribute: Int, _ value: [UInt8]) {
            value.withUnsafeBytes { _ = nftnl_expr_set(object, UInt16(attribute), $0.baseAddress, UInt32($0.count)) }
        }
        switch expression {
        case .meta(let key, let register):
            u32(NFTNL_EXPR_META_KEY, key.rawValue)
            u32(NFTNL_EXPR_META_DREG, register.number)
        case .setMeta(let key, let register):
            u32(NFTNL_EXPR_META_KEY, key.rawValue)
            u32(NFTNL_EXPR_META_SREG, register.number)
        case .payload(let base, let offset, let length, let register):
            u32(NFTNL_EXPR_PAYLOAD_BASE, base.rawValue)
            u32(NFTNL_EXPR_PAYLOAD_OFFSET, offset)
            u32(NFTNL_EXPR_PAYLOAD_LEN, length)
            u32(NFTNL_EXPR_PAYLOAD_DREG, register.number)
        case .compare(let comparison, let register, let data):
            u32(NFTNL_EXPR_CMP_SREG, register.number)
            u32(NFTNL_EXPR_CMP_OP, comparison.rawValue)
            bytes(NFTNL_EXPR_CMP_DATA, data)
        case .bitwise(let source, let destination, let mask, let xor):
            u32(NFTNL_EXPR_BITWISE_SREG, source.number)
            u32(NFTNL_EXPR_BITWISE_DREG, destination.number)
            u32(NFTNL_EXPR_BITWISE_LEN, UInt32(mask.count))
            bytes(NFTNL_EXPR_BITWISE_MASK, mask)
            bytes(NFTNL_EXPR_BITWISE_XOR, xor)
        case .lookup(let set, let key, let destination, let inverted):
            nftnl_expr_set_str(object, UInt16(NFTNL_EXPR_LOOKUP_SET), set)
            u32(NFTNL_EXPR_LOOKUP_SREG, key.number)
            if let destination { u32(NFTNL_EXPR_LOOKUP_DREG, destination.number) }
            if inverted { u32(NFTNL_EXPR_LOOKUP_FLAGS, UInt32(NFT_LOOKUP_F_INV.rawValue)) }
        case .conntrack(let key, let register):
            u32(NFTNL_EXPR_CT_KEY, key.rawValue)
            u32(NFTNL_EXPR_CT_DREG, register.number)
        case .setConntrack(let key, let register):
            u32(NFTNL_EXPR_CT_KEY, key.rawValue)
            u32(NFTNL_EXPR_CT_SREG, register.number)
        case .fib(let result, let flags, let register):
            u32(NFTNL_EXPR_FIB_RESULT, result.rawValue)
            u32(NFTNL_EXPR_FIB_FLAGS, flags.rawValue)
            u32(NFTNL_EXPR_FIB_DREG, register.number)
        case .verdict(let verdict):
            u32(NFTNL_EXPR_IMM_DREG, Register.verdict.number)
            u32(NFTNL_EXPR_IMM_VERDICT, UInt32(bitPattern: verdict.code))
            if let chain = verdict.chain { nftnl_expr_set_str(object, UInt16(NFTNL_EXPR_IMM_CHAIN), chain) }
        case .immediate(let register, let data):
            u32(NFTNL_EXPR_IMM_DREG, register.number)
            bytes(NFTNL_EXPR_IMM_DATA, data)
        case .nat(let kind, let family, let address, let port):
            u32(NFTNL_EXPR_NAT_TYPE, kind.rawValue)
            u32(NFTNL_EXPR_NAT_FAMILY, UInt32(family.rawValue))
            u32(NFTNL_EXPR_NAT_REG_ADDR_MIN, address.number)
            if let port { u32(NFTNL_EXPR_NAT_REG_PROTO_MIN, port.number) }
        case .masquerade, .counter, .notrack:
            break
        }
        return object
    }
}
