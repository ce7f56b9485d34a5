import Glibc

/// Random 256-bit identifiers as 64 hex digits, as Docker's network and endpoint ids.
public enum Identifier {
    public static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<4).map { _ in
            let hex = String(generator.next() as UInt64, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }
}

/// RFC 3339 with nanoseconds, in UTC, as Docker writes `Created`.
public enum Timestamp {
    public static func now() -> String {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        var parts = tm()
        var seconds = spec.tv_sec
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        let nanos = String(spec.tv_nsec)
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))."
            + String(repeating: "0", count: 9 - nanos.count) + nanos + "Z"
    }
}

/// How a user names one of many records: by a name, the full id, or a prefix of the id
/// that only one of them has — as Docker finds networks, containers and images.
public enum Reference {
    public enum Failure: Error, Sendable {
        case notFound
        case ambiguous(matches: Int)

        /// `network "x" not found`, `container id prefix "ab" is ambiguous: 2 containers match`.
        public func message(kind: String, reference: String) -> String {
            switch self {
            case .notFound: "\(kind) \"\(reference)\" not found"
            case .ambiguous(let matches): "\(kind) id prefix \"\(reference)\" is ambiguous: \(matches) \(kind)s match"
            }
        }
    }

    /// The item whose name is `name`, or whose id is or starts with `idPrefix`.
    public static func resolve<T>(name: String?, idPrefix: String, among items: [T],
                                  names: (T) -> [String], id: (T) -> String) -> Result<T, Failure> {
        if let exact = items.first(where: { item in name.map { names(item).contains($0) } == true || id(item) == idPrefix }) {
            return .success(exact)
        }
        let matches = idPrefix.isEmpty ? [] : items.filter { id($0).hasPrefix(idPrefix) }
        switch matches.count {
        case 1: return .success(matches[0])
        case 0: return .failure(.notFound)
        default: return .failure(.ambiguous(matches: matches.count))
        }
    }
}
