// Placeholder until the versions work lands: replaced by the real ordering.
enum RPMVersion {
    static func compare(_ a: String, _ b: String) -> Int? { a == b ? 0 : (a < b ? -1 : 1) }
}
