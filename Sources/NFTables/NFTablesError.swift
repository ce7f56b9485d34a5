import Glibc

/// An nf_tables request the kernel refused, or a socket that failed: which operation, on
/// which object, and the errno with its text, as one line.
public struct NFTablesError: Error, CustomStringConvertible, Sendable {
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
        let reason = String(cString: strerror(errno))
        let detail = kernelMessage.map { " (\($0))" } ?? ""
        return "nftables: \(operation) \(object): \(reason)\(detail)"
    }

    static func system(_ operation: String, _ object: String) -> NFTablesError {
        NFTablesError(operation: operation, object: object, errno: Glibc.errno)
    }
}
