/// Walking the messages of a received datagram. libmnl 1.0.4's mnl_nlmsg_ok compares
/// nlmsg_len with what remains as a signed int, so a length of 2 GiB or more passes as
/// negative and mnl_nlmsg_next then steps gigabytes past the datagram (found by fuzzing:
/// Fuzz/Sources/FuzzNetlink). Every reader of netlink answers walks with this instead.
public enum NetlinkMessages {
    /// Whether a whole message starts at `message`, with `remaining` bytes left in the
    /// datagram: a header, and a length that covers it and fits what is left.
    public static func fits(_ message: UnsafeRawPointer, remaining: Int) -> Bool {
        guard remaining >= 16 else { return false }
        let length = Int(message.loadUnaligned(as: UInt32.self))
        return length >= 16 && length <= remaining
    }

    /// The errno of an NLMSG_ERROR, which carries it negated. Negating Int32.min, which
    /// has no positive, trapped (found by Fuzz/Sources/FuzzNetlink): it clamps to Int32.max.
    public static func errno(acked error: Int32) -> Int32 {
        Int32(clamping: -Int64(error))
    }

    /// The bytes from `message` to the next message (its length, aligned to 4), at most
    /// what remains.
    public static func advance(_ message: UnsafeRawPointer, remaining: Int) -> Int {
        min((Int(message.loadUnaligned(as: UInt32.self)) + 3) & ~3, remaining)
    }
}
