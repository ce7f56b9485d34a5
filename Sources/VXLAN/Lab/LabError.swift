/// What went wrong with a lab, in one line a user can act on:
///
///     lab.yaml:7: host "h3": segment "seg9" is not defined (expected one of seg1, seg2)
///     lab "demo": host h1: netctl network create exited 1: subnet 198.18.100.0/24 overlaps …
public struct LabError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }

    /// A mistake in a topology file, at a line of it.
    static func file(_ file: String, line: Int?, _ message: String) -> LabError {
        LabError(line.map { "\(file):\($0): \(message)" } ?? "\(file): \(message)")
    }
}
