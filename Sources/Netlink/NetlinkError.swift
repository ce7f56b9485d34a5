import CNetlink

/// A failed kernel operation: what was asked, of which object, the errno and the text the
/// kernel attached to its answer (netlink extended ack), if any.
///
///     link add nc-br-1a2b3c4d5: File exists
///     route add default via 198.18.0.1: Network is unreachable (Nexthop has invalid gateway)
public struct NetlinkError: Error, CustomStringConvertible, Sendable, Equatable {
    public var operation: String
    public var object: String
    public var errno: Int32
    public var kernelMessage: String?

    public init(operation: String, object: String, errno: Int32, kernelMessage: String? = nil) {
        self.operation = operation
        self.object = object
        self.errno = errno
        self.kernelMessage = kernelMessage
    }

    public var description: String {
        var text = object.isEmpty ? operation : "\(operation) \(object)"
        text += ": " + String(cString: strerror(errno))
        if let kernelMessage, !kernelMessage.isEmpty { text += " (\(kernelMessage))" }
        return text
    }

    /// Shorthand for a failed system call outside netlink (mount, setns, open...).
    static func system(_ operation: String, _ object: String, errno: Int32 = nc_errno()) -> NetlinkError {
        NetlinkError(operation: operation, object: object, errno: errno)
    }
}
