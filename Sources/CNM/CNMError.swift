import Netlink

/// What went wrong in a CNM operation, as one line a user can act on.
public struct CNMError: Error, CustomStringConvertible, Sendable {
    public var description: String

    public init(_ description: String) { self.description = description }

    /// A kernel failure in the middle of an operation on `subject` (`network "web"`).
    public static func kernel(_ subject: String, _ error: any Error) -> CNMError {
        CNMError("\(subject): \(error)")
    }
}
