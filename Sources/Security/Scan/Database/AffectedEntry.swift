/// One event of an OSV range: the version where the package's status changes.
struct RangeEvent: Hashable, Sendable {
    enum Kind: UInt8, Sendable {
        case introduced, fixed, lastAffected, limit

        init?(osv key: String) {
            switch key {
            case "introduced": self = .introduced
            case "fixed": self = .fixed
            case "last_affected": self = .lastAffected
            case "limit": self = .limit
            default: return nil
            }
        }

        var osv: String {
            switch self {
            case .introduced: "introduced"
            case .fixed: "fixed"
            case .lastAffected: "last_affected"
            case .limit: "limit"
            }
        }
    }

    var kind: Kind
    var version: String
}

/// An ECOSYSTEM range (ordered by the ecosystem's scheme) or a SEMVER one; GIT ranges need
/// the repository's commit graph and are not kept.
struct VersionRange: Hashable, Sendable {
    var semver: Bool
    var events: [RangeEvent]
}

/// What matching needs of one `affected[]` entry: its explicit versions, its ranges, and
/// the severity it has of its own (`affected[].severity`, an ecosystem's urgency) when it
/// has one. Stored as one compact blob per entry (`encoded`), read back without SQLite
/// doing more than handing over the bytes.
struct AffectedEntry: Hashable, Sendable {
    var versions: [String]
    var ranges: [VersionRange]
    /// nil: the advisory's severity applies.
    var severity: Severity?
    var score: Double?
    var vector: String?

    // The blob: a format byte, the severity byte (0xff: none), the score in tenths as two
    // bytes (0xffff: none), the vector, the versions, then each range's type and events;
    // strings and counts as LEB128 lengths. Its own format byte lets a later netctl refuse
    // (or convert) a database written by an earlier one.
    static let format: UInt8 = 1

    var encoded: [UInt8] {
        var bytes: [UInt8] = [Self.format, severity.map { UInt8($0.rawValue) } ?? 0xff]
        let tenths = score.map { UInt16(($0 * 10).rounded()) } ?? 0xffff
        bytes.append(UInt8(tenths >> 8))
        bytes.append(UInt8(tenths & 0xff))
        Self.append(vector ?? "", to: &bytes)
        Self.append(count: versions.count, to: &bytes)
        for version in versions { Self.append(version, to: &bytes) }
        Self.append(count: ranges.count, to: &bytes)
        for range in ranges {
            bytes.append(range.semver ? 1 : 0)
            Self.append(count: range.events.count, to: &bytes)
            for event in range.events {
                bytes.append(event.kind.rawValue)
                Self.append(event.version, to: &bytes)
            }
        }
        return bytes
    }

    private static func append(count: Int, to bytes: inout [UInt8]) {
        var value = UInt(count)
        while value >= 0x80 {
            bytes.append(UInt8(value & 0x7f) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    private static func append(_ text: String, to bytes: inout [UInt8]) {
        append(count: text.utf8.count, to: &bytes)
        bytes.append(contentsOf: text.utf8)
    }

    init(versions: [String], ranges: [VersionRange], severity: Severity? = nil, score: Double? = nil, vector: String? = nil) {
        self.versions = versions
        self.ranges = ranges
        self.severity = severity
        self.score = score
        self.vector = vector
    }

    /// Reads a blob `encoded` wrote; nil when it is not one (a damaged database).
    init?(decoding bytes: UnsafeRawBufferPointer) {
        var reader = Reader(bytes: bytes)
        guard reader.byte() == Self.format, let severityByte = reader.byte(),
              let high = reader.byte(), let low = reader.byte(), let vector = reader.string() else { return nil }
        if severityByte != 0xff {
            guard let severity = Severity(rawValue: Int(severityByte)) else { return nil }
            self.severity = severity
        }
        let tenths = UInt16(high) << 8 | UInt16(low)
        score = tenths == 0xffff ? nil : Double(tenths) / 10
        self.vector = vector.isEmpty ? nil : vector
        guard let versionCount = reader.count() else { return nil }
        versions = []
        versions.reserveCapacity(versionCount)
        for _ in 0..<versionCount {
            guard let version = reader.string() else { return nil }
            versions.append(version)
        }
        guard let rangeCount = reader.count() else { return nil }
        ranges = []
        ranges.reserveCapacity(rangeCount)
        for _ in 0..<rangeCount {
            guard let type = reader.byte(), type <= 1, let eventCount = reader.count() else { return nil }
            var events: [RangeEvent] = []
            events.reserveCapacity(eventCount)
            for _ in 0..<eventCount {
                guard let kindByte = reader.byte(), let kind = RangeEvent.Kind(rawValue: kindByte),
                      let version = reader.string() else { return nil }
                events.append(RangeEvent(kind: kind, version: version))
            }
            ranges.append(VersionRange(semver: type == 1, events: events))
        }
        guard reader.atEnd else { return nil }
    }

    private struct Reader {
        let bytes: UnsafeRawBufferPointer
        var offset = 0

        var atEnd: Bool { offset == bytes.count }

        mutating func byte() -> UInt8? {
            guard offset < bytes.count else { return nil }
            defer { offset += 1 }
            return bytes[offset]
        }

        mutating func count() -> Int? {
            var value = 0
            var shift = 0
            while let byte = byte() {
                value |= Int(byte & 0x7f) << shift
                if byte & 0x80 == 0 { return value <= bytes.count ? value : nil }
                shift += 7
                if shift > 28 { return nil }
            }
            return nil
        }

        mutating func string() -> String? {
            guard let count = count(), count <= bytes.count - offset else { return nil }
            defer { offset += count }
            return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + count]), as: UTF8.self)
        }
    }
}
